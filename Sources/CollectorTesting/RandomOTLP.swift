import Foundation
import OTLP

/// Random OTLP trace data that sets every field, with the values that are hard to get right (text that needs
/// escaping, odd kinds and status codes, non-finite doubles, nested arrays and maps, string-table indexes), for
/// tests that compare two ways of reading or writing the same data. Deterministic for a given generator.
public enum RandomOTLP {
    public static func request(_ g: inout SplitMix64) -> ExportTraceRequest {
        var request = ExportTraceRequest()
        for _ in 0..<g.below(3) {
            var rs = ResourceSpans()
            if g.chance(0.8) {
                var r = Resource()
                r.attributes = attributes(&g, depth: 0)
                if g.chance(0.3) { r.droppedAttributesCount = UInt32(g.below(5)) }
                if g.chance(0.3) {
                    var e = Opentelemetry_Proto_Common_V1_EntityRef()
                    e.schemaURL = text(&g)
                    e.type = text(&g)
                    e.idKeys = (0..<g.below(3)).map { _ in text(&g) }
                    e.descriptionKeys = (0..<g.below(3)).map { _ in text(&g) }
                    r.entityRefs = [e]
                }
                rs.resource = r
            }
            if g.chance(0.3) { rs.schemaURL = text(&g) }
            for _ in 0..<g.below(3) {
                var ss = ScopeSpans()
                if g.chance(0.8) {
                    var scope = InstrumentationScope()
                    scope.name = text(&g)
                    scope.version = text(&g)
                    scope.attributes = attributes(&g, depth: 0)
                    if g.chance(0.3) { scope.droppedAttributesCount = UInt32(g.below(5)) }
                    ss.scope = scope
                }
                if g.chance(0.3) { ss.schemaURL = text(&g) }
                ss.spans = (0..<g.below(4)).map { _ in span(&g) }
                rs.scopeSpans.append(ss)
            }
            request.resourceSpans.append(rs)
        }
        return request
    }

    public static func span(_ g: inout SplitMix64) -> Span {
        var s = Span()
        s.traceID = bytes(&g, g.pick([0, 16, 16, 5]))
        s.spanID = bytes(&g, g.pick([0, 8, 8, 3]))
        s.parentSpanID = bytes(&g, g.pick([0, 8]))
        s.traceState = g.chance(0.3) ? text(&g) : ""
        s.name = text(&g)
        s.kind = Span.SpanKind(rawValue: g.pick([0, 1, 2, 3, 4, 5, 9, -1])) ?? .unspecified
        s.startTimeUnixNano = g.chance(0.9) ? g.next() : 0
        s.endTimeUnixNano = g.chance(0.9) ? g.next() : 0
        s.attributes = attributes(&g, depth: 0)
        if g.chance(0.3) { s.droppedAttributesCount = UInt32(truncatingIfNeeded: g.next()) }
        for _ in 0..<g.below(3) {
            var e = Span.Event()
            e.timeUnixNano = g.chance(0.9) ? g.next() : 0
            e.name = text(&g)
            e.attributes = attributes(&g, depth: 1)
            if g.chance(0.3) { e.droppedAttributesCount = 3 }
            s.events.append(e)
        }
        if g.chance(0.3) { s.droppedEventsCount = UInt32(g.below(100)) }
        for _ in 0..<g.below(3) {
            var l = Span.Link()
            l.traceID = bytes(&g, g.pick([0, 16]))
            l.spanID = bytes(&g, g.pick([0, 8]))
            l.traceState = g.chance(0.3) ? text(&g) : ""
            l.attributes = attributes(&g, depth: 1)
            if g.chance(0.3) { l.droppedAttributesCount = 2 }
            l.flags = g.chance(0.5) ? UInt32(truncatingIfNeeded: g.next()) : 0
            s.links.append(l)
        }
        if g.chance(0.3) { s.droppedLinksCount = UInt32(g.below(100)) }
        if g.chance(0.7) {
            var status = SpanStatus()
            status.message = g.chance(0.5) ? text(&g) : ""
            status.code = SpanStatus.StatusCode(rawValue: g.pick([0, 1, 2, 7])) ?? .unset
            s.status = status
        }
        s.flags = g.chance(0.5) ? UInt32(truncatingIfNeeded: g.next()) : 0
        return s
    }

    public static func attributes(_ g: inout SplitMix64, depth: Int) -> [KeyValue] {
        (0..<g.below(depth == 0 ? 6 : 3)).map { _ in
            var kv = KeyValue()
            kv.key = text(&g)
            if g.chance(0.9) { kv.value = value(&g, depth: depth) }
            if g.chance(0.1) { kv.keyStrindex = Int32(truncatingIfNeeded: g.next()) }
            return kv
        }
    }

    public static func value(_ g: inout SplitMix64, depth: Int) -> AnyValue {
        var v = AnyValue()
        switch g.below(depth < 3 ? 10 : 8) {
        case 0: v.stringValue = text(&g)
        case 1: v.boolValue = g.chance(0.5)
        case 2: v.intValue = g.pick([0, -1, Int64.min, Int64.max, Int64(bitPattern: g.next())])
        case 3: v.doubleValue = g.pick([0, -0.0, 0.5, 1, 1e21, 1e-7, -3.25, .nan, .infinity, -.infinity, Double(bitPattern: g.next())])
        case 4: v.bytesValue = bytes(&g, g.below(7))
        case 5: v.stringValueStrindex = Int32(truncatingIfNeeded: g.next())
        case 6: v.stringValue = ""
        case 7: break  // no value set
        case 8:
            var a = Opentelemetry_Proto_Common_V1_ArrayValue()
            a.values = (0..<g.below(3)).map { _ in value(&g, depth: depth + 1) }
            v.arrayValue = a
        default:
            var l = Opentelemetry_Proto_Common_V1_KeyValueList()
            l.values = attributes(&g, depth: depth + 1)
            v.kvlistValue = l
        }
        return v
    }

    /// Text that is hard to write: quotes, backslashes, C0 and C1 controls, DEL, emoji, right-to-left marks.
    public static func text(_ g: inout SplitMix64) -> String {
        let pieces = [
            "a", "GET /checkout", "\"", "\\", "\n", "\t", "\u{08}", "\u{0C}", "\r", "\u{01}", "\u{1F}", "\u{7F}",
            "\u{80}", "\u{9F}", "\u{A0}", "é", "€", "🚀", "👩‍🚀", "\u{202E}", "\u{2028}", "\u{FEFF}", "</script>", " ",
        ]
        return (0..<g.below(6)).map { _ in g.pick(pieces) }.joined()
    }

    public static func bytes(_ g: inout SplitMix64, _ n: Int) -> Data {
        Data((0..<n).map { _ in UInt8(truncatingIfNeeded: g.next()) })
    }
}
