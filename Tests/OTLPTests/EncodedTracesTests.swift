import CollectorTesting
import Foundation
import SwiftProtobuf
import Testing

@testable import OTLP

@Suite("EncodedTraces: indexing trace requests in their wire form")
struct EncodedTracesTests {
    static func fullRequest() -> ExportTraceRequest {
        FullFieldRequests.request(trace: SpanFactory.randomID(16), other: SpanFactory.randomID(16), base: 1_700_000_000_000_000_000)
    }

    @Test func indexAgreesWithTheDecodedRequestFieldByField() throws {
        let request = Self.fullRequest()
        let encoded = try #require(EncodedTraces(indexing: try request.serializedBytes()))
        #expect(encoded.spansWithInvalidIDs == 0)
        #expect(encoded.spanCount == request.spanCount)
        #expect(encoded.resources.count == request.resourceSpans.count)
        var spanIndex = 0
        for (r, rs) in request.resourceSpans.enumerated() {
            let resource = encoded.resources[r]
            #expect(resource.serviceName.map(encoded.string) == rs.resource.attributes.stringValue("service.name"))
            // The key is the ResourceSpans without its scopes.
            var expectedResource = rs
            expectedResource.scopeSpans = []
            #expect(try ResourceSpans(serializedBytes: resource.key) == expectedResource)
            for (s, ss) in rs.scopeSpans.enumerated() {
                let scope = encoded.scopes[resource.scopes.lowerBound + s]
                #expect(encoded.string(scope.name) == ss.scope.name)
                var expectedScope = ss
                expectedScope.spans = []
                #expect(try ScopeSpans(serializedBytes: scope.key) == expectedScope)
                #expect(scope.spans.count == ss.spans.count)
                for span in ss.spans {
                    let entry = encoded.spans[spanIndex]
                    #expect(scope.spans.contains(spanIndex))
                    // The span's own bytes decode to the span: what the store keeps is lossless.
                    #expect(try Span(serializedBytes: Array(encoded.bytes[entry.body])) == span)
                    #expect(Data(encoded.bytes[entry.traceID]) == span.traceID)
                    #expect(Data(encoded.bytes[entry.spanID]) == span.spanID)
                    #expect(Data(encoded.bytes[entry.parentSpanID]) == span.parentSpanID)
                    #expect(encoded.string(entry.name) == span.name)
                    #expect(Int(entry.kind) == span.kind.rawValue)
                    #expect(Int(entry.statusCode) == span.status.code.rawValue)
                    #expect(entry.start == span.startTimeUnixNano)
                    #expect(entry.end == span.endTimeUnixNano)
                    spanIndex += 1
                }
            }
        }
        #expect(try encoded.decoded() == request)
    }

    /// `appendFields` copies a message's fields except the omitted numbers, byte for byte and in order (unknown
    /// fields too); on bytes that are not well-formed fields it appends nothing and says so.
    @Test func appendFieldsLeavesOutTheOmittedFieldsAndRejectsMalformedBytes() throws {
        let request = Self.fullRequest()
        let encoded = try #require(EncodedTraces(indexing: try request.serializedBytes()))
        let omitted: UInt32 = 1 << 1 | 1 << 5 | 1 << 7
        for (i, span) in request.resourceSpans.flatMap({ $0.scopeSpans.flatMap(\.spans) }).enumerated() {
            var out: [UInt8] = [9, 9]
            let ok = encoded.bytes.withUnsafeBytes { EncodedTraces.appendFields($0, encoded.spans[i].body, omitting: omitted, to: &out) }
            #expect(ok)
            #expect(out.prefix(2) == [9, 9])
            var expected = span
            expected.traceID = Data()
            expected.name = ""
            expected.startTimeUnixNano = 0
            #expect(try Span(serializedBytes: Array(out.dropFirst(2))) == expected)
            // Nothing omitted: the same bytes.
            var all: [UInt8] = []
            _ = encoded.bytes.withUnsafeBytes { EncodedTraces.appendFields($0, encoded.spans[i].body, omitting: 0, to: &all) }
            #expect(all[...] == encoded.bytes[encoded.spans[i].body])
        }
        // A field whose length runs past the end, a group (wire type 3), a varint that never ends.
        for malformed: [UInt8] in [[0x0A, 0x05, 0x01], [0x0B, 0x0C], [0x30, 0xFF, 0xFF]] {
            var out: [UInt8] = [7]
            let ok = malformed.withUnsafeBytes { EncodedTraces.appendFields($0, 0..<malformed.count, omitting: 1 << 1, to: &out) }
            #expect(!ok)
            #expect(out == [7])
        }
    }

    @Test func anEmptyRequestIndexesToNothing() throws {
        let encoded = try #require(EncodedTraces(indexing: []))
        #expect(encoded.spanCount == 0 && encoded.resources.isEmpty)
    }

    @Test func aResourceWithoutServiceNameHasNone() throws {
        var request = SpanFactory.request()
        request.resourceSpans[0].resource.attributes = [
            KeyValue.with {
                $0.key = "service.name"
                $0.value.intValue = 3
            }
        ]
        let encoded = try #require(EncodedTraces(indexing: try request.serializedBytes()))
        #expect(encoded.resources[0].serviceName == nil)
    }

    @Test func spansWithMalformedIDsAreCounted() throws {
        var request = SpanFactory.request(traces: 1, spansPerTrace: 4)
        request.resourceSpans[0].scopeSpans[0].spans[0].traceID = Data(count: 16)
        request.resourceSpans[0].scopeSpans[0].spans[1].spanID = Data([1, 2, 3])
        request.resourceSpans[0].scopeSpans[0].spans[2].parentSpanID = Data([1])
        let encoded = try #require(EncodedTraces(indexing: try request.serializedBytes()))
        #expect(encoded.spansWithInvalidIDs == 3)
        #expect(encoded.spans.map(encoded.hasValidIDs) == [false, false, false, true])
    }

    @Test func unknownFieldsStayInTheSpanBytes() throws {
        let plain = SpanFactory.request().resourceSpans[0].scopeSpans[0].spans[0]
        // Field 99, varint 7: a field a newer schema might add.
        let span = try Span(serializedBytes: try plain.serializedBytes() + [0x98, 0x06, 0x07])
        #expect(!span.unknownFields.data.isEmpty)
        var request = ExportTraceRequest()
        request.resourceSpans = [ResourceSpans.with { $0.scopeSpans = [ScopeSpans.with { $0.spans = [span] }] }]
        let encoded = try #require(EncodedTraces(indexing: try request.serializedBytes()))
        let body = Array(encoded.bytes[encoded.spans[0].body])
        #expect(body.suffix(3) == [0x98, 0x06, 0x07])
        #expect(try Span(serializedBytes: body) == span)
    }

    @Test func invalidUTF8IsLeftToSwiftProtobuf() throws {
        var request = SpanFactory.request()
        request.resourceSpans[0].scopeSpans[0].spans[0].name = "NAME"
        var bytes: [UInt8] = try request.serializedBytes()
        let at = try #require(bytes.firstRange(of: Array("NAME".utf8)))
        bytes[at.lowerBound] = 0xC0  // an overlong lead byte: never valid
        #expect(EncodedTraces(indexing: bytes) == nil)
        #expect(throws: (any Error).self) { try ExportTraceRequest(serializedBytes: bytes) }
    }

    @Test func aSingularFieldSentTwiceIsLeftToSwiftProtobuf() throws {
        let span = SpanFactory.request().resourceSpans[0].scopeSpans[0].spans[0]
        var spanBytes: [UInt8] = try span.serializedBytes()
        spanBytes += [0x2A, 0x01, 0x78]  // name (field 5) again: "x"
        var scope: [UInt8] = [0x12] + varint(spanBytes.count) + spanBytes
        scope = [0x12] + varint(scope.count) + scope
        let request: [UInt8] = [0x0A] + varint(scope.count) + scope
        #expect(EncodedTraces(indexing: request) == nil)
        // swift-protobuf takes the last one; the fallback path keeps that meaning.
        #expect(try ExportTraceRequest(serializedBytes: request).resourceSpans[0].scopeSpans[0].spans[0].name == "x")
    }

    /// Whatever indexing accepts, swift-protobuf accepts too, with the same spans: truncations and random byte
    /// flips of a full request never make the fast path store something the decoder would refuse.
    @Test func whateverIsIndexedDecodesToTheSameSpans() throws {
        let bytes: [UInt8] = try Self.fullRequest().serializedBytes()
        let seed = TestSeed.next()
        var generator = SplitMix64(seed: seed)
        var indexed = 0
        var cases: [[UInt8]] = stride(from: 0, to: bytes.count, by: 3).map { Array(bytes.prefix($0)) }
        for _ in 0..<2000 {
            var mutated = bytes
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                mutated[Int.random(in: 0..<mutated.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            cases.append(mutated)
        }
        for input in cases {
            guard let encoded = EncodedTraces(indexing: input) else { continue }
            indexed += 1
            let decoded = try #require(try? ExportTraceRequest(serializedBytes: input), "seed \(seed): indexed but not decodable")
            let spans = decoded.resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) }
            #expect(spans.count == encoded.spanCount, "seed \(seed)")
            for (span, entry) in zip(spans, encoded.spans) {
                #expect(try Span(serializedBytes: Array(input[entry.body])) == span, "seed \(seed)")
                #expect(encoded.string(entry.name) == span.name, "seed \(seed)")
                #expect(Int(entry.kind) == span.kind.rawValue, "seed \(seed)")
                #expect(entry.start == span.startTimeUnixNano, "seed \(seed)")
            }
        }
        #expect(indexed > 0)
    }

    @Test func nestingBeyondTheDecoderLimitIsLeftToSwiftProtobuf() throws {
        var value = AnyValue.string("leaf")
        for _ in 0..<120 {
            var outer = AnyValue()
            outer.arrayValue.values = [value]
            value = outer
        }
        var request = SpanFactory.request()
        request.resourceSpans[0].scopeSpans[0].spans[0].attributes = [
            KeyValue.with {
                $0.key = "deep"
                $0.value = value
            }
        ]
        let bytes: [UInt8] = try request.serializedBytes()
        #expect(EncodedTraces(indexing: bytes) == nil)
    }

    @Test func utf8ValidationAgreesWithTheStandardLibrary() {
        let seed = TestSeed.next()
        var generator = SplitMix64(seed: seed)
        let interesting: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xA0, 0xED, 0x9F, 0xEF, 0xF0, 0x90, 0xF4, 0x8F, 0xF5, 0xFF]
        for length in 0..<12 {
            for _ in 0..<4000 {
                let bytes = (0..<length).map { _ in interesting.randomElement(using: &generator) ?? 0 }
                let expected = String(validating: bytes, as: UTF8.self) != nil
                #expect(isValidUTF8(bytes) == expected, "seed \(seed): \(bytes)")
            }
        }
        #expect(isValidUTF8(Array("plain ascii, longer than eight bytes".utf8)))
        #expect(isValidUTF8(Array("héllo ✓ 𝄞 日本".utf8)))
    }
}

private func isValidUTF8(_ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { OTLP.isValidUTF8($0, 0..<$0.count) }
}

/// `EncodedTraces` (with `OTLPCommonWire`) tied to the generated schema: at every level of a trace request, it
/// reads each field ``SchemaFields`` lists and knows its number — the same field with another wire type makes
/// it hand the request to swift-protobuf instead of skipping the field as unknown. With the writer's test, which
/// checks that list against the generated code, a field a regenerated schema adds or moves fails here.
@Suite struct EncodedTracesSchemaTests {
    @Test func everyFieldOfEveryTraceMessageIsReadAndAWrongWireTypeIsNotSkipped() {
        for m in SchemaFields.traces {
            for number in Set(m.fields.map { $0[0] }) {
                for wireType in SchemaFields.wireTypes {
                    let request = m.inRequest(SchemaFields.single(number, wireType))
                    let indexed = EncodedTraces(indexing: request) != nil
                    if m.fields.contains([number, wireType]) {
                        #expect(indexed, "\(m.name) field \(number) (wire type \(wireType)): not read")
                    } else {
                        #expect(!indexed, "\(m.name) field \(number) with wire type \(wireType): skipped as if unknown")
                    }
                }
            }
        }
    }
}
