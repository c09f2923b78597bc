import Foundation
import OTLP

/// An export request turned into rows, ready for the writer.
///
/// Preparing (serializing each span to its protobuf body, serializing the resource and scope keys) runs in the
/// exporting task, in parallel across requests; the single writer then only binds values and steps statements.
/// Rows are also smaller than the decoded message graph they replace while they wait in the queue.
struct PreparedBatch: Sendable {
    struct SpanRow: Sendable {
        var traceID: Data
        var spanID: Data
        var parentSpanID: Data
        var name: String
        var kind: Int
        var start: UInt64
        var end: UInt64
        var isError: Bool
        var statusCode: Int
        /// The `Span` message as OTLP protobuf: what makes storage lossless.
        var body: [UInt8]
    }

    struct Scope: Sendable {
        /// A `ScopeSpans` holding only the scope and its schema URL, as protobuf: the dedup key and stored form.
        var key: Data
        var name: String
        var spans: [SpanRow]
    }

    struct Resource: Sendable {
        /// A `ResourceSpans` holding only the resource and its schema URL, as protobuf.
        var key: Data
        var service: String
        var scopes: [Scope]
    }

    var resources: [Resource]
    var spanCount: Int
    /// Bytes of span bodies and keys: what the batch holds while queued.
    var byteCount: Int

    init(_ request: ExportTraceRequest) throws {
        var count = 0
        var bytes = 0
        resources = try request.resourceSpans.map { rs in
            var resourceKey = ResourceSpans()
            resourceKey.resource = rs.resource
            resourceKey.schemaURL = rs.schemaURL
            let service = rs.resource.attributes.stringValue("service.name") ?? "unknown_service"
            let scopes = try rs.scopeSpans.map { ss in
                var scopeKey = ScopeSpans()
                scopeKey.scope = ss.scope
                scopeKey.schemaURL = ss.schemaURL
                let rows = try ss.spans.map { span in
                    SpanRow(
                        traceID: span.traceID, spanID: span.spanID, parentSpanID: span.parentSpanID,
                        name: span.name, kind: span.kind.rawValue,
                        start: span.startTimeUnixNano, end: span.endTimeUnixNano,
                        isError: span.status.code == .error, statusCode: span.status.code.rawValue,
                        body: try span.serializedBytes())
                }
                count += rows.count
                bytes += rows.reduce(0) { $0 + $1.body.count + 64 }
                return Scope(key: try scopeKey.serializedBytes(), name: ss.scope.name, spans: rows)
            }
            return Resource(key: try resourceKey.serializedBytes(), service: service, scopes: scopes)
        }
        spanCount = count
        byteCount = bytes + resources.reduce(0) { $0 + $1.key.count + $1.scopes.reduce(0) { $0 + $1.key.count } }
    }
}
