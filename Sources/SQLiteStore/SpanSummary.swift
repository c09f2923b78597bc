import Foundation
import GRDB
import OTLP

/// A span as a comparison of two traces reads it: its outline, its status, and its attributes as stored (OTLP
/// wire bytes, decoded only where two spans' attributes differ).
public struct SpanSummary: Sendable, Equatable {
    public var outline: SpanOutline
    /// The OTLP status code (0 unset, 1 ok, 2 error).
    public var statusCode: Int
    public var parts: EncodedSpanParts

    public init(outline: SpanOutline, statusCode: Int, parts: EncodedSpanParts) {
        self.outline = outline
        self.statusCode = statusCode
        self.parts = parts
    }

    /// The summary of a decoded span of service `service`.
    public init(_ span: Span, service: String) {
        var attributes = Span()
        attributes.attributes = span.attributes
        self.init(
            outline: SpanOutline(
                spanID: span.spanID, parentSpanID: span.parentSpanID, service: service, name: span.name,
                startNanos: span.startTimeUnixNano, endNanos: max(span.startTimeUnixNano, span.endTimeUnixNano)),
            statusCode: span.status.code.rawValue,
            parts: EncodedSpanParts(statusMessage: span.status.message, attributeFields: (try? attributes.serializedBytes()) ?? Data()))
    }

    /// The attribute list, decoded from the stored bytes.
    public var attributes: [KeyValue] { (try? Span(serializedBytes: parts.attributeFields))?.attributes ?? [] }
}

extension TraceReader {
    /// The summaries of trace `traceID`'s spans, at most `limits.maxSpans` of them (`truncated` when there are
    /// more); nil when no span of it is stored. One indexed read per partition; a span's body is scanned in place
    /// for its status message and attribute fields, not decoded.
    public func summaries(id traceID: Data, limits: TraceReadLimits) throws -> (spans: [SpanSummary], truncated: Bool)? {
        try storedSpans(id: traceID, limits: limits, withBody: true) { span, bodies in
            let body = span.complete ? span.body : try bodies.protobuf(span.body)
            let parts = try body.withUnsafeBytes { bytes in
                if let parts = EncodedSpanParts(bytes) { return parts }
                // Not readable in place: swift-protobuf decides, and words the error.
                return SpanSummary(try Span(serializedBytes: body), service: "").parts
            }
            return SpanSummary(outline: SpanOutline(span), statusCode: span.statusCode, parts: parts)
        }
    }
}
