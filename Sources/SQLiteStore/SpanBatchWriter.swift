import CollectorCore
import Foundation
import GRDB
import GRDBSQLite
import OTLP

/// Writes trace export requests (in wire form) into the partitioned tables inside one transaction.
///
/// Runs only on the store's writer (GRDB's serial writer queue). The hot insert binds values straight to the
/// prepared statement with the SQLite C API, without building argument arrays per span.
final class SpanBatchWriter {
    private let widthNanos: Int64
    private let retentionBuckets: Int64
    /// Partitions known to exist. Bounded by retention / partition width (plus a small margin).
    private var partitions: Set<Int64> = []
    /// Resource and scope ids by their protobuf body; cleared when large so it stays bounded.
    private var resourceIDs: [[UInt8]: Int64] = [:]
    private var scopeIDs: [[UInt8]: Int64] = [:]
    /// Operations known to be in the `operations` table, by a hash of their bytes, so that a span's name is only
    /// turned into a `String` the first time its operation is seen.
    private var operations: [UInt64: [OperationKey]] = [:]
    private var operationCount = 0
    /// Latency baselines per operation, and the flagging of anomalous spans (nil when `anomalies.enabled` is false).
    let baselines: LatencyBaselines?
    /// The next free trace sequence number per partition (the writer is the only one assigning them).
    private var nextSeq: [Int64: Int64] = [:]
    /// The per-span statements of each partition, prepared once: looking them up in GRDB's statement cache would
    /// build and hash their SQL for every span.
    private var statements: [Int64: PartitionStatements] = [:]

    struct PartitionStatements {
        /// Whether the partition's rows are clustered by trace (``SpanSlots``): `insertSpan` then takes the rowid
        /// first, and `spanIDAt` reads the span ID a rowid holds.
        var clustered: Bool
        /// Whether the partition stores chunks of spans (``SpanChunks``): `insertChunk` then, and no `insertSpan`.
        var chunked: Bool
        var insertSpan: Statement?
        var insertChunk: Statement?
        /// Into `span_ids_b`, the span IDs of large traces (``SpanChunks``).
        var insertSpanID: Statement?
        var spanIDAt: Statement?
        /// By `trace_ids_b` in a partition of this version, else by the unique index on `traces_b(trace_id)`.
        var selectTraceSeq: Statement
        var insertTrace: Statement
        var updateTrace: Statement
        /// Into `trace_ids_b` (nil: a partition of an earlier version, which indexes its traces as they come).
        var insertTraceID: Statement?
        /// Into `span_runs_b` (nil: a partition of an earlier version, which indexes each span's service).
        var insertRun: Statement?
    }
    /// The traces not yet in their partitions' `trace_ids_b`, shared with readers in this process.
    let tails: TraceIDTails
    /// Partitions whose traces go through `trace_ids_b` (``TraceIDTails``), by partition (true) or that index them
    /// as they come (false: made by an earlier otelsink).
    private var sweptPartitions: [Int64: Bool] = [:]
    /// Partitions whose spans search finds through `span_runs_b` (true), or through an index on (service, start_ns)
    /// (false: made by an earlier otelsink).
    private var runPartitions: [Int64: Bool] = [:]
    /// Partitions whose rows are clustered by trace (true: ``SpanSlots``), or that index (trace_seq, span_id)
    /// (false: made by an earlier otelsink).
    private var clusteredPartitions: [Int64: Bool] = [:]
    /// Partitions that store chunks of spans (``SpanChunks``: true), or a row per span (false: made by an earlier
    /// otelsink, or by a test asking for that layout).
    private var chunkedPartitions: [Int64: Bool] = [:]
    /// Whether partitions made from now on store chunks (``SpanChunks``).
    private let makesChunks: Bool
    /// The chunk being gathered (``SpanChunks``), stored when a span does not join it and at the end of the
    /// transaction.
    private var pending: SpanChunks.Pending?
    /// The file's key of span slots (``SpanSlots``), read with the partitions.
    private var slotKey: Int64?
    /// The run of consecutive rows being written (``SpanRuns``), stored when a row breaks it and at the end of the
    /// transaction.
    private var run: SpanRuns.Run?
    /// New traces of the transaction under way, by partition; what its sweeps moved (dropped from the tails once it
    /// has committed).
    private var newTraces: [Int64: Int] = [:]
    private var moved: [TraceIDTails.Moved] = []
    private var cachedBytes = 0
    /// The body being stored: the span's bytes without the fields its row's columns hold (reused, span after span;
    /// dropped after a transaction when it grew past 1 MiB).
    private var storedBody: [UInt8] = []
    /// The compressed form of `storedBody`, when it is stored compressed (reused like it).
    private var compressedBody: [UInt8] = []
    /// Compresses span bodies with a dictionary per partition.
    private let bodies: BodyCompressor
    /// What each partition's spans refer to in the shared tables (``SpanReferences``).
    private let references = SpanReferences()
    /// The `Span` fields a row keeps in columns and not in its body: trace ID (1), span ID (2), parent span ID (4),
    /// name (5), kind (6) and start time (7). ``TraceReader`` puts them back.
    static let fieldsInColumns: UInt32 = 1 << 1 | 1 << 2 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 7
    static let cacheLimit = 10_000
    /// Keys larger than this are not cached (they are looked up in SQLite each time), and all caches together hold
    /// at most `cacheBytesLimit` bytes of keys: a client sending huge resources cannot grow them.
    static let cacheKeyLimit = 4096
    static let cacheBytesLimit = 8 << 20

    private func admit(_ keyBytes: Int) -> Bool {
        guard keyBytes <= Self.cacheKeyLimit else { return false }
        if cachedBytes + keyBytes > Self.cacheBytesLimit { resetKeyCaches() }
        cachedBytes += keyBytes
        return true
    }

    struct OperationKey: Hashable { var service: String, name: String, kind: Int }

    /// The FNV-1a hash of an operation's service, then its name and kind.
    enum OperationHash {
        static func of(service: String) -> UInt64 {
            // A byte that never occurs in UTF-8 separates service and name.
            FNV1a64.continueHash(FNV1a64.hash(service.utf8), CollectionOfOne(0xFF))
        }

        static func of(serviceHash: UInt64, name: UnsafeRawBufferPointer, kind: Int32) -> UInt64 {
            (FNV1a64.continueHash(serviceHash, name) ^ UInt64(UInt32(bitPattern: kind))) &* FNV1a64.prime
        }
    }

    /// What the spans of one trace in one transaction add to its row, gathered while consecutive spans belong to
    /// it (the common case: a request carries each trace's spans together) and merged into `traces` when another
    /// trace comes.
    private struct CurrentTrace {
        var bucket: Int64, key: TraceKey, summary: TraceSummary
    }

    /// What a transaction adds to one trace's row.
    struct TraceSummary {
        var seq: Int64, isNew: Bool
        var start: Int64, end: Int64, spans: Int64 = 0, errors: Int64 = 0
        var rootService: String?, rootName: String?
        /// In a partition of chunks (``SpanChunks``): the trace's span IDs stored there and in this transaction, and
        /// the number its next chunk takes (read on the trace's first span in the transaction).
        var chunks: SpanChunks.Stored?
    }

    struct Outcome {
        var inserted = 0, duplicates = 0, invalid = 0, logRecords = 0
        /// Spans not stored because their trace's rows leave no place for their span IDs (``SpanSlots``).
        var unplaced = 0
        /// Spans flagged as anomalous, by service.
        var anomalous: [String: Int] = [:]
    }

    /// A 16-byte trace ID as a dictionary key, without allocating.
    struct TraceKey: Hashable {
        var high: UInt64, low: UInt64

        init(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) {
            high = buffer.loadUnaligned(fromByteOffset: range.lowerBound, as: UInt64.self)
            low = buffer.loadUnaligned(fromByteOffset: range.lowerBound + 8, as: UInt64.self)
        }
    }

    init(config: SQLiteStoreConfig, tails: TraceIDTails) {
        self.tails = tails
        widthNanos = max(1, Int64(config.partition.components.seconds) * 1_000_000_000)
        retentionBuckets = max(1, Int64(config.retention.components.seconds) * 1_000_000_000 / widthNanos + 1)
        baselines = config.anomalies.enabled ? LatencyBaselines(config: config.anomalies) : nil
        bodies = BodyCompressor(enabled: config.compression == .zstd, table: .spans)
        makesChunks = config.spanChunks
    }

    /// Reads which partitions exist, and the tails of those that sweep their trace IDs.
    func loadPartitions(_ db: Database) throws {
        partitions = Set(try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions"))
        slotKey = try SpanSlots.key(db)
        let layout = try TraceIDLookup.Layout(db)
        sweptPartitions = Dictionary(uniqueKeysWithValues: partitions.map { ($0, layout.withTraceIDs.contains($0)) })
        runPartitions = Dictionary(uniqueKeysWithValues: partitions.map { ($0, layout.withSpanRuns.contains($0)) })
        clusteredPartitions = Dictionary(uniqueKeysWithValues: partitions.map { ($0, layout.withClusteredRows.contains($0)) })
        chunkedPartitions = Dictionary(uniqueKeysWithValues: partitions.map { ($0, layout.withSpanChunks.contains($0)) })
        try references.load(db)
        for b in partitions where layout.withTraceIDs.contains(b) { try loadTail(b, db: db) }
    }

    /// Reads partition `b`'s tail: its traces from the mark on that are not in `trace_ids_b` yet.
    private func loadTail(_ b: Int64, db: Database) throws {
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT t.trace_id, t.seq FROM \(SQLiteSchema.tracesTable(b)) t
                WHERE t.seq >= coalesce((SELECT indexed_below FROM trace_id_marks WHERE bucket = ?), 0)
                    AND NOT EXISTS (SELECT 1 FROM \(SQLiteSchema.traceIDsTable(b)) i WHERE i.trace_id = t.trace_id)
                """, arguments: [b])
        let entries = rows.compactMap { row in TraceIDTails.Key(row[0] as Data).map { ($0, row[1] as Int64) } }
        tails.load(bucket: b, entries: entries, nextSeq: try nextSeq(bucket: b, db: db))
    }

    func forget(bucket: Int64) {
        tails.forget(bucket: bucket)
        sweptPartitions[bucket] = nil
        runPartitions[bucket] = nil
        clusteredPartitions[bucket] = nil
        chunkedPartitions[bucket] = nil
        partitions.remove(bucket)
        nextSeq[bucket] = nil
        statements[bucket] = nil
        bodies.forget(bucket: bucket)
        references.forget(bucket: bucket)
    }

    /// Finalizes the prepared statements (before the database closes).
    func releaseStatements() {
        statements.removeAll()
    }

    private func statements(bucket: Int64, db: Database) throws -> PartitionStatements {
        if let known = statements[bucket] { return known }
        let swept = sweptPartitions[bucket] ?? false
        let clustered = clusteredPartitions[bucket] ?? false
        let chunked = chunkedPartitions[bucket] ?? false
        let spans = SQLiteSchema.spansTable(bucket)
        let prepared = PartitionStatements(
            clustered: clustered,
            chunked: chunked,
            insertSpan: chunked
                ? nil
                : try db.makeStatement(
                    sql: """
                        INSERT OR IGNORE INTO \(spans)
                        (trace_id, span_id, parent_span_id, resource_id, scope_id, service, name, kind, start_ns, duration_ns, status_code, body, trace_seq\(clustered ? ", rowid" : ""))
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?\(clustered ? ", ?" : ""))
                        """),
            insertChunk: chunked ? try db.makeStatement(sql: SpanChunks.insertSQL(bucket)) : nil,
            insertSpanID: chunked
                ? try db.makeStatement(sql: "INSERT OR IGNORE INTO \(SpanChunks.idsTable(bucket))(trace_seq, span_id) VALUES (?, ?)") : nil,
            spanIDAt: clustered ? try db.makeStatement(sql: "SELECT span_id FROM \(spans) WHERE rowid = ?") : nil,
            selectTraceSeq: try db.makeStatement(
                sql: "SELECT seq FROM \(swept ? SQLiteSchema.traceIDsTable(bucket) : SQLiteSchema.tracesTable(bucket)) WHERE trace_id = ?"),
            insertTrace: try db.makeStatement(
                sql: """
                    INSERT INTO \(SQLiteSchema.tracesTable(bucket))(seq, trace_id, start_ns, end_ns, span_count, error_count, root_service, root_name)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """),
            updateTrace: try db.makeStatement(
                sql: """
                    UPDATE \(SQLiteSchema.tracesTable(bucket)) SET
                        start_ns = min(start_ns, ?), end_ns = max(end_ns, ?),
                        span_count = span_count + ?, error_count = error_count + ?,
                        root_service = coalesce(?, root_service), root_name = coalesce(?, root_name)
                    WHERE seq = ?
                    """),
            insertTraceID: swept
                ? try db.makeStatement(sql: "INSERT OR IGNORE INTO \(SQLiteSchema.traceIDsTable(bucket))(trace_id, seq) VALUES (?, ?)") : nil,
            insertRun: runPartitions[bucket] == true ? try db.makeStatement(sql: SpanRuns.insertSQL(bucket: bucket)) : nil)
        statements[bucket] = prepared
        return prepared
    }

    /// The partition a span belongs to: by start time, clamped to the retained window so a client clock far off
    /// (or a zero start time) cannot create partitions retention would drop at once or keep forever.
    func bucket(startNanos: UInt64, now: Int64) -> Int64 {
        let nowBucket = now / widthNanos
        let b = Int64(clamping: startNanos) / widthNanos
        return min(max(b, nowBucket - retentionBuckets + 1), nowBucket + 1)
    }

    func write(_ batches: [EncodedTraces], db: Database, now: Int64) throws -> Outcome {
        var outcome = Outcome()
        var traces: [Int64: [TraceKey: TraceSummary]] = [:]
        var current: CurrentTrace?
        baselines?.begin(now: now)
        func flush(_ current: CurrentTrace?) {
            if let current { traces[current.bucket, default: [:]][current.key] = current.summary }
        }
        for batch in batches {
            try batch.bytes.withUnsafeBytes { buffer in
                for resource in batch.resources {
                    let service = resource.serviceName.map { batch.string($0) } ?? "unknown_service"
                    let serviceHash = OperationHash.of(service: service)
                    let resourceID = try resourceID(key: resource.key, service: service, db: db)
                    for scope in batch.scopes[resource.scopes] {
                        let scopeID = try scopeID(key: scope.key, name: { batch.string(scope.name) }, db: db)
                        for span in batch.spans[scope.spans] {
                            // Receivers drop spans with malformed IDs before they get here; never store one.
                            guard EncodedTraces.hasValidIDs(span, buffer) else {
                                outcome.invalid += 1
                                continue
                            }
                            let b = bucket(startNanos: span.start, now: now)
                            try ensurePartition(b, db: db)
                            let partition = try statements(bucket: b, db: db)
                            let key = TraceKey(buffer, span.traceID)
                            if current?.bucket != b || current?.key != key {
                                flush(current)
                                if let known = traces[b]?.removeValue(forKey: key) {
                                    current = CurrentTrace(bucket: b, key: key, summary: known)
                                } else {
                                    let (found, isNew) = try traceSeq(bucket: b, traceID: span.traceID, buffer, partition.selectTraceSeq, db: db)
                                    current = CurrentTrace(
                                        bucket: b, key: key, summary: TraceSummary(seq: found, isNew: isNew, start: Int64.max, end: Int64.min))
                                }
                            }
                            if partition.chunked {
                                guard
                                    try gather(
                                        span, buffer, partition, trace: &current, resourceID: resourceID, scopeID: scopeID, service: service,
                                        db: db)
                                else {
                                    outcome.duplicates += 1
                                    continue
                                }
                            } else {
                                storedBody.removeAll(keepingCapacity: true)
                                // A start time past Int64.max does not fit its column: it stays in the body.
                                let omitted = span.start <= UInt64(Int64.max) ? Self.fieldsInColumns : Self.fieldsInColumns & ~(1 << 7)
                                if !EncodedTraces.appendFields(buffer, span.body, omitting: omitted, to: &storedBody) {
                                    storedBody.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[span.body]))
                                }
                                let compressed = try storedBody.withUnsafeBytes { body in
                                    try bodies.encode(body, bucket: b, db: db, into: &compressedBody)
                                }
                                let stored = try (compressed ? compressedBody : storedBody).withUnsafeBytes { body in
                                    try insert(
                                        span, buffer, body: body, partition, traceSeq: current?.summary.seq ?? 0,
                                        resourceID: resourceID, scopeID: scopeID, serviceBytes: resource.serviceName, db: db)
                                }
                                let row: Int64
                                switch stored {
                                case .inserted(let rowid): row = rowid
                                case .duplicate:
                                    outcome.duplicates += 1
                                    continue
                                case .noSlot:
                                    outcome.unplaced += 1
                                    continue
                                }
                                if let insertRun = partition.insertRun {
                                    let start = Int64(clamping: span.start)
                                    try extendRun(
                                        bucket: b, service: service, row: row, minStart: start, maxStart: start, clustered: partition.clustered,
                                        insertRun, db: db)
                                }
                            }
                            outcome.inserted += 1
                            let name = UnsafeRawBufferPointer(rebasing: buffer[span.name])
                            current?.summary.merge(
                                start: Int64(clamping: span.start), end: Int64(clamping: span.end),
                                error: span.statusCode == errorStatus,
                                root: span.parentSpanID.isEmpty ? (service, batch.string(span.name)) : nil)
                            let operation = OperationHash.of(serviceHash: serviceHash, name: name, kind: span.kind)
                            try recordOperation(hash: operation, service: service, name: name, kind: span.kind, db: db)
                            try references.record(
                                bucket: b, resource: resourceID, scope: scopeID, operationHash: operation, service: service, name: name,
                                kind: span.kind, db: db)
                            let duration = span.end >= span.start ? Int64(clamping: span.end - span.start) : 0
                            if let p99 = baselines?.observe(hash: operation, service: service, name: name, kind: span.kind, durationNanos: duration) {
                                try recordAnomaly(
                                    bucket: b, traceSeq: current?.summary.seq ?? 0, spanID: span.spanID, buffer, duration: duration, p99: p99, db: db)
                                outcome.anomalous[service, default: 0] += 1
                            }
                        }
                    }
                }
            }
        }
        flush(current)
        try storeChunk(db: db)
        try storeRun(db: db)
        // One very large span (up to the receivers' message limit) must not pin its buffer for good.
        if storedBody.capacity > 1 << 20 { storedBody = [] }
        if compressedBody.capacity > 1 << 20 { compressedBody = [] }
        for (b, summaries) in traces {
            let partition = try statements(bucket: b, db: db)
            // In sequence order, so new rows go to the end of the table one after another.
            for (traceID, s) in summaries.sorted(by: { $0.value.seq < $1.value.seq }) where s.spans > 0 {
                try writeSummary(s, traceID: traceID, partition, db: db)
            }
        }
        try sweepTraceIDs(db: db)
        try baselines?.saveIfDue(db)
        return outcome
    }

    /// Adds row `row` (just inserted into partition `bucket`) to the run being gathered, or stores that run and
    /// starts another when the row does not follow it (another partition or service, a gap in the rowids or traces,
    /// or a start that would make the run wider than ``SpanRuns/maxSpreadNanos``).
    private func extendRun(
        bucket: Int64, service: String, row: Int64, minStart: Int64, maxStart: Int64, clustered: Bool, _ insertRun: Statement, db: Database
    ) throws {
        if let current = run, current.bucket == bucket, current.continues(row: row), current.service == service,
            current.admits(start: minStart), current.admits(start: maxStart)
        {
            run?.add(row: row, start: minStart)
            run?.add(row: row, start: maxStart)
            return
        }
        try storeRun(db: db)
        run = SpanRuns.Run(bucket: bucket, service: service, row: row, start: minStart, clustered: clustered, statement: insertRun)
        run?.add(row: row, start: maxStart)
    }

    /// Adds a span to the chunk being gathered (``SpanChunks``), or stores that chunk and starts another when the span
    /// does not join it. False when the span is stored already (a retried export: its ID is among its trace's in the
    /// partition) or came before in this transaction.
    private func gather(
        _ span: EncodedTraces.SpanEntry, _ buffer: UnsafeRawBufferPointer, _ partition: PartitionStatements,
        trace current: inout CurrentTrace?, resourceID: Int64,
        scopeID: Int64, service: String, db: Database
    ) throws -> Bool {
        guard var trace = current, let insertID = partition.insertSpanID else { return false }
        defer { current = trace }
        let seq = trace.summary.seq
        var stored =
            try trace.summary.chunks
            ?? (trace.summary.isNew ? SpanChunks.Stored() : SpanChunks.stored(db, bucket: trace.bucket, seq: seq, insertID: insertID))
        trace.summary.chunks = nil  // not shared while `stored` changes
        defer { trace.summary.chunks = stored }
        let id = buffer.loadUnaligned(fromByteOffset: span.spanID.lowerBound, as: UInt64.self)
        if stored.indexed {
            guard try SpanChunks.insert(id, seq: seq, insertID, db) else { return false }
        } else {
            guard stored.spanIDs.insert(id).inserted else { return false }
            if stored.spanIDs.count >= SpanChunks.largeTrace { try SpanChunks.index(&stored, seq: seq, insertID: insertID, db) }
        }
        let start = Int64(clamping: span.start)
        let end = Int64(clamping: span.end)
        if pending?.takes(bucket: trace.bucket, trace: trace.key, resourceID: resourceID, scopeID: scopeID, start: start) != true {
            try storeChunk(db: db)
            let number = stored.next
            guard let row = SpanChunks.row(seq: seq, number: number) else {
                throw DatabaseError(message: "trace number \(seq) or chunk number \(number) does not fit a rowid")
            }
            stored.next = number + 1
            pending = SpanChunks.Pending(
                bucket: trace.bucket, trace: trace.key, resourceID: resourceID, scopeID: scopeID, service: service, row: row)
        }
        pending?.add(
            span: UnsafeRawBufferPointer(rebasing: buffer[span.body]), id: UnsafeRawBufferPointer(rebasing: buffer[span.spanID]),
            start: start, duration: end >= start ? end - start : 0)
        return true
    }

    /// Writes the chunk being gathered, if any, and adds it to the run of rows being gathered.
    private func storeChunk(db: Database) throws {
        guard let chunk = pending else { return }
        pending = nil
        let partition = try statements(bucket: chunk.bucket, db: db)
        guard let insert = partition.insertChunk else { return }
        chunk.body(into: &storedBody)
        let compressed = try storedBody.withUnsafeBytes { body in
            try bodies.encode(body, bucket: chunk.bucket, db: db, into: &compressedBody)
        }
        let stmt = insert.sqliteStatement
        sqlite3_reset(stmt)
        sqlite3_bind_int64(stmt, 1, chunk.row)
        withUnsafeBytes(of: (chunk.trace.high, chunk.trace.low)) { id in
            _ = sqlite3_bind_blob(stmt, 2, id.baseAddress, 16, sqliteTransient)
        }
        sqlite3_bind_int64(stmt, 3, chunk.resourceID)
        sqlite3_bind_int64(stmt, 4, chunk.scopeID)
        bindText(stmt, 5, chunk.service)
        sqlite3_bind_int64(stmt, 6, Int64(chunk.count))
        sqlite3_bind_int64(stmt, 7, chunk.minStart)
        sqlite3_bind_int64(stmt, 8, chunk.maxStart)
        sqlite3_bind_int64(stmt, 9, chunk.maxDuration)
        try chunk.spanIDs.withUnsafeBytes { ids in
            bindBlob(stmt, 10, ids, 0..<ids.count)
            try (compressed ? compressedBody : storedBody).withUnsafeBytes { body in
                bindBlob(stmt, 11, body, 0..<body.count)
                try stepToCompletion(stmt, db)
            }
        }
        sqlite3_clear_bindings(stmt)
        if let insertRun = partition.insertRun {
            try extendRun(
                bucket: chunk.bucket, service: chunk.service, row: chunk.row, minStart: chunk.minStart, maxStart: chunk.maxStart,
                clustered: true, insertRun, db: db)
        }
    }

    /// Writes the run being gathered, if any, into its partition's `span_runs_b`.
    private func storeRun(db: Database) throws {
        guard let current = run else { return }
        run = nil
        let stmt = current.statement.sqliteStatement
        sqlite3_reset(stmt)
        bindText(stmt, 1, current.service)
        sqlite3_bind_int64(stmt, 2, current.maxStart)
        sqlite3_bind_int64(stmt, 3, current.minStart)
        sqlite3_bind_int64(stmt, 4, current.firstRow)
        sqlite3_bind_int64(stmt, 5, current.lastRow)
        try stepToCompletion(stmt, db)
    }

    /// Moves the next key ranges of each partition's tail into its `trace_ids_b` (``TraceIDTails``), and stores a
    /// partition's mark when its sweep ends.
    private func sweepTraceIDs(db: Database) throws {
        defer { newTraces.removeAll(keepingCapacity: true) }
        for (b, swept) in sweptPartitions where swept {
            let next = try nextSeq(bucket: b, db: db)
            guard let (step, mark) = tails.sweep(bucket: b, newTraces: newTraces[b] ?? 0, nextSeq: next) else { continue }
            if !step.entries.isEmpty, let insert = try statements(bucket: b, db: db).insertTraceID?.sqliteStatement {
                for (key, seq) in step.entries {
                    sqlite3_reset(insert)
                    withUnsafeBytes(of: key.bytes) { id in _ = sqlite3_bind_blob(insert, 1, id.baseAddress, 16, sqliteTransient) }
                    sqlite3_bind_int64(insert, 2, seq)
                    try stepToCompletion(insert, db)
                }
                moved.append(step)
            }
            if let mark {
                try db.execute(sql: "INSERT OR REPLACE INTO trace_id_marks(bucket, indexed_below) VALUES (?, ?)", arguments: [b, mark])
            }
        }
    }

    /// The transaction that ``write(_:db:now:)`` ran in has committed: what its sweeps moved leaves the tails.
    func committed() {
        tails.committed(moved)
        moved.removeAll()
    }

    /// The transaction rolled back: every cache may hold what it undid. The tails are read again by the caller
    /// (``loadPartitions(_:)``); readers meanwhile read them from the marks.
    func rolledBack() {
        run = nil
        pending = nil
        moved.removeAll()
        newTraces.removeAll()
        tails.forgetAll()
        resetCaches()
    }

    /// The sequence number of a trace in partition `bucket`: its row's when stored there already, else the next
    /// free one (the row is inserted with the trace's summary at the end of the transaction).
    private func traceSeq(
        bucket: Int64, traceID: Range<Int>, _ buffer: UnsafeRawBufferPointer, _ statement: Statement, db: Database
    ) throws -> (seq: Int64, isNew: Bool) {
        let swept = sweptPartitions[bucket] ?? false
        let key = TraceIDTails.Key(
            high: buffer.loadUnaligned(fromByteOffset: traceID.lowerBound, as: UInt64.self),
            low: buffer.loadUnaligned(fromByteOffset: traceID.lowerBound + 8, as: UInt64.self))
        if swept {
            var found = tails.seq(bucket: bucket, key: key)
            if !found.known {
                // Forgotten after a rolled-back transaction and not read again yet: read it now.
                try loadTail(bucket, db: db)
                found = tails.seq(bucket: bucket, key: key)
            }
            if let seq = found.seq { return (seq, false) }
        }
        let stmt = statement.sqliteStatement
        sqlite3_reset(stmt)
        bindBlob(stmt, 1, buffer, traceID)
        let rc = sqlite3_step(stmt)
        let existing: Int64? = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : nil
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
        guard rc == SQLITE_ROW || rc == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
        if let existing { return (existing, false) }
        let next = try nextSeq(bucket: bucket, db: db)
        nextSeq[bucket] = next + 1
        if swept {
            tails.add(bucket: bucket, key: key, seq: next)
            newTraces[bucket, default: 0] += 1
        }
        return (next, true)
    }

    /// The next free trace sequence number of partition `bucket`.
    private func nextSeq(bucket: Int64, db: Database) throws -> Int64 {
        if let cached = nextSeq[bucket] { return cached }
        let next = try Int64.fetchOne(db, sql: "SELECT coalesce(max(seq), 0) + 1 FROM \(SQLiteSchema.tracesTable(bucket))") ?? 1
        nextSeq[bucket] = next
        return next
    }

    /// Inserts a new trace's row, or adds a transaction's spans to an existing one.
    private func writeSummary(_ s: TraceSummary, traceID: TraceKey, _ partition: PartitionStatements, db: Database) throws {
        let stmt = (s.isNew ? partition.insertTrace : partition.updateTrace).sqliteStatement
        sqlite3_reset(stmt)
        var next: Int32 = 1
        func bind(_ value: Int64) {
            sqlite3_bind_int64(stmt, next, value)
            next += 1
        }
        func bind(_ text: String?) {
            if let text { bindText(stmt, next, text) } else { sqlite3_bind_null(stmt, next) }
            next += 1
        }
        if s.isNew {
            bind(s.seq)
            withUnsafeBytes(of: (traceID.high, traceID.low)) { id in
                _ = sqlite3_bind_blob(stmt, next, id.baseAddress, 16, sqliteTransient)
            }
            next += 1
        }
        bind(s.start)
        bind(s.end)
        bind(s.spans)
        bind(s.errors)
        bind(s.rootService)
        bind(s.rootName)
        if !s.isNew { bind(s.seq) }
        try stepToCompletion(stmt, db)
    }

    /// `STATUS_CODE_ERROR`.
    private let errorStatus = Int32(SpanStatus.StatusCode.error.rawValue)

    /// What storing one span did.
    enum Insertion {
        /// Stored, at this rowid.
        case inserted(Int64)
        /// Stored before (a retried export): nothing written.
        case duplicate
        /// Not stored: its trace's spans fill every place its span ID may take (``SpanSlots``).
        case noSlot
    }

    /// Inserts one span, or finds it stored already (a retried export). In a partition clustered by trace, at the
    /// first of its span ID's places (``SpanSlots``) that is free or holds it; otherwise the unique index on
    /// (trace_seq, span_id) finds it.
    private func insert(
        _ span: EncodedTraces.SpanEntry, _ buffer: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer, _ partition: PartitionStatements,
        traceSeq: Int64, resourceID: Int64, scopeID: Int64, serviceBytes: Range<Int>?, db: Database
    ) throws -> Insertion {
        guard let stmt = partition.insertSpan?.sqliteStatement else { return .noSlot }
        let start = Int64(clamping: span.start)
        let end = Int64(clamping: span.end)
        sqlite3_reset(stmt)
        bindBlob(stmt, 1, buffer, span.traceID)
        bindBlob(stmt, 2, buffer, span.spanID)
        bindBlob(stmt, 3, buffer, span.parentSpanID)
        sqlite3_bind_int64(stmt, 4, resourceID)
        sqlite3_bind_int64(stmt, 5, scopeID)
        // The service name's bytes in the request (SQLITE_STATIC: no copy per span).
        if let serviceBytes {
            bindText(stmt, 6, buffer, serviceBytes)
        } else {
            bindText(stmt, 6, "unknown_service")
        }
        bindText(stmt, 7, buffer, span.name)
        sqlite3_bind_int64(stmt, 8, Int64(span.kind))
        sqlite3_bind_int64(stmt, 9, start)
        sqlite3_bind_int64(stmt, 10, end >= start ? end - start : 0)
        sqlite3_bind_int64(stmt, 11, Int64(span.statusCode))
        bindBlob(stmt, 12, body, 0..<body.count)
        sqlite3_bind_int64(stmt, 13, traceSeq)
        guard partition.clustered, let spanIDAt = partition.spanIDAt?.sqliteStatement else {
            try stepToCompletion(stmt, db)
            return sqlite3_changes(db.sqliteConnection) == 1 ? .inserted(sqlite3_last_insert_rowid(db.sqliteConnection)) : .duplicate
        }
        guard let first = SpanSlots.firstRow(seq: traceSeq) else {
            throw DatabaseError(message: "partition holds more traces than its rowids can number (\(traceSeq))")
        }
        guard let key = slotKey else { throw DatabaseError(message: "the database has no key of span slots in meta") }
        let id = UnsafeRawBufferPointer(rebasing: buffer[span.spanID])
        let slot = SpanSlots.slot(id, key: key)
        // The other values stay bound from place to place (no clearing: an ignored NULL would look like a taken
        // place), and are cleared once done.
        defer { sqlite3_clear_bindings(stmt) }
        for probe in 0..<SpanSlots.probes {
            let row = first | (slot + probe)
            sqlite3_bind_int64(stmt, 14, row)
            let step = sqlite3_step(stmt)
            sqlite3_reset(stmt)
            guard step == SQLITE_DONE else {
                throw DatabaseError(resultCode: ResultCode(rawValue: step), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
            if sqlite3_changes(db.sqliteConnection) == 1 { return .inserted(row) }
            // Taken: by this span (stored before) or by another of the trace whose ID shares the place.
            sqlite3_reset(spanIDAt)
            sqlite3_bind_int64(spanIDAt, 1, row)
            let rc = sqlite3_step(spanIDAt)
            let same =
                rc == SQLITE_ROW && Int(sqlite3_column_bytes(spanIDAt, 0)) == id.count
                && sqlite3_column_blob(spanIDAt, 0).map { UnsafeRawBufferPointer(start: $0, count: id.count).elementsEqual(id) } == true
            sqlite3_reset(spanIDAt)
            guard rc == SQLITE_ROW || rc == SQLITE_DONE else {
                throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
            if same { return .duplicate }
        }
        return .noSlot
    }

    /// Creates partition `b`'s tables (spans, traces, logs) unless known to exist.
    func ensurePartition(_ b: Int64, db: Database) throws {
        if !partitions.contains(b) {
            try SQLiteSchema.createPartition(db, bucket: b, widthNanos: widthNanos, chunks: makesChunks)
            partitions.insert(b)
            let layout = try TraceIDLookup.Layout(db)
            sweptPartitions[b] = layout.withTraceIDs.contains(b)
            runPartitions[b] = layout.withSpanRuns.contains(b)
            clusteredPartitions[b] = layout.withClusteredRows.contains(b)
            chunkedPartitions[b] = layout.withSpanChunks.contains(b)
            references.partitionMade(b, hasTable: try db.tableExists(SpanReferences.table(b)))
            if sweptPartitions[b] == true { try loadTail(b, db: db) }
        }
    }

    /// The `resources` row of a resource (by its bytes), inserted if new. Shared with ``LogBatchWriter``.
    func resourceID(key body: [UInt8], service: String, db: Database) throws -> Int64 {
        if let id = resourceIDs[body] { return id }
        let blob = Data(body)
        try db.execute(sql: "INSERT OR IGNORE INTO resources(service, body) VALUES (?, ?)", arguments: [service, blob])
        guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM resources WHERE body = ?", arguments: [blob]) else {
            throw DatabaseError(message: "resource row missing after insert")
        }
        if resourceIDs.count >= Self.cacheLimit { resourceIDs.removeAll(keepingCapacity: true) }
        if admit(body.count) { resourceIDs[body] = id }
        return id
    }

    /// The `scopes` row of a scope (by its bytes), inserted if new. Shared with ``LogBatchWriter``.
    func scopeID(key body: [UInt8], name: () -> String, db: Database) throws -> Int64 {
        if let id = scopeIDs[body] { return id }
        let blob = Data(body)
        try db.execute(sql: "INSERT OR IGNORE INTO scopes(name, body) VALUES (?, ?)", arguments: [name(), blob])
        guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM scopes WHERE body = ?", arguments: [blob]) else {
            throw DatabaseError(message: "scope row missing after insert")
        }
        if scopeIDs.count >= Self.cacheLimit { scopeIDs.removeAll(keepingCapacity: true) }
        if admit(body.count) { scopeIDs[body] = id }
        return id
    }

    /// Flags a stored span as anomalous (rare: a prepared statement from GRDB's cache is enough).
    private func recordAnomaly(
        bucket: Int64, traceSeq: Int64, spanID: Range<Int>, _ buffer: UnsafeRawBufferPointer, duration: Int64, p99: Double, db: Database
    ) throws {
        let statement = try db.cachedStatement(
            sql: """
                INSERT OR IGNORE INTO \(SQLiteSchema.anomaliesTable(bucket))(trace_seq, span_id, duration_ns, p99_ns) VALUES (?, ?, ?, ?)
                """)
        try statement.execute(arguments: [traceSeq, Data(buffer[spanID]), duration, Int64(p99.rounded())])
    }

    private func recordOperation(
        hash: UInt64, service: String, name: UnsafeRawBufferPointer, kind: Int32, db: Database
    ) throws {
        if let known = operations[hash], known.contains(where: { $0.kind == Int(kind) && $0.service == service && utf8($0.name, equals: name) }) {
            return
        }
        let key = OperationKey(service: service, name: String(decoding: name, as: UTF8.self), kind: Int(kind))
        try db.execute(
            sql: "INSERT OR IGNORE INTO operations(service, name, kind) VALUES (?, ?, ?)",
            arguments: [key.service, key.name, key.kind])
        if operationCount >= Self.cacheLimit {
            operations.removeAll(keepingCapacity: true)
            operationCount = 0
        }
        if admit(key.service.utf8.count + key.name.utf8.count) {
            operations[hash, default: []].append(key)
            operationCount += 1
        }
    }

    /// Caches must not outlive a rolled-back transaction: ids they hold may not exist.
    func resetCaches() {
        resetKeyCaches()
        baselines?.markUnsaved()
        nextSeq.removeAll()
        statements.removeAll()  // a rolled-back transaction may have created a partition its statements name
        bodies.reset()
    }

    /// Empties the resource, scope and operation caches (safe mid-transaction, unlike the sequence numbers).
    private func resetKeyCaches() {
        resourceIDs.removeAll()
        scopeIDs.removeAll()
        operations.removeAll()
        operationCount = 0
        cachedBytes = 0
        references.reset()
    }
}

extension SpanBatchWriter.TraceSummary {
    mutating func merge(start: Int64, end: Int64, error: Bool, root: (String, String)?) {
        self.start = min(self.start, start)
        self.end = max(self.end, end)
        spans += 1
        if error { errors += 1 }
        if let root {
            rootService = root.0
            rootName = root.1
        }
    }
}

/// Whether `text` is exactly these UTF-8 bytes.
func utf8(_ text: String, equals bytes: UnsafeRawBufferPointer) -> Bool {
    guard text.utf8.count == bytes.count else { return false }
    guard let base = bytes.baseAddress, !bytes.isEmpty else { return true }
    return text.utf8.withContiguousStorageIfAvailable { stored in
        stored.baseAddress.map { memcmp($0, base, bytes.count) == 0 } ?? false
    } ?? text.utf8.elementsEqual(bytes)
}
