import Foundation
import OTLP

/// The standard workload as decoded messages, for feeding pipelines in process: one resource (`service.name` plus
/// 4 attributes), one scope, 100 spans = 10 traces of 10 spans (span j's parent is span (j-1)/2), 10 string
/// attributes of 20-character keys and values per span, one event, a status (every ninth an error), a mix of
/// SERVER, CLIENT and INTERNAL kinds. Each request gets fresh trace and span IDs and current timestamps.
struct Workload: Sendable {
    static let tracesPerRequest = 10
    static let spansPerTrace = 10
    static let spansPerRequest = tracesPerRequest * spansPerTrace

    private let template: ExportTraceRequest

    init() {
        func kv(_ k: String, _ v: String) -> KeyValue {
            var kv = KeyValue()
            kv.key = k
            kv.value.stringValue = v
            return kv
        }
        func fixed20(_ s: String) -> String { s + String(repeating: "_", count: max(0, 20 - s.utf8.count)) }
        var rs = ResourceSpans()
        rs.resource.attributes = [
            kv("service.name", "checkout"), kv("service.version", "1.0.0"),
            kv("service.instance.id", "5b1c3f0e-8d2a-4c47-9e61-2f7a9d0b4c13"),
            kv("host.name", "bench-host-01"), kv("deployment.environment.name", "bench"),
        ]
        var ss = ScopeSpans()
        ss.scope.name = "otelsink.bench"
        ss.scope.version = "1.0.0"
        let serverNames = ["GET /api/v1/orders/{id}", "POST /api/v1/checkout", "GET /api/v1/inventory"]
        let clientNames = ["SELECT orders", "HTTP GET inventory-svc", "redis GET session"]
        let internalNames = ["validate-order", "render-response", "compute-pricing"]
        for t in 0..<Self.tracesPerRequest {
            for j in 0..<Self.spansPerTrace {
                var span = Span()
                let kind: Span.SpanKind = j == 0 ? .server : (j % 2 == 1 ? .client : .internal)
                span.kind = kind
                switch kind {
                case .server: span.name = serverNames[(t + j) % 3]
                case .client: span.name = clientNames[(t + j) % 3]
                default: span.name = internalNames[(t + j) % 3]
                }
                span.attributes = (0..<10).map { a in kv(fixed20("bench.attribute.k\(a)"), fixed20("t\(t)-s\(j)-v\(a)-lorem")) }
                var event = Span.Event()
                event.name = j % 3 == 0 ? "request.received" : "cache.lookup.complete"
                event.attributes = [kv("event.idx", "\(t)\(j)")]
                span.events = [event]
                if (t * Self.spansPerTrace + j) % 9 == 4 {
                    span.status.code = .error
                    span.status.message = "upstream timeout"
                } else {
                    span.status.code = .ok
                }
                ss.spans.append(span)
            }
        }
        rs.scopeSpans = [ss]
        var request = ExportTraceRequest()
        request.resourceSpans = [rs]
        template = request
    }

    /// A request with fresh IDs and timestamps around `nowNanos`.
    func next(using rng: inout some RandomNumberGenerator, nowNanos: UInt64) -> ExportTraceRequest {
        var request = template
        var spans = request.resourceSpans[0].scopeSpans[0].spans
        for t in 0..<Self.tracesPerRequest {
            var traceID = Data(count: 16)
            traceID.withUnsafeMutableBytes { raw in
                raw.storeBytes(of: rng.next() | 1, toByteOffset: 0, as: UInt64.self)
                raw.storeBytes(of: rng.next(), toByteOffset: 8, as: UInt64.self)
            }
            var ids: [Data] = []
            ids.reserveCapacity(Self.spansPerTrace)
            let traceStart = nowNanos &- 6_000_000 &+ UInt64(t) * 100_000
            for j in 0..<Self.spansPerTrace {
                let i = t * Self.spansPerTrace + j
                var id = Data(count: 8)
                id.withUnsafeMutableBytes { $0.storeBytes(of: rng.next() | 1, as: UInt64.self) }
                ids.append(id)
                spans[i].traceID = traceID
                spans[i].spanID = id
                if j > 0 { spans[i].parentSpanID = ids[(j - 1) / 2] }
                let depth = j == 0 ? 0 : (j < 3 ? 1 : (j < 7 ? 2 : 3))
                spans[i].startTimeUnixNano = traceStart + UInt64(j) * 50_000
                spans[i].endTimeUnixNano = spans[i].startTimeUnixNano + UInt64(4 - depth) * 1_000_000 + UInt64(j) * 1_000
                spans[i].events[0].timeUnixNano = spans[i].startTimeUnixNano + 10_000
            }
        }
        request.resourceSpans[0].scopeSpans[0].spans = spans
        return request
    }
}
