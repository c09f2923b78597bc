import Foundation
import OTLP

/// Requests with every OTLP trace field set: every attribute value kind (nested arrays and key-value lists
/// included, and the profiles signal's string-table indexes), events, links, trace state, flags, dropped counts,
/// status, schema URLs, entity references. For tests that check a path loses nothing; OTLPTests checks that every
/// field of the generated trace schema is set somewhere in ``request(trace:other:base:)``.
public enum FullFieldRequests {
    /// Attributes holding every AnyValue kind, nested arrays and key-value lists included.
    public static func everyValueKind(_ prefix: String) -> [KeyValue] {
        var s = AnyValue()
        s.stringValue = "\(prefix)-héllo ✓"
        var b = AnyValue()
        b.boolValue = true
        var f = AnyValue()
        f.boolValue = false
        var i = AnyValue()
        i.intValue = Int64.min
        var d = AnyValue()
        d.doubleValue = -1234.5678e-9
        var by = AnyValue()
        by.bytesValue = Data([0, 1, 2, 0xFF, 0x80])
        var inner = AnyValue()
        inner.arrayValue.values = [.string("x"), i, d]
        var arr = AnyValue()
        arr.arrayValue.values = [s, b, inner, AnyValue()]
        var deep = AnyValue()
        deep.kvlistValue.values = [attribute("leaf", by), attribute("list", inner)]
        var kvl = AnyValue()
        kvl.kvlistValue.values = [attribute("nested", deep), attribute("n", i), attribute("empty", AnyValue())]
        var emptyArray = AnyValue()
        emptyArray.arrayValue = .init()
        var emptyList = AnyValue()
        emptyList.kvlistValue = .init()
        var indexed = AnyValue()
        indexed.stringValueStrindex = 3
        var indexedKey = attribute("", indexed)
        indexedKey.keyStrindex = 2
        return [
            attribute("\(prefix).string", s), attribute("\(prefix).bool", b), attribute("\(prefix).false", f),
            attribute("\(prefix).int", i), attribute("\(prefix).double", d), attribute("\(prefix).bytes", by),
            attribute("\(prefix).array", arr), attribute("\(prefix).kvlist", kvl),
            attribute("\(prefix).empty_array", emptyArray), attribute("\(prefix).empty_kvlist", emptyList), indexedKey,
        ]
    }

    public static func span(trace: Data, name: String, start: UInt64, parent: Data, index: Int) -> Span {
        var span = Span()
        span.traceID = trace
        span.spanID = SpanFactory.randomID(8)
        span.traceState = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
        span.parentSpanID = parent
        span.flags = 0x301
        span.name = name
        span.kind = [.server, .client, .producer, .consumer, .internal][index % 5]
        span.startTimeUnixNano = start
        span.endTimeUnixNano = start + 12_345_678
        span.attributes = everyValueKind("span\(index)")
        span.droppedAttributesCount = 7
        var e1 = Span.Event()
        e1.timeUnixNano = start + 1000
        e1.name = "exception"
        e1.attributes = [stringAttribute("exception.type", "IOError"), stringAttribute("exception.message", "disk\nfull")]
        e1.droppedAttributesCount = 2
        var e2 = Span.Event()
        e2.timeUnixNano = start + 2000
        e2.name = "retry"
        e2.attributes = everyValueKind("event")
        span.events = [e1, e2]
        span.droppedEventsCount = 3
        var link = Span.Link()
        link.traceID = SpanFactory.randomID(16)
        link.spanID = SpanFactory.randomID(8)
        link.traceState = "vendor=value"
        link.attributes = everyValueKind("link")
        link.droppedAttributesCount = 4
        link.flags = 0x101
        span.links = [link]
        span.droppedLinksCount = 5
        span.status.code = index % 2 == 0 ? .error : .ok
        span.status.message = "status of \(name)"
        return span
    }

    /// Two resources with two scopes each, every field set; spans of trace `t` and of a second trace `u`.
    public static func request(trace t: Data, other u: Data, base: UInt64) -> ExportTraceRequest {
        let root = SpanFactory.randomID(8)
        func make(_ trace: Data, _ name: String, _ offset: UInt64, _ index: Int, root isRoot: Bool = false) -> Span {
            var s = Self.span(trace: trace, name: name, start: base + offset, parent: isRoot ? Data() : root, index: index)
            if isRoot { s.spanID = root }
            return s
        }
        var r1 = ResourceSpans()
        r1.resource.attributes = [stringAttribute("service.name", "frontend")] + everyValueKind("res1")
        r1.resource.droppedAttributesCount = 11
        var entity = Opentelemetry_Proto_Common_V1_EntityRef()
        entity.schemaURL = "https://opentelemetry.io/schemas/1.26.0"
        entity.type = "service"
        entity.idKeys = ["service.name"]
        entity.descriptionKeys = ["res1.string", "res1.int"]
        r1.resource.entityRefs = [entity]
        r1.schemaURL = "https://opentelemetry.io/schemas/1.21.0"
        var s1 = ScopeSpans()
        s1.scope.name = "io.opentelemetry.http"
        s1.scope.version = "1.2.3"
        s1.scope.attributes = everyValueKind("scope1")
        s1.scope.droppedAttributesCount = 2
        s1.schemaURL = "https://opentelemetry.io/schemas/1.20.0"
        s1.spans = [make(t, "GET /", 0, 0, root: true), make(u, "other-1", 500, 1), make(t, "render", 1_000, 2)]
        var s2 = ScopeSpans()
        s2.scope.name = "io.opentelemetry.db"
        s2.scope.version = "0.9"
        s2.spans = [make(t, "SELECT", 2_000, 3)]
        r1.scopeSpans = [s1, s2]

        var r2 = ResourceSpans()
        r2.resource.attributes = [stringAttribute("service.name", "backend"), stringAttribute("host.name", "b-1")]
        r2.schemaURL = "https://opentelemetry.io/schemas/1.19.0"
        var s3 = s1  // the same scope as in r1, under another resource
        s3.spans = [make(t, "handle", 3_000, 4), make(u, "other-2", 3_500, 5), make(t, "", 4_000, 6)]
        var s4 = ScopeSpans()
        s4.scope.name = "io.opentelemetry.grpc"
        s4.scope.attributes = [stringAttribute("k", "v")]
        s4.spans = [make(t, "rpc", 5_000, 7)]
        r2.scopeSpans = [s3, s4]

        var request = ExportTraceRequest()
        request.resourceSpans = [r1, r2]
        return request
    }

}

private func attribute(_ key: String, _ value: AnyValue) -> KeyValue {
    var kv = KeyValue()
    kv.key = key
    kv.value = value
    return kv
}

private func stringAttribute(_ key: String, _ value: String) -> KeyValue { attribute(key, .string(value)) }
