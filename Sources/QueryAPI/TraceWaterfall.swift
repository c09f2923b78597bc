import CollectorCore
import Foundation
import OTLP
import SQLiteStore

/// Renders a trace as a terminal waterfall: one line per span, indented under its parent, with service and
/// operation, a bar placed on the trace's timeline, the duration and an error mark; optionally each span's
/// attributes and events below it. Colours (ANSI) only when asked for.
///
/// Span data is untrusted: every text from the trace is printed through ``TerminalSafeText``, and the layout uses
/// no arithmetic that any timestamps (reversed, zero, `UInt64.max`) can make trap.
public struct TraceWaterfall: Sendable {
    public var color = false
    public var attributes = false
    /// Columns of the timeline bar.
    public var barWidth = 40
    /// The widest the label column gets; longer labels are cut with `…`.
    public var maxLabelWidth = 60
    /// The terminal's width in cells: when set, the label column and the bar share it (labels get at most half,
    /// shortened in the middle), error messages are cut to fit and the header wraps; `barWidth` and
    /// `maxLabelWidth` are then ignored.
    public var width: Int?
    /// Log records of the trace, shown under their span (those of no stored span after the waterfall).
    public var logs: [FlatLogRecord] = []
    /// When set, spans on it are marked `◆` with their time on it, and its summary follows the waterfall.
    public var criticalPath: CriticalPath?
    /// Spans flagged as unusually slow at ingest, by span ID: marked `▲` with how many times their operation's
    /// baseline p99 they took.
    public var anomalies: [Data: SpanAnomaly] = [:]
    /// Spans deeper than this (the roots are depth 0) are not shown, and counted in a note.
    public var maxDepth: Int?
    /// At most this many rows; the rest are counted in a note.
    public var maxSpans: Int?
    /// Runs of 3 or more consecutive sibling spans with the same service and name and no children of their own are
    /// shown as one row (`× 240 GET /item`); nil: when the trace has more than ``foldThreshold`` spans.
    public var foldSimilarSiblings: Bool?
    public static let foldThreshold = 300

    public init(color: Bool = false, attributes: Bool = false) {
        self.color = color
        self.attributes = attributes
    }

    struct Item {
        var order: Int
        var span: Span
        var service: String
    }

    public func render(_ trace: ExportTraceRequest) -> String {
        var items: [Item] = []
        for rs in trace.resourceSpans {
            let service = rs.resource.attributes.stringValue("service.name") ?? "unknown_service"
            for ss in rs.scopeSpans { for s in ss.spans { items.append(Item(order: 0, span: s, service: service)) } }
        }
        items.sort { a, b in
            a.span.startTimeUnixNano != b.span.startTimeUnixNano
                ? a.span.startTimeUnixNano < b.span.startTimeUnixNano
                : a.span.spanID.lexicographicallyPrecedes(b.span.spanID)
        }
        for i in items.indices { items[i].order = i }
        let summary = TraceSummary(trace)
        let traceStart = summary.startNanos
        let traceDuration = max(summary.durationNanos, 1)

        // The tree: roots are spans without a parent, or whose parent is not stored.
        let ids = Set(items.map(\.span.spanID))
        var children: [Data: [Item]] = [:]
        var roots: [Item] = []
        for item in items {
            if item.span.parentSpanID.isEmpty || !ids.contains(item.span.parentSpanID) || item.span.parentSpanID == item.span.spanID {
                roots.append(item)
            } else {
                children[item.span.parentSpanID, default: []].append(item)
            }
        }
        // A row is a span, or a run of similar sibling spans folded into one (`run` holds them all).
        var rows: [(depth: Int, item: Item, run: [Item])] = []
        var visited = Set<Int>()  // each span once, even when duplicate IDs make parent links cyclic
        var hidden = 0
        var foldedRuns = 0
        let fold = foldSimilarSiblings ?? (items.count > Self.foldThreshold)
        func isLeaf(_ i: Item) -> Bool { (children[i.span.spanID] ?? []).isEmpty }
        func visible(_ depth: Int) -> Bool { depth <= (maxDepth ?? .max) && rows.count < (maxSpans ?? .max) }
        // Depth first with an explicit stack (a chain of spans as long as the trace must not overflow the call
        // stack); children are pushed in reverse so they come out in start order.
        var pending: [(depth: Int, item: Item, run: [Item])] = roots.reversed().map { (0, $0, []) }
        while let (depth, item, run) = pending.popLast() {
            if !run.isEmpty {  // a folded run: its spans were marked visited when it was made
                if visible(depth) {
                    rows.append((depth, item, run))
                    foldedRuns += 1
                } else {
                    hidden += run.count
                }
                continue
            }
            guard visited.insert(item.order).inserted else { continue }
            if visible(depth) { rows.append((depth, item, [])) } else { hidden += 1 }
            let kids = (children[item.span.spanID] ?? []).filter { !visited.contains($0.order) }
            var groups: [[Item]] = []
            for c in kids {
                if fold, let last = groups.last?.last, isLeaf(c), isLeaf(last), c.service == last.service, c.span.name == last.span.name {
                    groups[groups.count - 1].append(c)
                } else {
                    groups.append([c])
                }
            }
            for g in groups.reversed() {
                if g.count >= 3 {
                    for c in g { visited.insert(c.order) }
                    pending.append((min(depth + 1, 40), g[0], g))
                } else {
                    for c in g.reversed() { pending.append((min(depth + 1, 40), c, [])) }
                }
            }
        }
        for item in items where !visited.contains(item.order) {
            if visible(0) { rows.append((0, item, [])) } else { hidden += 1 }
        }

        let services = Set(items.map(\.service))
        var palette: [String: String] = [:]
        let colors = ["\u{1B}[36m", "\u{1B}[35m", "\u{1B}[34m", "\u{1B}[33m", "\u{1B}[32m", "\u{1B}[96m", "\u{1B}[95m", "\u{1B}[94m"]
        for (i, s) in services.sorted().enumerated() { palette[s] = colors[i % colors.count] }
        let reset = "\u{1B}[0m"
        let red = "\u{1B}[31m"
        let bold = "\u{1B}[1m"
        let dim = "\u{1B}[2m"

        var out = ""
        let errorText = summary.errorCount == 1 ? "1 error" : "\(summary.errorCount) errors"
        let parts =
            [
                "Trace \(JaegerTrace.idHex(summary.traceID))", "\(summary.spanCount) span\(summary.spanCount == 1 ? "" : "s")",
                "\(services.count) service\(services.count == 1 ? "" : "s")", Self.duration(summary.durationNanos),
            ]
            + (summary.errorCount > 0 ? [errorText] : []) + ["started \(Self.timestamp(summary.startNanos))"]
        // One line, or as many as the width needs, broken between parts.
        var headerLines = [""]
        for part in parts {
            let last = headerLines[headerLines.count - 1]
            if last.isEmpty {
                headerLines[headerLines.count - 1] = part
            } else if let width, TerminalCells.width(last) + 3 + TerminalCells.width(part) > width {
                headerLines.append(part)
            } else {
                headerLines[headerLines.count - 1] = last + " · " + part
            }
        }
        for line in headerLines { out += (color ? bold + line + reset : line) + "\n" }

        // The layout: label │bar│ duration (9 cells), then marks. Widths count terminal cells (CJK and emoji take
        // two), so the bars line up whatever the names.
        let fixed = 13
        let names = rows.map { ($0.run.isEmpty ? "" : "× \($0.run.count) ") + Self.safe($0.item.service) + ": " + Self.safe($0.item.span.name) }
        let longest = zip(rows, names).map { 2 * $0.0.depth + TerminalCells.width($0.1) }.max() ?? 0
        let labelCells: Int
        let columns: Int
        if let width {
            // Room for the marks after the duration: `◆ time` on the critical path, `ERROR` and (what fits of)
            // the message. The label gets at most half of the rest, the bar what is left (at least 8 cells).
            let pathMark = (criticalPath != nil ? 12 : 0) + (anomalies.isEmpty ? 0 : 9)
            let longestMessage =
                rows.map { $0.item.span.status.code == .error ? TerminalCells.width(Self.safe($0.item.span.status.message)) : -1 }.max() ?? -1
            let markMin = pathMark + (longestMessage >= 0 ? 7 : 0)
            let markWanted = pathMark + (longestMessage >= 0 ? 7 + min(40, longestMessage + 2) : 0)
            labelCells = min(longest, max(12, (width - fixed - markMin) / 2))
            let reserve = min(markWanted, max(markMin, (width - fixed - labelCells) * 2 / 5))  // the bar keeps 3/5
            columns = max(8, width - fixed - labelCells - reserve)
        } else {
            labelCells = min(longest, maxLabelWidth)
            columns = max(1, barWidth)
        }
        let labels = zip(rows, names).map { row, name in
            let indent = min(2 * row.depth, labelCells / 2)
            return String(repeating: " ", count: indent) + TerminalCells.fit(name, labelCells - indent)
        }
        let labelWidth = labels.map(TerminalCells.width).max() ?? 0
        let bySpan = logsBySpan
        let onPath = criticalPath?.bySpan ?? [:]
        for (row, label) in zip(rows, labels) {
            let s = row.item.span
            // A folded run is drawn from its first start to its last end.
            let first = row.run.isEmpty ? s.startTimeUnixNano : row.run.map(\.span.startTimeUnixNano).min() ?? s.startTimeUnixNano
            let last = row.run.isEmpty ? s.endTimeUnixNano : row.run.map(\.span.endTimeUnixNano).max() ?? s.endTimeUnixNano
            let start = first >= traceStart ? first - traceStart : 0
            let length = last > first ? last - first : 0
            let offset = min(columns - 1, Self.columns(start, of: traceDuration, width: columns, rounded: false))
            let cells = max(1, min(columns - offset, Self.columns(length, of: traceDuration, width: columns, rounded: true)))
            let errors = row.run.isEmpty ? (s.status.code == .error ? 1 : 0) : row.run.filter { $0.span.status.code == .error }.count
            let isError = errors > 0
            let bar =
                String(repeating: " ", count: offset) + String(repeating: "█", count: cells)
                + String(repeating: " ", count: columns - offset - cells)
            let padded = TerminalCells.padded(label, labelWidth)
            let durationText = Self.duration(length)
            let paddedDuration = String(repeating: " ", count: max(0, 9 - durationText.count)) + durationText
            var mark = ""
            let pathTime = row.run.isEmpty ? onPath[s.spanID] : row.run.compactMap { onPath[$0.span.spanID] }.reduce(0, +)
            if let time = pathTime, time > 0 || row.run.isEmpty { mark += "  ◆ " + Self.duration(time) }
            if row.run.isEmpty, let anomaly = anomalies[s.spanID] {
                mark += "  ▲ \(Self.ratio(anomaly.ratio))"
            } else if !row.run.isEmpty {
                let slow = row.run.filter { anomalies[$0.span.spanID] != nil }.count
                if slow > 0 { mark += "  ▲ \(slow)" }
            }
            if !row.run.isEmpty, isError {
                mark += "  \(errors) ERROR\(errors == 1 ? "" : "S")"
            } else if isError {
                // The message gets what is left of the width (nothing when under 3 cells are), or 80 cells.
                let room = width.map { $0 - labelWidth - fixed - columns - TerminalCells.width(mark) - 9 } ?? 80
                mark += "  ERROR" + (s.status.message.isEmpty || room < 3 ? "" : ": " + Self.truncate(Self.safe(s.status.message), room))
            }
            if color {
                let barColor = isError ? red : (palette[row.item.service] ?? "")
                out += "\(padded) │\(barColor)\(bar)\(reset)│ \(paddedDuration)\(mark.isEmpty ? "" : (isError ? red : bold) + mark + reset)\n"
            } else {
                out += "\(padded) │\(bar)│ \(paddedDuration)\(mark)\n"
            }
            if attributes, row.run.isEmpty {
                let indent = String(repeating: "  ", count: row.depth + 2)
                var details: [String] = []
                details.append("span \(JaegerTrace.idHex(s.spanID)) kind=\(SpanKindName.name(s.kind.rawValue) ?? "unspecified")")
                for kv in s.attributes { details.append(Self.safe(kv)) }
                for e in s.events {
                    let at = e.timeUnixNano >= s.startTimeUnixNano ? e.timeUnixNano - s.startTimeUnixNano : 0
                    let attrs = e.attributes.map(Self.safe).joined(separator: " ")
                    details.append("event +\(Self.duration(at)) \(Self.safe(e.name))" + (attrs.isEmpty ? "" : " " + attrs))
                }
                let room = width.map { max(20, $0 - TerminalCells.width(indent)) } ?? 200
                for d in details { out += (color ? dim : "") + indent + Self.truncate(d, room) + (color ? reset : "") + "\n" }
            }
            for record in row.run.isEmpty ? bySpan[s.spanID] ?? [] : row.run.flatMap({ bySpan[$0.span.spanID] ?? [] }) {
                out += String(repeating: "  ", count: row.depth + 2) + "▸ " + logFormat.render(record, showService: false) + "\n"
            }
        }
        if foldedRuns > 0 || hidden > 0 {
            var notes: [String] = []
            if foldedRuns > 0 {
                notes.append("\(foldedRuns) run\(foldedRuns == 1 ? "" : "s") of similar sibling spans folded (× N)")
            }
            if hidden > 0 {
                let limits = [maxDepth.map { "--depth \($0)" }, maxSpans.map { "--max-spans \($0)" }].compactMap { $0 }.joined(separator: ", ")
                notes.append("\(hidden) span\(hidden == 1 ? "" : "s") not shown (\(limits))")
            }
            out += (color ? dim : "") + notes.joined(separator: "; ") + "." + (color ? reset : "") + "\n"
        }
        let unplaced = logs.filter { $0.record.spanID.isEmpty || !ids.contains($0.record.spanID) }
        if !unplaced.isEmpty {
            out += (color ? bold : "") + "Logs of the trace outside its stored spans:" + (color ? reset : "") + "\n"
            for record in unplaced { out += "  ▸ " + logFormat.render(record) + "\n" }
        }
        if !anomalies.isEmpty {
            // On a folded row `▲ N` counts the run's flagged spans.
            out += (color ? bold : "") + "▲ unusually slow: N× the p99 of its operation's latency baseline." + (color ? reset : "") + "\n"
        }
        if let criticalPath {
            out += (color ? bold : "") + "◆ on the critical path, with the span's time on it." + (color ? reset : "") + "\n"
            out += criticalPath.summaryText(width: width)
        }
        return out
    }

    private var logFormat: LogLineFormat { LogLineFormat(color: color) }

    /// `6.1×`, `12×`: one decimal below 10.
    public static func ratio(_ r: Double) -> String {
        r < 10 ? "\((r * 10).rounded(.down) / 10)×" : "\(Int(min(r, 1e9)))×"
    }

    private var logsBySpan: [Data: [FlatLogRecord]] {
        var by: [Data: [FlatLogRecord]] = [:]
        for r in logs where !r.record.spanID.isEmpty { by[r.record.spanID, default: []].append(r) }
        return by
    }

    /// Three significant digits, trailing zeros dropped, in the largest unit below the value: `850ns`, `12.3µs`,
    /// `250µs`, `1.5ms`, `80ms`, `1.23s`; from a minute on `2m3.4s`, from an hour as Go prints it, `3h0m1s`.
    public static func duration(_ nanos: UInt64) -> String {
        if nanos < 1_000 { return "\(nanos)ns" }
        for (unit, scale) in [("µs", 1e3), ("ms", 1e6), ("s", 1e9)] {
            let value = Double(nanos) / scale
            // What rounds up to 1000 belongs to the next unit ("1ms", not "1000µs"); from 59.95 s on, minutes.
            if unit == "s" ? nanos < 59_950_000_000 : value < 999.5 { return significant(value) + unit }
        }
        let tenths = (nanos / 50_000_000 + 1) / 2  // whole tenths of a second, rounded half up
        if tenths < 36_000 {
            let rest = tenths % 600
            return "\(tenths / 600)m\(rest / 10)" + (rest % 10 == 0 ? "" : ".\(rest % 10)") + "s"
        }
        // Hours as Go prints them: 3h0m1s.
        let seconds = nanos / 1_000_000_000
        return "\(seconds / 3600)h\(seconds / 60 % 60)m\(seconds % 60)s"
    }

    /// `v` (1 ≤ v < 1000) with three significant digits, trailing zeros dropped.
    private static func significant(_ v: Double) -> String {
        trimmed(String(format: v < 9.995 ? "%.2f" : v < 99.95 ? "%.1f" : "%.0f", v))
    }

    private static func trimmed(_ text: String) -> String {
        guard text.contains(".") else { return text }
        var t = Substring(text)
        while t.hasSuffix("0") { t = t.dropLast() }
        if t.hasSuffix(".") { t = t.dropLast() }
        return String(t)
    }

    /// UTC, millisecond precision: `2024-05-01T12:00:00.123Z`.
    public static func timestamp(_ nanos: UInt64) -> String {
        let seconds = Int(nanos / 1_000_000_000)
        let millis = Int(nanos / 1_000_000 % 1000)
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), millis)
    }

    /// `s` in at most `width` terminal cells, cut at the end with `…`.
    static func truncate(_ s: String, _ width: Int) -> String { TerminalCells.prefix(s, width) }

    /// Untrusted text as printed: see ``TerminalSafeText``.
    static func safe(_ text: String) -> String { TerminalSafeText.escape(text) }

    /// `key=value`, both escaped; arrays and key-value lists stay readable JSON.
    static func safe(_ attribute: KeyValue) -> String {
        let text = AttributeText.text(attribute.value)
        let value: String =
            switch attribute.value.value {
            case .arrayValue?, .kvlistValue?: TerminalSafeText.escapeJSON(text)
            default: safe(text)
            }
        return safe(attribute.key) + "=" + value
    }

    /// How many of `width` columns `nanos` covers on a timeline `total` long: `nanos * width / total`, rounded
    /// down or to nearest, at most `width`. Exact in 128 bits, so no timestamps can overflow it.
    static func columns(_ nanos: UInt64, of total: UInt64, width: Int, rounded: Bool) -> Int {
        guard total > 0, width > 0 else { return 0 }
        guard nanos < total else { return width }
        // nanos < total, so the quotient is below width and the division cannot overflow.
        let (quotient, remainder) = total.dividingFullWidth(nanos.multipliedFullWidth(by: UInt64(width)))
        let roundsUp = rounded && remainder >= total - remainder
        return Int(clamping: roundsUp ? quotient &+ 1 : quotient)
    }
}

/// The CLI's search result table: trace ID, start, root service and operation, duration, spans, errors. The root's
/// service and operation are escaped (``TerminalSafeText``) before the columns are measured; ``json(_:)`` keeps
/// them exact.
public enum TraceTable {
    /// The table; with `width`, the ROOT column is shortened so that rows fit it. `style`: the header bold, error
    /// counts red.
    public static func render(_ summaries: [TraceSummary], width: Int? = nil, style: TerminalStyle = TerminalStyle(enabled: false)) -> String {
        var rows = [["TRACE ID", "START (UTC)", "ROOT", "DURATION", "SPANS", "ERRORS"]]
        for s in summaries {
            rows.append([
                JaegerTrace.idHex(s.traceID), TraceWaterfall.timestamp(s.startNanos),
                TerminalCells.fit(TraceWaterfall.safe(s.rootService) + ": " + TraceWaterfall.safe(s.rootName), 60),
                TraceWaterfall.duration(s.durationNanos),
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
    public static func json(_ summaries: [TraceSummary]) -> JSON {
        .array(
            summaries.map { s in
                .object([
                    ("traceID", .string(JaegerTrace.idHex(s.traceID))),
                    ("startTime", .string(TraceWaterfall.timestamp(s.startNanos))),
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
