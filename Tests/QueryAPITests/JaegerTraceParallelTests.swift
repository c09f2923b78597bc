import CollectorTesting
import Foundation
import OTLP
import SQLiteStore
import Testing

@testable import QueryAPI

/// A large trace's spans are written as Jaeger JSON on several cores at once (``JaegerTrace/parallelWriteMinimum``).
@Suite struct JaegerTraceParallelTests {
    static func kv(_ key: String, _ value: AnyValue.OneOf_Value) -> KeyValue {
        var kv = KeyValue()
        kv.key = key
        kv.value.value = value
        return kv
    }

    /// `spans` spans of one trace over three services, with what each kind of tag comes from: attributes of every
    /// type, events, links, statuses, a trace state; a few flagged as anomalies.
    static func largeTrace(spans: Int, seed: UInt64) -> (trace: ExportTraceRequest, anomalies: [Data: [Data: SpanAnomaly]]) {
        var rng = SplitMix64(seed: seed)
        let traceID = SpanFactory.randomID(16)
        var request = ExportTraceRequest()
        var anomalies: [Data: SpanAnomaly] = [:]
        for service in ["checkout", "payment", "stock"] {
            var rs = ResourceSpans()
            rs.resource.attributes = [kv("service.name", .stringValue(service)), kv("host.name", .stringValue("h-\(service)"))]
            var ss = ScopeSpans()
            ss.scope.name = "lib-\(service)"
            ss.scope.version = "1.\(rng.next() % 9)"
            rs.scopeSpans = [ss]
            request.resourceSpans.append(rs)
        }
        var array = Opentelemetry_Proto_Common_V1_ArrayValue()
        array.values = [.string("x"), .string("y")]
        for i in 0..<spans {
            var span = Span()
            span.traceID = traceID
            span.spanID = SpanFactory.randomID(8)
            if i > 0 { span.parentSpanID = request.resourceSpans[0].scopeSpans[0].spans.first?.spanID ?? Data() }
            span.name = "op \"\(i % 17)\"\n"
            span.kind = Span.SpanKind(rawValue: Int(rng.next() % 6)) ?? .internal
            span.startTimeUnixNano = 1_714_564_800_000_000_000 + rng.next() % 1_000_000_000
            span.endTimeUnixNano = span.startTimeUnixNano + rng.next() % 50_000_000
            span.attributes = [
                Self.kv("s", .stringValue("välue-\(rng.next() % 1000)")), Self.kv("i", .intValue(Int64(bitPattern: rng.next()))),
                Self.kv("d", .doubleValue(Double(rng.next() % 1000) / 7)), Self.kv("b", .boolValue(i % 2 == 0)),
                Self.kv("bytes", .bytesValue(Data([1, 2, UInt8(i % 256)]))),
                Self.kv("a", .arrayValue(array)),
            ]
            if i % 3 == 0 {
                var event = Span.Event()
                event.name = "retry"
                event.timeUnixNano = span.startTimeUnixNano + 5
                event.attributes = [Self.kv("attempt", .intValue(Int64(i % 4)))]
                span.events = [event]
            }
            if i % 5 == 0 {
                var link = Span.Link()
                link.traceID = SpanFactory.randomID(16)
                link.spanID = SpanFactory.randomID(8)
                span.links = [link]
            }
            span.status.code = [.unset, .ok, .error][i % 3]
            if i % 7 == 0 { span.status.message = "failed <\(i)>" }
            if i % 11 == 0 { span.traceState = "k=v\(i)" }
            if i % 97 == 0 {
                anomalies[span.spanID] = SpanAnomaly(durationNanos: 9_000_000, baselineP99Nanos: 1_000_000)
            }
            request.resourceSpans[i % 3].scopeSpans[0].spans.append(span)
        }
        return (request, [traceID: anomalies])
    }

    @Test func aLargeTraceWrittenOnSeveralCoresIsTheSameBytesAsWrittenOnOne() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        let (trace, anomalies) = Self.largeTrace(spans: 2 * JaegerTrace.parallelWriteMinimum + 37, seed: seed)
        var parallel = JSONWriter(capacity: 0)
        JaegerTrace.write(trace, anomalies: anomalies, into: &parallel)
        var single = JSONWriter(capacity: 0)
        JaegerTrace.write(trace, anomalies: anomalies, into: &single, parallelMinimum: .max)
        #expect(parallel.bytes == single.bytes, "seed \(seed)")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(parallel.bytes)) as? [String: Any], "seed \(seed)")
        let spans = try #require(parsed["spans"] as? [[String: Any]])
        #expect(spans.count == 2 * JaegerTrace.parallelWriteMinimum + 37)
        let starts = spans.compactMap { $0["startTime"] as? Int }
        #expect(starts == starts.sorted(), "spans in start order across the parts; seed \(seed)")
    }

    @Test func theEnvelopeAroundALargeTraceParses() throws {
        let (trace, anomalies) = Self.largeTrace(spans: 2 * JaegerTrace.parallelWriteMinimum, seed: 5)
        let bytes = try V1.envelope(trace: try JaegerTraceFromProtobufTests.encoded(trace), anomalies: anomalies, errors: nil)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        let data = try #require(parsed["data"] as? [[String: Any]])
        #expect((data.first?["spans"] as? [Any])?.count == 2 * JaegerTrace.parallelWriteMinimum)
        #expect((data.first?["processes"] as? [String: Any])?.count == 3)
    }
}
