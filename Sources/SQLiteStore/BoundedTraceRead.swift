import Foundation
import GRDB
import OTLP

/// How much one read of traces by ID may load: a cap on spans across every trace it returns, and a deadline.
/// The query API reads under these so that no request (a thousand repeated IDs, a trace of a million spans) builds
/// an answer without bound.
public struct TraceReadLimits: Sendable {
    /// Spans loaded across all traces of one read; the trace that reaches it is cut short.
    public var maxSpans: Int
    /// After this, IDs not yet looked up are left unread.
    public var deadline: ContinuousClock.Instant?

    public init(maxSpans: Int, deadline: ContinuousClock.Instant? = nil) {
        self.maxSpans = max(1, maxSpans)
        self.deadline = deadline
    }

    public static let unlimited = TraceReadLimits(maxSpans: .max)
}

/// Traces read under ``TraceReadLimits``, each as an OTLP request.
public typealias BoundedTraces = BoundedReads<ExportTraceRequest>

/// Traces read under ``TraceReadLimits``, each as a `Trace` (an OTLP request, or an ``EncodedStoredTrace``).
public struct BoundedReads<Trace: Sendable>: Sendable {
    /// The traces found, by ID.
    public var traces: [Data: Trace] = [:]
    /// Traces in ``traces`` holding only their first `maxSpans`-bounded share of spans (in storage order).
    public var truncated: Set<Data> = []
    /// IDs not looked up because the span cap was reached first.
    public var unreadForSpans: [Data] = []
    /// IDs not looked up because the deadline passed first.
    public var unreadForTime: [Data] = []
    /// The anomalous spans of the traces read, by trace ID, then span ID (traces without any are absent).
    public var anomalies: [Data: [Data: SpanAnomaly]] = [:]

    public var complete: Bool { truncated.isEmpty && unreadForSpans.isEmpty && unreadForTime.isEmpty }

    public init() {}
}

extension TraceReader {
    /// The traces with `ids` (duplicates are read once), each assembled as ``trace(id:)`` does, within `limits`.
    /// IDs are read in order; once the span cap is reached the trace being read is cut short and the rest are left
    /// unread, and the same once the deadline has passed.
    public func traces(ids: [Data], limits: TraceReadLimits) throws -> BoundedTraces {
        try read(ids: ids, limits: limits) { db, rows in try assemble(db, rows) }
    }

    /// As ``traces(ids:limits:)``, each trace's spans left as protobuf (``EncodedStoredTrace``).
    public func encodedTraces(ids: [Data], limits: TraceReadLimits) throws -> BoundedReads<EncodedStoredTrace> {
        try read(ids: ids, limits: limits) { db, rows in try encode(db, rows) }
    }

    /// Reads the span rows of each trace within `limits` and makes a `Trace` of them with `make`.
    func read<Trace: Sendable>(
        ids: [Data], limits: TraceReadLimits, make: (Database, [StoredSpan]) throws -> Trace
    ) throws -> BoundedReads<Trace> {
        var seen = Set<Data>()
        let unique = ids.filter { seen.insert($0).inserted }
        guard !unique.isEmpty else { return BoundedReads() }
        let lookup = TraceIDLookup(tails: tails, ids: unique)
        return try reader.read { db in
            let layout = try layouts.layout(db)
            let anomalyTables = try Self.anomalyTables(db)
            var out = BoundedReads<Trace>()
            var remaining = limits.maxSpans
            for (index, id) in unique.enumerated() {
                if remaining == 0 {
                    out.unreadForSpans = Array(unique[index...])
                    break
                }
                if let deadline = limits.deadline, ContinuousClock.now >= deadline {
                    out.unreadForTime = Array(unique[index...])
                    break
                }
                let numbers = try traceNumbers(db, id: id, lookup: lookup, layout: layout)
                var rows: [StoredSpan] = []
                let cut = try !forEachStoredSpan(db, id: id, numbers: numbers) { span in
                    if rows.count == remaining { return false }
                    rows.append(span)
                    return true
                }
                guard !rows.isEmpty else { continue }
                remaining -= rows.count
                out.traces[id] = try make(db, rows)
                if cut { out.truncated.insert(id) }
                let anomalies = try Self.anomalies(db, at: numbers, tables: anomalyTables)
                if !anomalies.isEmpty { out.anomalies[id] = anomalies }
            }
            // A read this large filled this connection's page cache (up to `cache_size`, 16 MiB) with pages unlikely
            // to be read again soon: give them back rather than hold them per reader connection.
            if limits.maxSpans - remaining >= Self.largeRead { try db.execute(sql: "PRAGMA shrink_memory") }
            return out
        }
    }

    /// Spans read at once past which the connection's page cache is emptied afterwards.
    static let largeRead = 2000
}
