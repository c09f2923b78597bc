import CollectorCore
import Foundation
import OTLP

/// The diff as the API and `otelsink diff --json` give it, and as the terminal prints it.
extension TraceDiff {
    /// The diff as JSON: `{"a": {"traceId", "durationNanos"}, "b": {…}, "changed": […], "onlyInA": […], "onlyInB": […]}`.
    /// A listed span has its `path` (`[{"service", "operation", "index"}]`, at most the 16 innermost steps) and
    /// `depth`; each side is `{"spanId", "durationNanos", "criticalPathNanos", "statusCode", "statusMessage"}`; a
    /// change also has `deltaNanos` (B − A) and `attributes` (`[{"key", "a", "b"}]`, values as text, null when
    /// absent).
    public func json() -> [UInt8] {
        var writer = JSONWriter(capacity: 256 + 600 * (changed.count + onlyInA.count + onlyInB.count))
        write(into: &writer)
        return writer.bytes
    }

    /// Writes ``json()`` as one value of `w`.
    func write(into w: inout JSONWriter) {
        w.beginObject()
        w.key("a")
        Self.write(trace: traceA, durationA, into: &w)
        w.key("b")
        Self.write(trace: traceB, durationB, into: &w)
        w.key("changed")
        w.beginArray()
        for c in changed {
            w.beginObject()
            w.key("path")
            Self.write(c.path, into: &w)
            w.key("depth")
            w.int(Int64(c.depth))
            w.key("a")
            Self.write(c.a, into: &w)
            w.key("b")
            Self.write(c.b, into: &w)
            w.key("deltaNanos")
            w.int(c.deltaNanos)
            w.key("attributes")
            w.beginArray()
            for a in c.attributes {
                w.beginObject()
                w.key("key")
                w.string(a.key)
                w.key("a")
                Self.write(a.a, into: &w)
                w.key("b")
                Self.write(a.b, into: &w)
                w.endObject()
            }
            w.endArray()
            w.endObject()
        }
        w.endArray()
        w.key("onlyInA")
        Self.write(onlyInA, into: &w)
        w.key("onlyInB")
        Self.write(onlyInB, into: &w)
        w.endObject()
    }

    // The parts, as static functions of the writer (closures capturing it would check exclusive access at run time).

    private static func write(trace id: Data, _ nanos: UInt64, into w: inout JSONWriter) {
        w.beginObject()
        w.key("traceId")
        w.hex(id)
        w.key("durationNanos")
        w.int(Int64(clamping: nanos))
        w.endObject()
    }

    private static func write(_ path: [Step], into w: inout JSONWriter) {
        w.beginArray()
        for step in path {
            w.beginObject()
            w.key("service")
            w.string(step.service)
            w.key("operation")
            w.string(step.operation)
            w.key("index")
            w.int(Int64(step.index))
            w.endObject()
        }
        w.endArray()
    }

    private static func write(_ s: Side, into w: inout JSONWriter) {
        w.beginObject()
        w.key("spanId")
        w.hex(s.spanID)
        w.key("durationNanos")
        w.int(Int64(clamping: s.durationNanos))
        w.key("criticalPathNanos")
        w.int(Int64(clamping: s.criticalNanos))
        w.key("statusCode")
        w.string(literal: statusName(s.statusCode))
        w.key("statusMessage")
        w.string(s.statusMessage)
        w.endObject()
    }

    private static func write(_ v: AnyValue?, into w: inout JSONWriter) {
        if let v { w.string(AttributeValueText.asString(v)) } else { w.null() }
    }

    private static func write(_ list: [Only], into w: inout JSONWriter) {
        w.beginArray()
        for o in list {
            w.beginObject()
            w.key("path")
            write(o.path, into: &w)
            w.key("depth")
            w.int(Int64(o.depth))
            w.key("span")
            write(o.side, into: &w)
            w.endObject()
        }
        w.endArray()
    }

    /// The diff for a terminal: a header, then the changed spans (largest difference first: the span's path, then
    /// its durations, status and attribute changes), then the spans only in A and only in B; at most `limit` of
    /// each. `◆` marks time on the critical path of either trace. Every text from the traces goes through
    /// ``TerminalSafeText``; every line fits `width` cells (120 when nil).
    public func text(limit: Int = 20, width: Int? = nil, style: TerminalStyle = TerminalStyle(enabled: false)) -> String {
        let cells = width ?? 120
        let d = TraceWaterfall.duration
        let delta = Int64(clamping: durationB) &- Int64(clamping: durationA)
        var out = "A \(CriticalPath.hex(traceA)) \(d(durationA))\nB \(CriticalPath.hex(traceB)) \(d(durationB)) (\(Self.signed(delta)))\n"
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
        func detail(_ text: String) -> String { "      " + TraceWaterfall.truncate(text, cells - 6) + "\n" }
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

    static func statusName(_ code: Int) -> StaticString {
        switch code {
        case 1: "STATUS_CODE_OK"
        case 2: "STATUS_CODE_ERROR"
        default: "STATUS_CODE_UNSET"
        }
    }

    private static func status(_ s: Side) -> String {
        let name = ["UNSET", "OK", "ERROR"][min(max(s.statusCode, 0), 2)]
        return s.statusMessage.isEmpty ? name : name + " " + TerminalSafeText.escape(s.statusMessage).debugDescription
    }

    private static func valueText(_ v: AnyValue?) -> String {
        guard let v else { return "(absent)" }
        return TraceWaterfall.truncate(TerminalSafeText.escape(AttributeValueText.asString(v)), 60)
    }

    private static func signed(_ nanos: Int64) -> String {
        (nanos < 0 ? "−" : "+") + TraceWaterfall.duration(nanos.magnitude)
    }
}
