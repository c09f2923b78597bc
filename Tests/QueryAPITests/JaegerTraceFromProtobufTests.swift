import CollectorTesting
import Foundation
import OTLP
import SQLiteStore
import Testing

@testable import QueryAPI

/// The Jaeger JSON written from stored spans' bytes is, byte for byte, the JSON of the decoded trace.
@Suite struct JaegerTraceFromProtobufTests {
    /// One trace both ways: as ``EncodedStoredTrace`` (spans sorted by start, resources and scopes in the order
    /// they first appear) and as the OTLP request ``TraceReader`` assembles of the same rows.
    static func bothForms(_ spans: [(resource: Resource, scope: InstrumentationScope, bytes: Data)]) throws -> (
        request: ExportTraceRequest, encoded: EncodedStoredTrace
    ) {
        let decoded = try spans.map { try Span(serializedBytes: $0.bytes) }
        let order = spans.indices.sorted { decoded[$0].startTimeUnixNano < decoded[$1].startTimeUnixNano }
        var resources: [Resource] = []
        var scopes: [InstrumentationScope] = []
        var request = ExportTraceRequest()
        var encodedSpans: [EncodedStoredTrace.Span] = []
        for i in order {
            let (resource, scope, bytes) = spans[i]
            let r = resources.firstIndex(of: resource) ?? resources.count
            if r == resources.count {
                resources.append(resource)
                var rs = ResourceSpans()
                rs.resource = resource
                request.resourceSpans.append(rs)
            }
            let s = scopes.firstIndex(of: scope) ?? scopes.count
            if s == scopes.count { scopes.append(scope) }
            var ss = request.resourceSpans[r].scopeSpans.firstIndex { $0.scope == scope }
            if ss == nil {
                var new = ScopeSpans()
                new.scope = scope
                request.resourceSpans[r].scopeSpans.append(new)
                ss = request.resourceSpans[r].scopeSpans.count - 1
            }
            request.resourceSpans[r].scopeSpans[ss ?? 0].spans.append(decoded[i])
            encodedSpans.append(EncodedStoredTrace.Span(resource: r, scope: s, bytes: bytes))
        }
        let first = order.first.map { decoded[$0] }
        let encoded = EncodedStoredTrace(
            traceID: first?.traceID ?? Data(), startNanos: Int64(clamping: first?.startTimeUnixNano ?? 0), resources: resources,
            scopes: scopes, spans: encodedSpans)
        return (request, encoded)
    }

    /// `request` as ``EncodedStoredTrace``.
    static func encoded(_ request: ExportTraceRequest) throws -> EncodedStoredTrace {
        var spans: [(resource: Resource, scope: InstrumentationScope, bytes: Data)] = []
        for rs in request.resourceSpans {
            for ss in rs.scopeSpans { for span in ss.spans { spans.append((rs.resource, ss.scope, try span.serializedBytes())) } }
        }
        return try bothForms(spans).encoded
    }

    /// Random spans of one trace, each under one of a few random resources and scopes, with distinct start times;
    /// some spans' bytes given in forms the in-place reader leaves to swift-protobuf (a status given twice, which
    /// protobuf merges; a key-value with its value twice).
    static func randomTrace(_ g: inout SplitMix64, spans count: Int) throws -> [(resource: Resource, scope: InstrumentationScope, bytes: Data)] {
        let traceID = RandomOTLP.bytes(&g, 16)
        let resources = (0..<3).map { _ in
            var r = Resource()
            r.attributes = RandomOTLP.attributes(&g, depth: 0)
            if g.chance(0.7) {
                r.attributes.append(
                    KeyValue.with {
                        $0.key = "service.name"
                        $0.value.stringValue = RandomOTLP.text(&g)
                    })
            }
            return r
        }
        let scopes = (0..<3).map { _ in
            InstrumentationScope.with {
                $0.name = g.chance(0.7) ? RandomOTLP.text(&g) : ""
                $0.version = g.chance(0.5) ? RandomOTLP.text(&g) : ""
            }
        }
        var starts = Set<UInt64>()
        while starts.count < count { starts.insert(g.chance(0.05) ? UInt64.max - UInt64(g.below(1000)) : g.next()) }
        return try starts.shuffled(using: &g).map { start in
            var span = RandomOTLP.span(&g)
            span.traceID = traceID
            span.startTimeUnixNano = start
            var bytes: Data = try span.serializedBytes()
            switch g.below(10) {
            case 0:
                var status = SpanStatus()
                status.message = RandomOTLP.text(&g)
                bytes.append(contentsOf: try Span.with { $0.status = status }.serializedBytes() as Data)
            case 1:
                // An attribute "k" whose value is given twice (an int 1, then an int 2).
                bytes.append(contentsOf: [0x4A, 0x0B, 0x0A, 0x01, 0x6B, 0x12, 0x02, 0x18, 0x01, 0x12, 0x02, 0x18, 0x02] as [UInt8])
            default: break
            }
            return (g.pick(resources), g.pick(scopes), bytes)
        }
    }

    @Test func writesTheSameBytesAsTheDecodedTraceForRandomTraces() throws {
        let seed = TestSeed.next()
        var g = SplitMix64(seed: seed)
        for round in 0..<60 {
            let (request, encoded) = try Self.bothForms(try Self.randomTrace(&g, spans: 1 + g.below(40)))
            var anomalies: [Data: SpanAnomaly] = [:]
            for span in encoded.spans where g.chance(0.2) {
                let id = try Span(serializedBytes: span.bytes).spanID
                anomalies[id] = SpanAnomaly(durationNanos: Int64(g.below(1_000_000_000)), baselineP99Nanos: 1_000_000)
            }
            let flagged = [encoded.traceID: anomalies]
            var fromDecoded = JSONWriter(capacity: 0)
            JaegerTrace.write(request, anomalies: flagged, into: &fromDecoded)
            for parallelMinimum in [JaegerTrace.parallelWriteMinimum, 2] {
                var fromBytes = JSONWriter(capacity: 0)
                try JaegerTrace.write(encoded, anomalies: flagged, into: &fromBytes, parallelMinimum: parallelMinimum)
                guard fromBytes.bytes != fromDecoded.bytes else { continue }
                let a = fromBytes.bytes
                let b = fromDecoded.bytes
                let at = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
                let context = { (x: [UInt8]) in String(decoding: x[max(0, at - 120)..<min(x.count, at + 80)], as: UTF8.self) }
                Issue.record("seed \(seed), round \(round): differs at byte \(at)\n from bytes:   \(context(a))\n from decoded: \(context(b))")
                return
            }
        }
    }

    @Test func spanBytesThatDoNotDecodeFailTheAnswerAsTheDecodedReadDid() throws {
        var trace = EncodedStoredTrace(traceID: Data([1]), startNanos: 0, resources: [Resource()], scopes: [InstrumentationScope()], spans: [])
        trace.spans = [EncodedStoredTrace.Span(resource: 0, scope: 0, bytes: Data([0x2A, 0x05, 0x61]))]  // a name cut short
        var w = JSONWriter(capacity: 0)
        #expect(throws: (any Error).self) { try JaegerTrace.write(trace, anomalies: [:], into: &w) }
    }
}
