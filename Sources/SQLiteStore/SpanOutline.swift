import Foundation
import GRDB

/// What a span's row holds in columns — its place in the tree, its service and name, and when it ran — read
/// without decoding its body, for analyses that need no more (a critical path).
public struct SpanOutline: Sendable, Equatable {
    public var spanID: Data
    public var parentSpanID: Data
    public var service: String
    public var name: String
    public var startNanos: UInt64
    /// Not before ``startNanos`` (a span that ends before it starts is stored with no length).
    public var endNanos: UInt64

    public init(spanID: Data, parentSpanID: Data, service: String, name: String, startNanos: UInt64, endNanos: UInt64) {
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.service = service
        self.name = name
        self.startNanos = startNanos
        self.endNanos = endNanos
    }
}

extension SpanOutline {
    /// The outline of a stored span.
    init(_ span: StoredSpan) {
        let start = UInt64(max(0, span.start))
        let duration = UInt64(max(0, span.duration))
        let (end, overflow) = start.addingReportingOverflow(duration)
        self.init(
            spanID: span.spanID, parentSpanID: span.parentSpanID, service: span.service, name: span.name, startNanos: start,
            endNanos: overflow ? .max : end)
    }
}

extension TraceReader {
    /// The outlines of trace `traceID`'s spans, at most `limits.maxSpans` of them (`truncated` when there are more);
    /// nil when no span of it is stored. One indexed read per partition, no protobuf decoded.
    public func outlines(id traceID: Data, limits: TraceReadLimits) throws -> (spans: [SpanOutline], truncated: Bool)? {
        try storedSpans(id: traceID, limits: limits, withBody: false) { span, _ in SpanOutline(span) }
    }

    /// One value made by `make` from each row of trace `traceID`'s spans (`columns` selected from the spans table
    /// aliased `s`), at most `limits.maxSpans` of them (`truncated` when there are more); nil when no span of it is
    /// stored. One indexed read per partition.
    func storedSpans<T>(
        id traceID: Data, limits: TraceReadLimits, withBody: Bool, _ make: (StoredSpan, StoredBodies) throws -> T
    ) throws -> (spans: [T], truncated: Bool)? {
        let lookup = TraceIDLookup(tails: tails, ids: [traceID])
        return try reader.read { db in
            let bodies = spanBodies(db)
            let numbers = try traceNumbers(db, id: traceID, lookup: lookup, layout: layouts.layout(db))
            var spans: [T] = []
            let complete = try forEachStoredSpan(db, id: traceID, numbers: numbers, withBody: withBody) { span in
                if spans.count == limits.maxSpans { return false }
                spans.append(try make(span, bodies))
                return true
            }
            if !complete { return (spans, true) }
            return spans.isEmpty ? nil : (spans, false)
        }
    }
}
