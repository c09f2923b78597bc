import Foundation
import GRDB
import GRDBSQLite
import OTLP

/// How partitions made by schema version 11 and later store spans: `span_chunks_b` holds one row per chunk — the
/// spans of one trace, from one resource and scope, that one transaction stores together (a request's spans of a
/// trace, usually) — instead of one row per span. A row per span, with its columns, cost about 1.2 µs of SQLite's CPU
/// per span more than a row per chunk (`bench/sqlite/span_rows.c`), and compressing a trace's spans as one zstd frame
/// costs about half of compressing each alone (`bench/zstd/zstd_frames.c`).
///
/// A chunk's rowid is its trace's number in the partition shifted left 32 bits plus the chunk's number within the
/// trace (0, 1, …), so a trace's chunks are one rowid range. Its columns: the trace ID, resource and scope, service,
/// span count, earliest and latest span start and longest duration (search's prefilter), `span_ids` (each span's
/// 8-byte ID, uncompressed: a retried export's spans are recognised by reading them, not the bodies), and `body`: the
/// spans' protobuf, every field as received, framed as an `ExportTraceServiceRequest` with an empty resource and
/// scope (so ``EncodedTraces`` indexes it as it stands), compressed with the partition's dictionary once it has one
/// (``CompressedBody``).
///
/// A trace that grows past ``largeTrace`` spans in a partition also has its span IDs in `span_ids_b`, keyed by
/// (trace number, span ID): reading every ID of a trace from its chunks on each transaction that adds to it would make
/// each export of a large trace cost as much as the whole trace.
enum SpanChunks {
    /// Spans a chunk holds at most, and the protobuf bytes it reaches before the next span starts another: a chunk is
    /// decoded whole whenever one of its spans is read.
    static let maxSpans = 512
    static let maxBytes = 256 << 10

    static func table(_ bucket: Int64) -> String { "span_chunks_\(bucket)" }
    static func idsTable(_ bucket: Int64) -> String { "span_ids_\(bucket)" }

    /// Spans of a trace in a partition past which its span IDs are kept in `span_ids_b` too.
    static let largeTrace = 512

    static func createSQL(_ bucket: Int64) -> String {
        """
        CREATE TABLE \(table(bucket))(
            trace_id BLOB NOT NULL, resource_id INTEGER NOT NULL, scope_id INTEGER NOT NULL, service TEXT NOT NULL,
            span_count INTEGER NOT NULL, min_start_ns INTEGER NOT NULL, max_start_ns INTEGER NOT NULL,
            max_duration_ns INTEGER NOT NULL, span_ids BLOB NOT NULL, body BLOB NOT NULL);
        CREATE TABLE \(idsTable(bucket))(
            trace_seq INTEGER NOT NULL, span_id INTEGER NOT NULL, PRIMARY KEY(trace_seq, span_id)) WITHOUT ROWID;
        """
    }

    static func insertSQL(_ bucket: Int64) -> String {
        """
        INSERT INTO \(table(bucket))
        (rowid, trace_id, resource_id, scope_id, service, span_count, min_start_ns, max_start_ns, max_duration_ns, span_ids, body)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """
    }

    /// The rowid of chunk `number` of trace number `seq` (nil past what a rowid can hold).
    static func row(seq: Int64, number: Int64) -> Int64? {
        guard let first = SpanSlots.firstRow(seq: seq), number >= 0, number <= SpanSlots.placeMask else { return nil }
        return first | number
    }

    /// The chunk being gathered by the writer: spans of one trace, resource and scope, in one partition.
    struct Pending {
        let bucket: Int64
        let trace: SpanBatchWriter.TraceKey
        let resourceID: Int64
        let scopeID: Int64
        let service: String
        /// The chunk's rowid.
        let row: Int64
        /// The spans' `ScopeSpans.spans` fields (tag, length, protobuf), one after another.
        var spans: [UInt8] = []
        var spanIDs: [UInt8] = []
        var count = 0
        var minStart = Int64.max
        var maxStart = Int64.min
        var maxDuration: Int64 = 0

        init(bucket: Int64, trace: SpanBatchWriter.TraceKey, resourceID: Int64, scopeID: Int64, service: String, row: Int64) {
            self.bucket = bucket
            self.trace = trace
            self.resourceID = resourceID
            self.scopeID = scopeID
            self.service = service
            self.row = row
        }

        /// Whether a span of this trace, resource and scope in partition `bucket`, starting at `start`, joins this
        /// chunk: not when the chunk is full, nor when its spans would start further apart than a run of rows may
        /// (``SpanRuns/maxSpreadNanos``: search finds a chunk through the run holding it).
        func takes(bucket: Int64, trace: SpanBatchWriter.TraceKey, resourceID: Int64, scopeID: Int64, start: Int64) -> Bool {
            guard self.bucket == bucket, self.trace == trace, self.resourceID == resourceID, self.scopeID == scopeID,
                count < SpanChunks.maxSpans, spans.count < SpanChunks.maxBytes
            else { return false }
            let (spread, overflow) = max(maxStart, start).subtractingReportingOverflow(min(minStart, start))
            return !overflow && spread <= SpanRuns.maxSpreadNanos
        }

        mutating func add(span: UnsafeRawBufferPointer, id: UnsafeRawBufferPointer, start: Int64, duration: Int64) {
            spans.append(2 << 3 | 2)  // ScopeSpans.spans
            ProtobufWire.appendVarint(UInt64(span.count), to: &spans)
            spans.append(contentsOf: span)
            spanIDs.append(contentsOf: id)
            count += 1
            minStart = min(minStart, start)
            maxStart = max(maxStart, start)
            maxDuration = max(maxDuration, duration)
        }

        /// The chunk's protobuf: an `ExportTraceServiceRequest` of one `ResourceSpans` (no resource) of one
        /// `ScopeSpans` (no scope) holding the spans.
        func body(into out: inout [UInt8]) {
            out.removeAll(keepingCapacity: true)
            var scopeSpans: [UInt8] = [2 << 3 | 2]  // ResourceSpans.scope_spans, then its length
            ProtobufWire.appendVarint(UInt64(spans.count), to: &scopeSpans)
            out.reserveCapacity(spans.count + scopeSpans.count + 12)
            out.append(1 << 3 | 2)  // ExportTraceServiceRequest.resource_spans
            ProtobufWire.appendVarint(UInt64(scopeSpans.count + spans.count), to: &out)
            out.append(contentsOf: scopeSpans)
            out.append(contentsOf: spans)
        }
    }

    /// What the writer knows of a trace's spans in a partition while a transaction adds to it: their IDs (in
    /// memory, or in `span_ids_b` once the trace is large), and the number its next chunk takes.
    struct Stored {
        var spanIDs: Set<UInt64> = []
        var next: Int64 = 0
        /// The IDs are in `span_ids_b` (a large trace), not in `spanIDs`.
        var indexed = false
    }

    /// What is stored of trace number `seq` in partition `bucket`: its span IDs, read from its chunks — or, for a
    /// large trace, only whether they are in `span_ids_b` (where they are moved when the chunks hold ``largeTrace`` or
    /// more) — and the number of its next chunk.
    static func stored(_ db: Database, bucket: Int64, seq: Int64, insertID: Statement) throws -> Stored {
        guard let first = SpanSlots.firstRow(seq: seq), let last = SpanSlots.lastRow(seq: seq) else { return Stored() }
        var out = Stored()
        if try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM \(idsTable(bucket)) WHERE trace_seq = ?)"), arguments: [seq]) == true
        {
            let highest = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT max(rowid) FROM \(table(bucket)) WHERE rowid BETWEEN ? AND ?"), arguments: [first, last])
            out.next = highest.map { ($0 & SpanSlots.placeMask) + 1 } ?? 0
            out.indexed = true
            return out
        }
        let rows = try Row.fetchCursor(
            db.cachedStatement(sql: "SELECT rowid, span_ids FROM \(table(bucket)) WHERE rowid BETWEEN ? AND ?"), arguments: [first, last])
        while let row = try rows.next() {
            out.next = max(out.next, ((row[0] as Int64) & SpanSlots.placeMask) + 1)
            try row.withUnsafeData(atIndex: 1) { bytes in
                if let bytes { out.spanIDs.formUnion(spanIDs(bytes)) }
            }
        }
        if out.spanIDs.count >= largeTrace { try index(&out, seq: seq, insertID: insertID, db) }
        return out
    }

    /// Moves a trace's span IDs from memory into `span_ids_b` (`insertID`: the partition's insert into it).
    static func index(_ stored: inout Stored, seq: Int64, insertID: Statement, _ db: Database) throws {
        for id in stored.spanIDs { _ = try insert(id, seq: seq, insertID, db) }
        stored.spanIDs = []
        stored.indexed = true
    }

    /// Inserts a span ID of a large trace into `span_ids_b`; false when it was there (a span stored before).
    static func insert(_ id: UInt64, seq: Int64, _ insertID: Statement, _ db: Database) throws -> Bool {
        let stmt = insertID.sqliteStatement
        sqlite3_reset(stmt)
        sqlite3_bind_int64(stmt, 1, seq)
        sqlite3_bind_int64(stmt, 2, Int64(bitPattern: id))
        try stepToCompletion(stmt, db)
        return sqlite3_changes(db.sqliteConnection) == 1
    }

    /// A `span_ids` column's IDs.
    static func spanIDs(_ bytes: Data) -> [UInt64] {
        bytes.withUnsafeBytes { raw in
            stride(from: 0, to: raw.count - 7, by: 8).map { raw.loadUnaligned(fromByteOffset: $0, as: UInt64.self) }
        }
    }

    /// The spans of a chunk's body (already decompressed), as the readers' ``StoredSpan``s: every field in the body.
    static func spans(
        _ protobuf: Data, resource: Int64, scope: Int64, service: String, withBody: Bool = true
    ) throws -> [StoredSpan] {
        guard let index = EncodedTraces(indexing: [UInt8](protobuf)) else {
            throw TraceReaderError.corrupt("a chunk of spans is not a readable OTLP request")
        }
        let bytes = index.bytes
        return index.spans.map { s in
            let start = Int64(clamping: s.start)
            let end = Int64(clamping: s.end)
            return StoredSpan(
                resource: resource, scope: scope, start: start, body: withBody ? Data(bytes[s.body]) : Data(), traceID: Data(bytes[s.traceID]),
                spanID: Data(bytes[s.spanID]), parentSpanID: Data(bytes[s.parentSpanID]),
                name: String(decoding: bytes[s.name], as: UTF8.self), kind: Int(s.kind), service: service,
                duration: end >= start ? end - start : 0, statusCode: Int(s.statusCode), complete: true)
        }
    }
}
