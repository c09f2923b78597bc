import CollectorTesting
import Foundation
import SwiftProtobuf
import Testing

@testable import OTLP

/// `OTLPJSONTraceWriter` (the one-pass OTLP/JSON of traces) against the general path it replaces, and against the
/// generated schema, so that a field added by a regenerated schema cannot be left out silently.
@Suite struct OTLPJSONTraceWriterTests {
    @Test func writesTheSameBytesAsTheGeneralPathForRandomTracesThatSetEveryField() throws {
        let seed = TestSeed.next()
        var g = SplitMix64(seed: seed)
        for round in 0..<300 {
            let request = Self.randomRequest(&g)
            let general = try OTLPJSON.encodeGeneric(request)
            let fast = try OTLPJSON.encode(request)
            guard fast != general else { continue }
            let at = (0..<min(fast.count, general.count)).first { fast[$0] != general[$0] } ?? min(fast.count, general.count)
            let context = { (b: [UInt8]) in String(decoding: b[max(0, at - 80)..<min(b.count, at + 80)], as: UTF8.self) }
            Issue.record("seed \(seed), round \(round): differs at byte \(at)\n one pass: \(context(fast))\n general:  \(context(general))")
            return
        }
    }

    @Test func spansWrittenInRangesAreTheSameBytesAsSpansWrittenInOnePass() throws {
        let seed = TestSeed.next()
        var g = SplitMix64(seed: seed)
        // Ranges of one span each (the writer splits arrays of two spans or more), run one after the other, in
        // reverse, so that a part placed by when it finished rather than by its range would show.
        let ranges = OTLPJSON.SpanRanges(minimumPerRange: 1) { count, write in
            Array((0..<count).reversed().map { write($0..<($0 + 1)) }.reversed())
        }
        var split = 0
        for round in 0..<300 {
            let request = Self.randomRequest(&g)
            split += request.resourceSpans.flatMap(\.scopeSpans).filter { $0.spans.count >= 2 }.count
            let parts = try OTLPJSON.encode(request, after: Array("{\"result\":".utf8), split: ranges)
            let whole = try OTLPJSON.encode(request, after: Array("{\"result\":".utf8))
            #expect(parts == whole, "seed \(seed), round \(round)")
        }
        #expect(split > 0)
    }

    @Test func anEmptyRequestAndEmptyButPresentMessagesAreWrittenAsTheGeneralPathWritesThem() throws {
        var request = ExportTraceRequest()
        #expect(try OTLPJSON.encode(request) == OTLPJSON.encodeGeneric(request))
        var rs = ResourceSpans()
        rs.resource = Resource()
        var ss = ScopeSpans()
        ss.scope = InstrumentationScope()
        var span = Span()
        span.status = SpanStatus()
        var kv = KeyValue()
        kv.value = AnyValue()
        span.attributes = [kv, KeyValue()]
        ss.spans = [span, Span()]
        rs.scopeSpans = [ss, ScopeSpans()]
        request.resourceSpans = [rs, ResourceSpans()]
        let fast = try OTLPJSON.encode(request)
        #expect(fast == (try OTLPJSON.encodeGeneric(request)), "\(String(decoding: fast, as: UTF8.self))")
    }

    /// The writer handles exactly the fields ``SchemaFields`` lists; the generated code must accept exactly those
    /// too, so a field a regenerated schema adds fails this test until the writer (and the list) learn it.
    @Test func theWriterKnowsEveryFieldOfTheGeneratedTraceSchema() {
        for m in SchemaFields.traces {
            let accepted = SchemaFields.accepted(by: m.type)
            let order = { (a: [Int], b: [Int]) in a.lexicographicallyPrecedes(b) }
            #expect(
                accepted == m.fields,
                "\(m.name): the schema's fields \(accepted.sorted(by: order)) are not the ones written \(m.fields.sorted(by: order))")
        }
    }

    // MARK: Random traces

    static func randomRequest(_ g: inout SplitMix64) -> ExportTraceRequest {
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

    static func span(_ g: inout SplitMix64) -> Span {
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

    static func attributes(_ g: inout SplitMix64, depth: Int) -> [KeyValue] {
        (0..<g.below(depth == 0 ? 6 : 3)).map { _ in
            var kv = KeyValue()
            kv.key = text(&g)
            if g.chance(0.9) { kv.value = value(&g, depth: depth) }
            if g.chance(0.1) { kv.keyStrindex = Int32(truncatingIfNeeded: g.next()) }
            return kv
        }
    }

    static func value(_ g: inout SplitMix64, depth: Int) -> AnyValue {
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
    static func text(_ g: inout SplitMix64) -> String {
        let pieces = [
            "a", "GET /checkout", "\"", "\\", "\n", "\t", "\u{08}", "\u{0C}", "\r", "\u{01}", "\u{1F}", "\u{7F}",
            "\u{80}", "\u{9F}", "\u{A0}", "é", "€", "🚀", "👩‍🚀", "\u{202E}", "\u{2028}", "\u{FEFF}", "</script>", " ",
        ]
        return (0..<g.below(6)).map { _ in g.pick(pieces) }.joined()
    }

    static func bytes(_ g: inout SplitMix64, _ n: Int) -> Data {
        Data((0..<n).map { _ in UInt8(truncatingIfNeeded: g.next()) })
    }
}
