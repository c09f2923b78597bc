import Foundation
import OTLP

/// Traces with known content, for tests that check what is printed or answered for them.
public enum SampleTrace {
    /// A fixed trace: a server root (`checkout: GET /cart`) with every attribute type, an error child in another
    /// service (`payment: charge`) with an event and a link, trace state and scope version.
    public static func checkout() -> ExportTraceRequest {
        func kv(_ k: String, _ v: AnyValue) -> KeyValue {
            var x = KeyValue()
            x.key = k
            x.value = v
            return x
        }
        func value(_ set: (inout AnyValue) -> Void) -> AnyValue {
            var v = AnyValue()
            set(&v)
            return v
        }
        let traceID = Data((1...16).map { UInt8($0) })
        var root = Span()
        root.traceID = traceID
        root.spanID = Data([0xa1, 0, 0, 0, 0, 0, 0, 1])
        root.name = "GET /cart"
        root.kind = .server
        root.startTimeUnixNano = 1_714_564_800_000_000_000
        root.endTimeUnixNano = root.startTimeUnixNano + 12_345_000
        root.flags = 0x101
        root.traceState = "vendor=x"
        root.status.code = .ok
        var arr = AnyValue()
        arr.arrayValue.values = [.string("a"), value { $0.intValue = 2 }]
        root.attributes = [
            kv("http.method", .string("GET")), kv("http.status_code", value { $0.intValue = 200 }),
            kv("sampled", value { $0.boolValue = true }), kv("ratio", value { $0.doubleValue = 0.25 }),
            kv("raw", value { $0.bytesValue = Data([1, 2, 3]) }), kv("list", arr),
        ]
        var child = Span()
        child.traceID = traceID
        child.spanID = Data([0xb2, 0, 0, 0, 0, 0, 0, 2])
        child.parentSpanID = root.spanID
        child.name = "charge"
        child.kind = .client
        child.startTimeUnixNano = root.startTimeUnixNano + 2_000_000
        child.endTimeUnixNano = child.startTimeUnixNano + 4_000_000
        child.status.code = .error
        child.status.message = "card declined"
        var event = Span.Event()
        event.name = "retry"
        event.timeUnixNano = child.startTimeUnixNano + 1_000_000
        event.attributes = [kv("attempt", value { $0.intValue = 2 })]
        child.events = [event]
        var link = Span.Link()
        link.traceID = Data(repeating: 0, count: 8) + Data((1...8).map { UInt8($0) })
        link.spanID = Data([0xc3, 0, 0, 0, 0, 0, 0, 3])
        child.links = [link]

        var rs1 = ResourceSpans()
        rs1.resource.attributes = [kv("service.name", .string("checkout")), kv("host.name", .string("h1"))]
        var ss1 = ScopeSpans()
        ss1.scope.name = "shop"
        ss1.scope.version = "1.2"
        ss1.spans = [root]
        rs1.scopeSpans = [ss1]
        var rs2 = ResourceSpans()
        rs2.resource.attributes = [kv("service.name", .string("payment"))]
        var ss2 = ScopeSpans()
        ss2.scope.name = "pay"
        ss2.spans = [child]
        rs2.scopeSpans = [ss2]
        var request = ExportTraceRequest()
        request.resourceSpans = [rs1, rs2]
        return request
    }
}
