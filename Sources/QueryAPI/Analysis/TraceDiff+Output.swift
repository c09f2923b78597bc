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

    static func statusName(_ code: Int) -> StaticString {
        switch code {
        case 1: "STATUS_CODE_OK"
        case 2: "STATUS_CODE_ERROR"
        default: "STATUS_CODE_UNSET"
        }
    }
}
