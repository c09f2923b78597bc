import CollectorCore
import Foundation
import OTLP
import QueryAPI

extension TraceDiff {
    /// The diff for a terminal: a header, then the changed spans (largest difference first: the span's path, then
    /// its durations, status and attribute changes), then the spans only in A and only in B; at most `limit` of
    /// each. `◆` marks time on the critical path of either trace. Every text from the traces goes through
    /// ``TerminalSafeText``; every line fits `width` cells (120 when nil).
    func text(limit: Int = 20, width: Int? = nil, style: TerminalStyle = TerminalStyle(enabled: false)) -> String {
        let cells = width ?? 120
        let d = ReadableText.duration
        let delta = Int64(clamping: durationB) &- Int64(clamping: durationA)
        var out = "A \(JaegerTrace.hex(traceA)) \(d(durationA))\nB \(JaegerTrace.hex(traceB)) \(d(durationB)) (\(Self.signed(delta)))\n"
        if isEmpty { return out + style.bold("No differences: every span matched, with the same duration, status and attributes.") + "\n" }
        out += style.bold("\(changed.count) changed, \(onlyInA.count) only in A, \(onlyInB.count) only in B.") + "\n"
        // A span's path on its own line, shortened in the middle (the innermost steps say most); its details under
        // it, each cut to the width.
        func label(_ path: [Step], _ depth: Int, room: Int) -> String {
            let names = path.map {
                TerminalSafeText.escape($0.service) + ": " + TerminalSafeText.escape($0.operation) + ($0.index > 0 ? " #\($0.index + 1)" : "")
            }
            return TerminalCells.fit((depth > path.count ? "… ▸ " : "") + names.joined(separator: " ▸ "), room)
        }
        func detail(_ text: String) -> String { "      " + TerminalCells.prefix(text, cells - 6) + "\n" }
        func section<T>(_ title: String, _ items: [T], _ lines: (T) -> String) {
            guard !items.isEmpty else { return }
            out += "\n" + style.bold(title + ":") + "\n"
            for item in items.prefix(limit) { out += lines(item) }
            if items.count > limit { out += "  … \(items.count - limit) more\n" }
        }
        section("Changed, largest difference first", changed) { c in
            var lines = "  " + label(c.path, c.depth, room: cells - 2) + "\n"
            var timing = d(c.a.durationNanos) + " → " + d(c.b.durationNanos) + " (" + Self.signed(c.deltaNanos) + ")"
            if c.a.criticalNanos > 0 || c.b.criticalNanos > 0 {
                timing += " · ◆ critical path " + d(c.a.criticalNanos) + " → " + d(c.b.criticalNanos)
            }
            lines += detail(timing)
            if c.statusChanged { lines += detail("status " + Self.status(c.a) + " → " + Self.status(c.b)) }
            for a in c.attributes {
                lines += detail(TerminalSafeText.escape(a.key) + ": " + Self.valueText(a.a) + " → " + Self.valueText(a.b))
            }
            return lines
        }
        for (title, items) in [("Only in A, longest first", onlyInA), ("Only in B, longest first", onlyInB)] {
            section(title, items) { o in
                let tail = "  " + d(o.side.durationNanos) + (o.side.criticalNanos > 0 ? " ◆" : "") + (o.side.statusCode == 2 ? " ERROR" : "")
                return "  " + label(o.path, o.depth, room: max(10, cells - 2 - TerminalCells.width(tail))) + tail + "\n"
            }
        }
        return out
    }

    private static func status(_ s: Side) -> String {
        let name = ["UNSET", "OK", "ERROR"][min(max(s.statusCode, 0), 2)]
        return s.statusMessage.isEmpty ? name : name + " " + TerminalSafeText.escape(s.statusMessage).debugDescription
    }

    private static func valueText(_ v: AnyValue?) -> String {
        guard let v else { return "(absent)" }
        return TerminalCells.prefix(TerminalSafeText.escape(AttributeValueText.asString(v)), 60)
    }

    private static func signed(_ nanos: Int64) -> String {
        (nanos < 0 ? "−" : "+") + ReadableText.duration(nanos.magnitude)
    }
}
