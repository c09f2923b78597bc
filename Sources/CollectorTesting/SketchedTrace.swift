import Foundation
import OTLP

/// Traces written as a short list of spans with small integer IDs, for tests of trace analysis and its output.
public enum SketchedTrace {
    public struct Span: Sendable {
        public var id: Int
        public var parent: Int?
        public var service: String
        public var name: String
        public var start: UInt64
        public var end: UInt64
        public var error: Bool
        public var attributes: [String: String]

        public init(
            id: Int, parent: Int? = nil, service: String = "svc", name: String, start: UInt64, end: UInt64, error: Bool = false,
            attributes: [String: String] = [:]
        ) {
            self.id = id
            self.parent = parent
            self.service = service
            self.name = name
            self.start = start
            self.end = end
            self.error = error
            self.attributes = attributes
        }
    }

    /// A root `GET /cart` (0–100) calling `db: query` twice (10–20, 30–40) and `pay: charge` (50–90, `tries=1`).
    public static let cart = [
        Span(id: 0, name: "GET /cart", start: 0, end: 100),
        Span(id: 1, parent: 0, service: "db", name: "query", start: 10, end: 20),
        Span(id: 2, parent: 0, service: "db", name: "query", start: 30, end: 40),
        Span(id: 3, parent: 0, service: "pay", name: "charge", start: 50, end: 90, attributes: ["tries": "1"]),
    ]

    /// ``cart`` slower (the root 400, the charge 380 and failing with other attributes, the first query 25).
    public static var cartChanged: [Span] {
        var b = cart
        b[0].end = 400
        b[3].end = 380
        b[3].error = true
        b[3].attributes = ["tries": "3", "card": "visa"]
        b[1].end = 25
        return b
    }

    /// One resource per service (sorted), its spans in one scope; IDs derived from `traceByte` and each span's `id`.
    public static func request(_ traceByte: UInt8, _ spans: [Span]) -> ExportTraceRequest {
        var request = ExportTraceRequest()
        for service in Set(spans.map(\.service)).sorted() {
            var rs = ResourceSpans()
            rs.resource.attributes = [kv("service.name", service)]
            var ss = ScopeSpans()
            ss.spans = spans.filter { $0.service == service }.map { s in
                var span = OTLP.Span()
                span.traceID = Data(repeating: traceByte, count: 16)
                span.spanID = Data([traceByte, 0, 0, 0, 0, 0, UInt8(s.id >> 8), UInt8(s.id & 0xFF)])
                if let p = s.parent { span.parentSpanID = Data([traceByte, 0, 0, 0, 0, 0, UInt8(p >> 8), UInt8(p & 0xFF)]) }
                span.name = s.name
                span.startTimeUnixNano = s.start
                span.endTimeUnixNano = s.end
                if s.error { span.status.code = .error }
                span.attributes = s.attributes.sorted { $0.key < $1.key }.map { kv($0.key, $0.value) }
                return span
            }
            rs.scopeSpans = [ss]
            request.resourceSpans.append(rs)
        }
        return request
    }

    private static func kv(_ k: String, _ v: String) -> KeyValue {
        var x = KeyValue()
        x.key = k
        x.value = .string(v)
        return x
    }
}
