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
    /// The columns an outline is read from (spans table aliased `s`), in the order ``init(row:)`` reads them. The
    /// name is read as a blob: GRDB reads text as a C string, which would cut a name at a NUL character.
    static let columns = "s.span_id, s.parent_span_id, s.service, CAST(s.name AS BLOB), s.start_ns, s.duration_ns"

    /// The outline in the first columns of `row` (``columns``).
    init(row: Row) {
        let start = UInt64(max(0, row[4] as Int64))
        let duration = UInt64(max(0, row[5] as Int64))
        let (end, overflow) = start.addingReportingOverflow(duration)
        self.init(
            spanID: row[0], parentSpanID: row[1], service: row[2], name: String(decoding: (row[3] as Data?) ?? Data(), as: UTF8.self),
            startNanos: start, endNanos: overflow ? .max : end)
    }
}

extension TraceReader {
    /// The outlines of trace `traceID`'s spans, at most `limits.maxSpans` of them (`truncated` when there are more);
    /// nil when no span of it is stored. One indexed read per partition, no protobuf decoded.
    public func outlines(id traceID: Data, limits: TraceReadLimits) throws -> (spans: [SpanOutline], truncated: Bool)? {
        try spanRows(id: traceID, limits: limits, columns: SpanOutline.columns) { row, _ in SpanOutline(row: row) }
    }

    /// One value made by `make` from each row of trace `traceID`'s spans (`columns` selected from the spans table
    /// aliased `s`), at most `limits.maxSpans` of them (`truncated` when there are more); nil when no span of it is
    /// stored. One indexed read per partition.
    func spanRows<T>(
        id traceID: Data, limits: TraceReadLimits, columns: String, _ make: (Row, StoredBodies) throws -> T
    ) throws -> (spans: [T], truncated: Bool)? {
        let lookup = TraceIDLookup(tails: tails, ids: [traceID])
        return try reader.read { db in
            let bodies = spanBodies(db)
            let numbers = try traceNumbers(db, id: traceID, lookup: lookup, layout: layouts.layout(db))
            var spans: [T] = []
            let complete = try forEachSpanRow(db, id: traceID, numbers: numbers, columns: columns) { row in
                if spans.count == limits.maxSpans { return false }
                spans.append(try make(row, bodies))
                return true
            }
            if !complete { return (spans, true) }
            return spans.isEmpty ? nil : (spans, false)
        }
    }
}
