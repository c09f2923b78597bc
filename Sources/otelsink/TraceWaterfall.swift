import CollectorCore
import Foundation
import OTLP
import QueryAPI
import SQLiteStore

/// Renders a trace as a terminal waterfall: one line per span, indented under its parent, with service and
/// operation, a bar placed on the trace's timeline, the duration and an error mark; optionally each span's
/// attributes and events below it. Colours (ANSI) only when asked for.
///
/// Span data is untrusted: every text from the trace is printed through ``TerminalSafeText``, and the layout uses
/// no arithmetic that any timestamps (reversed, zero, `UInt64.max`) can make trap.
struct TraceWaterfall: Sendable {
    var color = false
    var attributes = false
    /// Columns of the timeline bar.
    var barWidth = 40
    /// The widest the label column gets; longer labels are cut with `…`.
    var maxLabelWidth = 60
    /// The terminal's width in cells: when set, the label column and the bar share it (labels get at most half,
    /// shortened in the middle), error messages are cut to fit and the header wraps; `barWidth` and
    /// `maxLabelWidth` are then ignored.
    var width: Int?
    /// Log records of the trace, shown under their span (those of no stored span after the waterfall).
    var logs: [FlatLogRecord] = []
    /// When set, spans on it are marked `◆` with their time on it, and its summary follows the waterfall.
    var criticalPath: CriticalPath?
    /// Spans flagged as unusually slow at ingest, by span ID: marked `▲` with how many times their operation's
    /// baseline p99 they took.
    var anomalies: [Data: SpanAnomaly] = [:]
    /// Spans deeper than this (the roots are depth 0) are not shown, and counted in a note.
    var maxDepth: Int?
    /// At most this many rows; the rest are counted in a note.
    var maxSpans: Int?
    /// Runs of 3 or more consecutive sibling spans with the same service and name and no children of their own are
    /// shown as one row (`× 240 GET /item`); nil: when the trace has more than ``foldThreshold`` spans.
    var foldSimilarSiblings: Bool?
    static let foldThreshold = 300

    init(color: Bool = false, attributes: Bool = false) {
        self.color = color
        self.attributes = attributes
    }

    struct Item {
        var order: Int
        var span: Span
        var service: String
    }

    func render(_ trace: ExportTraceRequest) -> String {
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
                "\(services.count) service\(services.count == 1 ? "" : "s")", ReadableText.duration(summary.durationNanos),
            ]
            + (summary.errorCount > 0 ? [errorText] : []) + ["started \(ReadableText.timestamp(summary.startNanos))"]
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
        let names = rows.map {
            ($0.run.isEmpty ? "" : "× \($0.run.count) ") + TerminalSafeText.escape($0.item.service) + ": "
                + TerminalSafeText.escape($0.item.span.name)
        }
        let longest = zip(rows, names).map { 2 * $0.0.depth + TerminalCells.width($0.1) }.max() ?? 0
        let labelCells: Int
        let columns: Int
        if let width {
            // Room for the marks after the duration: `◆ time` on the critical path, `ERROR` and (what fits of)
            // the message. The label gets at most half of the rest, the bar what is left (at least 8 cells).
            let pathMark = (criticalPath != nil ? 12 : 0) + (anomalies.isEmpty ? 0 : 9)
            let longestMessage =
                rows.map { $0.item.span.status.code == .error ? TerminalCells.width(TerminalSafeText.escape($0.item.span.status.message)) : -1 }.max()
                ?? -1
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
            let durationText = ReadableText.duration(length)
            let paddedDuration = String(repeating: " ", count: max(0, 9 - durationText.count)) + durationText
            var mark = ""
            let pathTime = row.run.isEmpty ? onPath[s.spanID] : row.run.compactMap { onPath[$0.span.spanID] }.reduce(0, +)
            if let time = pathTime, time > 0 || row.run.isEmpty { mark += "  ◆ " + ReadableText.duration(time) }
            if row.run.isEmpty, let anomaly = anomalies[s.spanID] {
                mark += "  ▲ \(ReadableText.ratio(anomaly.ratio))"
            } else if !row.run.isEmpty {
                let slow = row.run.filter { anomalies[$0.span.spanID] != nil }.count
                if slow > 0 { mark += "  ▲ \(slow)" }
            }
            if !row.run.isEmpty, isError {
                mark += "  \(errors) ERROR\(errors == 1 ? "" : "S")"
            } else if isError {
                // The message gets what is left of the width (nothing when under 3 cells are), or 80 cells.
                let room = width.map { $0 - labelWidth - fixed - columns - TerminalCells.width(mark) - 9 } ?? 80
                mark +=
                    "  ERROR"
                    + (s.status.message.isEmpty || room < 3 ? "" : ": " + TerminalCells.prefix(TerminalSafeText.escape(s.status.message), room))
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
                for kv in s.attributes { details.append(ReadableText.attribute(kv)) }
                for e in s.events {
                    let at = e.timeUnixNano >= s.startTimeUnixNano ? e.timeUnixNano - s.startTimeUnixNano : 0
                    let attrs = e.attributes.map(ReadableText.attribute).joined(separator: " ")
                    details.append("event +\(ReadableText.duration(at)) \(TerminalSafeText.escape(e.name))" + (attrs.isEmpty ? "" : " " + attrs))
                }
                let room = width.map { max(20, $0 - TerminalCells.width(indent)) } ?? 200
                for d in details { out += (color ? dim : "") + indent + TerminalCells.prefix(d, room) + (color ? reset : "") + "\n" }
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

    private var logsBySpan: [Data: [FlatLogRecord]] {
        var by: [Data: [FlatLogRecord]] = [:]
        for r in logs where !r.record.spanID.isEmpty { by[r.record.spanID, default: []].append(r) }
        return by
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
