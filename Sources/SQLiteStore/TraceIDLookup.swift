import Foundation
import GRDB
import Synchronization

/// Finds the sequence numbers (`seq`) of traces by ID in each partition, by what the partition has: `trace_ids_b`
/// and the tail (``TraceIDTails``), or the unique index on `traces_b(trace_id)` of partitions an earlier otelsink
/// made.
///
/// Made before the read transaction it is used in (so that the tails are looked at first: see ``TraceIDTails``).
/// A trace ID may have more than one number in a partition only if a retried transaction's number was reused;
/// callers read the spans of every number given and check the trace ID on them.
struct TraceIDLookup {
    /// The tails' entries for the IDs, by partition, and the partitions whose tails were known then.
    private let recent: [Int64: [(id: Data, seq: Int64)]]
    private let known: Set<Int64>

    /// `tails`: the running store's (nil for a reader of a file, which reads tails from the marks).
    init(tails: TraceIDTails?, ids: [Data]) {
        (recent, known) = tails?.lookup(ids) ?? ([:], [])
    }

    /// The numbers of trace `id` in partition `bucket`, read inside the read transaction `db`; `layout` read once
    /// per transaction.
    func seqs(_ db: Database, bucket: Int64, id: Data, layout: Layout) throws -> [Int64] {
        var out = recent[bucket]?.filter { $0.id == id }.map(\.seq) ?? []
        let traces = SQLiteSchema.tracesTable(bucket)
        if layout.withTraceIDs.contains(bucket) {
            let ids = SQLiteSchema.traceIDsTable(bucket)
            if let seq = try Int64.fetchOne(db.cachedStatement(sql: "SELECT seq FROM \(ids) WHERE trace_id = ?"), arguments: [id]) {
                out.append(seq)
            }
            if !known.contains(bucket) {
                // The tail: at most about two sweeps of traces, numbered from the mark on.
                out += try Int64.fetchAll(
                    db.cachedStatement(
                        sql: """
                            SELECT seq FROM \(traces)
                            WHERE seq >= coalesce((SELECT indexed_below FROM trace_id_marks WHERE bucket = ?), 0) AND trace_id = ?
                            """),
                    arguments: [bucket, id])
            }
        } else {
            out += try Int64.fetchAll(db.cachedStatement(sql: "SELECT seq FROM \(traces) WHERE trace_id = ?"), arguments: [id])
        }
        return out.count > 1 ? Array(Set(out)).sorted() : out
    }

    /// What each partition has: `trace_ids_b` (made by version 7 and later) rather than the unique index on
    /// `traces_b(trace_id)`, `span_runs_b` (version 8 and later) rather than the index on
    /// `spans_b(service, start_ns)`, and span rows clustered by trace (version 9 and later: ``SpanSlots``) rather than
    /// the unique index on `spans_b(trace_seq, span_id)`, and chunks of spans (version 11 and later: ``SpanChunks``)
    /// rather than a row per span.
    struct Layout {
        var withTraceIDs: Set<Int64>
        var withSpanRuns: Set<Int64>
        var withClusteredRows: Set<Int64>
        var withSpanChunks: Set<Int64>

        init(withTraceIDs: Set<Int64>, withSpanRuns: Set<Int64>, withClusteredRows: Set<Int64>, withSpanChunks: Set<Int64>) {
            self.withTraceIDs = withTraceIDs
            self.withSpanRuns = withSpanRuns
            self.withClusteredRows = withClusteredRows
            self.withSpanChunks = withSpanChunks
        }

        init(_ db: Database) throws {
            let names = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT type, name FROM sqlite_master
                        WHERE (type = 'table' AND (name LIKE 'trace\\_ids\\_%' ESCAPE '\\' OR name LIKE 'span\\_runs\\_%' ESCAPE '\\'
                                OR name LIKE 'spans\\_%' ESCAPE '\\' OR name LIKE 'span\\_chunks\\_%' ESCAPE '\\'))
                            OR (type = 'index' AND name LIKE 'spans\\_%\\_id' ESCAPE '\\')
                        """))
            func buckets(_ type: String, _ prefix: String, _ suffix: String = "") -> Set<Int64> {
                Set(
                    names.lazy.filter { ($0[0] as String) == type }.map { $0[1] as String }
                        .filter { $0.hasPrefix(prefix) && $0.hasSuffix(suffix) }
                        .compactMap { Int64($0.dropFirst(prefix.count).dropLast(suffix.count)) })
            }
            withTraceIDs = buckets("table", "trace_ids_")
            withSpanRuns = buckets("table", "span_runs_")
            withClusteredRows = buckets("table", "spans_").subtracting(buckets("index", "spans_", "_id"))
            withSpanChunks = buckets("table", "span_chunks_")
        }
    }
}

/// ``TraceIDLookup/Layout`` remembered per reader, so that a read does not scan the schema each time: a partition's
/// layout is fixed when it is made (a number used again after its partition was dropped gets this version's layout;
/// read as the older one, its traces would still be found, by a scan).
final class TraceIDLayouts: Sendable {
    private let known = Mutex<[Int64: (traceIDs: Bool, spanRuns: Bool, clustered: Bool, chunks: Bool)]>([:])

    /// The layout of every partition `db` has, reading the schema only when one of them is new to this reader.
    func layout(_ db: Database) throws -> TraceIDLookup.Layout {
        let buckets = try Int64.fetchAll(db.cachedStatement(sql: "SELECT bucket FROM partitions"))
        let cached = known.withLock { k -> TraceIDLookup.Layout? in
            guard buckets.allSatisfy({ k[$0] != nil }) else { return nil }
            return TraceIDLookup.Layout(
                withTraceIDs: Set(buckets.filter { k[$0]?.traceIDs == true }), withSpanRuns: Set(buckets.filter { k[$0]?.spanRuns == true }),
                withClusteredRows: Set(buckets.filter { k[$0]?.clustered == true }),
                withSpanChunks: Set(buckets.filter { k[$0]?.chunks == true }))
        }
        if let cached { return cached }
        let layout = try TraceIDLookup.Layout(db)
        known.withLock { k in
            if k.count > 100_000 { k.removeAll() }  // partitions dropped over years of retention
            for b in buckets {
                k[b] = (
                    layout.withTraceIDs.contains(b), layout.withSpanRuns.contains(b), layout.withClusteredRows.contains(b),
                    layout.withSpanChunks.contains(b)
                )
            }
        }
        return layout
    }
}
