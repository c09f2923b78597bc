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
            let request = RandomOTLP.request(&g)
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
            let request = RandomOTLP.request(&g)
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
}
