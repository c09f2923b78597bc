import CollectorCore
import Foundation
import QueryAPI
import SQLiteStore

/// The CLI's search result table: trace ID, start, root service and operation, duration, spans, errors. The root's
/// service and operation are escaped (``TerminalSafeText``) before the columns are measured; ``json(_:)`` keeps
/// them exact.
enum TraceTable {
    /// The table; with `width`, the ROOT column is shortened so that rows fit it. `style`: the header bold, error
    /// counts red.
    static func render(_ summaries: [TraceSummary], width: Int? = nil, style: TerminalStyle = TerminalStyle(enabled: false)) -> String {
        var rows = [["TRACE ID", "START (UTC)", "ROOT", "DURATION", "SPANS", "ERRORS"]]
        for s in summaries {
            rows.append([
                JaegerTrace.idHex(s.traceID), ReadableText.timestamp(s.startNanos),
                TerminalCells.fit(TerminalSafeText.escape(s.rootService) + ": " + TerminalSafeText.escape(s.rootName), 60),
                ReadableText.duration(s.durationNanos),
                String(s.spanCount), String(s.errorCount),
            ])
        }
        var widths = (0..<6).map { c in rows.map { TerminalCells.width($0[c]) }.max() ?? 0 }
        if let width {
            // The ROOT column takes what the others leave (at least 12 cells), shortened in the middle.
            let others = widths.enumerated().filter { $0.offset != 2 }.reduce(0) { $0 + $1.element } + 2 * 5
            widths[2] = min(widths[2], max(12, width - others))
            for r in rows.indices { rows[r][2] = TerminalCells.fit(rows[r][2], widths[2]) }
        }
        let rightAligned: Set<Int> = [3, 4, 5]
        return rows.enumerated().map { r, row in
            let line = row.enumerated().map { c, cell in
                let text = rightAligned.contains(c) ? TerminalCells.leftPadded(cell, widths[c]) : TerminalCells.padded(cell, widths[c])
                return r > 0 && c == 5 && cell != "0" ? style.red(text) : text
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
            return r == 0 ? style.bold(line) : line
        }.joined(separator: "\n") + "\n"
    }

    /// The summaries as JSON (for `search --json`).
    static func json(_ summaries: [TraceSummary]) -> JSON {
        .array(
            summaries.map { s in
                .object([
                    ("traceID", .string(JaegerTrace.idHex(s.traceID))),
                    ("startTime", .string(ReadableText.timestamp(s.startNanos))),
                    ("startTimeUnixNano", .string(String(s.startNanos))),
                    ("durationNanos", .int(Int64(clamping: s.durationNanos))),
                    ("rootService", .string(s.rootService)),
                    ("rootOperation", .string(s.rootName)),
                    ("spanCount", .int(Int64(s.spanCount))),
                    ("errorCount", .int(Int64(s.errorCount))),
                ])
            })
    }
}
