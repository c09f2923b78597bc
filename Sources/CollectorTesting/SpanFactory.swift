import Foundation
import OTLP

/// Builds OTLP requests for tests: distinct random IDs, proper parent links, a fixed shape.
public enum SpanFactory {
    public static func randomID(_ count: Int) -> Data {
        var g = SystemRandomNumberGenerator()
        var d = Data(count: count)
        for i in 0..<count { d[i] = UInt8.random(in: 0...255, using: &g) }
        if d.allSatisfy({ $0 == 0 }) { d[0] = 1 }
        return d
    }

    /// One resource with `service`, one scope, `traces` traces of `spansPerTrace` spans (the first is the root).
    public static func request(service: String = "checkout", traces: Int = 1, spansPerTrace: Int = 3, startNanos: UInt64? = nil) -> ExportTraceRequest
    {
        let start = startNanos ?? UInt64(Date().timeIntervalSince1970 * 1e9)
        var rs = ResourceSpans()
        var kv = KeyValue()
        kv.key = "service.name"
        kv.value = .string(service)
        rs.resource.attributes = [kv]
        var ss = ScopeSpans()
        ss.scope.name = "test-scope"
        for t in 0..<traces {
            let traceID = randomID(16)
            var rootID = Data()
            for i in 0..<spansPerTrace {
                var span = Span()
                span.traceID = traceID
                span.spanID = randomID(8)
                if i == 0 { rootID = span.spanID } else { span.parentSpanID = rootID }
                span.name = i == 0 ? "GET /checkout" : "op-\(i)"
                span.kind = i == 0 ? .server : .internal
                span.startTimeUnixNano = start + UInt64(t * 1_000_000 + i * 1000)
                span.endTimeUnixNano = span.startTimeUnixNano + 5_000_000
                var attr = KeyValue()
                attr.key = "http.route"
                attr.value = .string("/checkout/\(i)")
                span.attributes = [attr]
                ss.spans.append(span)
            }
        }
        rs.scopeSpans = [ss]
        var request = ExportTraceRequest()
        request.resourceSpans = [rs]
        return request
    }
}
