import CollectorCore
import Foundation
import GRDB
import GRDBSQLite
import OTLP

/// Writes log export requests (in wire form) into the partitioned `logs_b` tables, inside the transaction the
/// store's writer runs (beside ``SpanBatchWriter``, whose partitions, resources and scopes it shares).
///
/// Each record becomes one row; its partition is chosen by its time (or observed time when unset). The row's
/// `record` is the `LogRecord` as received without the fields its columns hold — severity number; trace and span
/// ID when they have their OTLP lengths; the body when it is a non-empty string (`line` holds it) — so that
/// ``StoredLogRow/logRecord()`` restores the record exactly — compressed with the partition's dictionary once it has
/// one (``BodyCompressor``), as span bodies are. Log records carry no ID: a retried export is stored again.
final class LogBatchWriter {
    private let spans: SpanBatchWriter
    /// Stream ids by resource id, scope id and level. Bounded (cleared when large).
    private var streams: [StreamKey: Int64] = [:]
    /// (partition, stream) pairs known to be in `log_stream_buckets`.
    private var streamBuckets: Set<StreamBucket> = []
    /// The statements of each partition, prepared once.
    private var statements: [Int64: PartitionStatements] = [:]
    /// Trace numbers (`log_traces_b`) known per partition; the next free number per partition. Bounded (cleared
    /// when large), and reset with a rolled-back transaction, whose numbers were never stored.
    private var traceSeqs: [Int64: [SpanBatchWriter.TraceKey: Int64]] = [:]
    private var traceSeqCount = 0
    private var nextTraceSeq: [Int64: Int64] = [:]

    /// A partition's statements. Its records are found by trace through ``LogTraceBlocks`` (`traceNumbers` nil),
    /// or, in a partition an earlier otelsink made, through trace numbers (`log_traces_b`).
    struct PartitionStatements {
        var insert: Statement
        var traceNumbers: (select: Statement, insert: Statement)?
    }
    /// The open block of each partition written to (``LogTraceBlocks``); bounded (a block dropped from here is
    /// recovered from the database when its partition is written to again).
    private var openBlocks: [Int64: LogTraceBlocks.OpenBlock] = [:]
    static let openBlockLimit = 8
    /// The record bytes being stored, and compressed (reused record after record).
    private var stored: [UInt8] = []
    private var compressed: [UInt8] = []
    private let records: BodyCompressor

    struct StreamKey: Hashable { var resource: Int64, scope: Int64, level: String }
    struct StreamBucket: Hashable { var bucket: Int64, stream: Int64 }

    static let cacheLimit = 10_000

    /// `compressing`: store records compressed once their partition has a dictionary.
    init(spans: SpanBatchWriter, compressing: Bool) {
        self.spans = spans
        records = BodyCompressor(enabled: compressing, table: .logs)
    }

    /// Writes every record of `batches`; returns how many were stored.
    func write(_ batches: [EncodedLogs], db: Database, now: Int64) throws -> Int {
        var written = 0
        for batch in batches {
            try batch.bytes.withUnsafeBytes { buffer in
                for resource in batch.resources {
                    let service = resource.serviceName.map { batch.string($0) } ?? "unknown_service"
                    let resourceID = try spans.resourceID(key: resource.key, service: service, db: db)
                    for scope in batch.scopes[resource.scopes] {
                        let scopeName = batch.string(scope.name)
                        let scopeID = try spans.scopeID(key: scope.key, name: { scopeName }, db: db)
                        // Consecutive records mostly share their level and partition: look both up only on a change.
                        var last: (text: Range<Int>, number: Int32, stream: Int64, bucket: Int64)?
                        for record in batch.records[scope.spans] {
                            let b = spans.bucket(startNanos: record.effectiveTime, now: now)
                            let stream: Int64
                            if let last, Self.sameLevel(buffer, last.text, last.number, record), last.bucket == b {
                                stream = last.stream
                            } else {
                                let level = LogStreamLabels.level(
                                    severityText: batch.string(record.severityText), severityNumber: record.severityNumber)
                                stream = try streamID(
                                    StreamKey(resource: resourceID, scope: scopeID, level: level), resourceKey: resource.key,
                                    service: service, scopeName: scopeName, db: db)
                                try spans.ensurePartition(b, db: db)
                                if streamBuckets.insert(StreamBucket(bucket: b, stream: stream)).inserted {
                                    if streamBuckets.count > Self.cacheLimit { streamBuckets = [StreamBucket(bucket: b, stream: stream)] }
                                    try db.execute(
                                        sql: "INSERT OR IGNORE INTO log_stream_buckets(bucket, stream_id) VALUES (?, ?)",
                                        arguments: [b, stream])
                                }
                                last = (record.severityText, record.severityNumber, stream, b)
                            }
                            let partition = try statements(bucket: b, db: db)
                            if let numbers = partition.traceNumbers {
                                let traceSeq =
                                    record.traceID.count == 16 ? try traceSeq(bucket: b, traceID: record.traceID, buffer, numbers, db: db) : nil
                                try insert(record, buffer, bucket: b, stream: stream, traceSeq: traceSeq, statement: partition.insert, db: db)
                            } else {
                                try insert(record, buffer, bucket: b, stream: stream, traceSeq: nil, statement: partition.insert, db: db)
                                let key = record.traceID.count == 16 ? SpanBatchWriter.TraceKey(buffer, record.traceID) : nil
                                try addToOpenBlock(
                                    sqlite3_last_insert_rowid(db.sqliteConnection), time: Int64(clamping: record.effectiveTime), stream: stream,
                                    key: key, bucket: b, db: db)
                            }
                            written += 1
                        }
                    }
                }
            }
        }
        try writeOlderOpenBlocks(db: db)
        if stored.capacity > 1 << 20 { stored = [] }
        if compressed.capacity > 1 << 20 { compressed = [] }
        return written
    }

    /// Writes and forgets the open blocks of every partition but the newest, so that a partition no longer written
    /// to has no records past its watermark (which every trace query of it would read).
    private func writeOlderOpenBlocks(db: Database) throws {
        guard openBlocks.count > 1, let newest = openBlocks.keys.max() else { return }
        for (bucket, open) in openBlocks where bucket != newest {
            try LogTraceBlocks.write(open, bucket: bucket, db: db)
            openBlocks[bucket] = nil
        }
    }

    private func addToOpenBlock(_ rowID: Int64, time: Int64, stream: Int64, key: SpanBatchWriter.TraceKey?, bucket: Int64, db: Database) throws {
        var open: LogTraceBlocks.OpenBlock
        if let known = openBlocks.removeValue(forKey: bucket) {
            open = known
        } else {
            if openBlocks.count >= Self.openBlockLimit, let other = openBlocks.keys.min() { openBlocks[other] = nil }
            // Recovered from the database, it holds this record already.
            open = try LogTraceBlocks.recover(bucket: bucket, db: db)
        }
        try LogTraceBlocks.add(rowID, time: time, stream: stream, key: key, to: &open, bucket: bucket, db: db)
        openBlocks[bucket] = open
    }

    /// Whether `record` has the level of a record whose severity text was at `text` (and number `number`).
    private static func sameLevel(_ buffer: UnsafeRawBufferPointer, _ text: Range<Int>, _ number: Int32, _ record: EncodedLogs.RecordEntry) -> Bool {
        guard text.count == record.severityText.count else { return false }
        if text.isEmpty { return LogStreamLabels.levelName(number) == LogStreamLabels.levelName(record.severityNumber) }
        guard let base = buffer.baseAddress else { return false }
        return memcmp(base + text.lowerBound, base + record.severityText.lowerBound, text.count) == 0
    }

    /// The number of the trace with this ID in partition `bucket`: its row's, or a new one (next in arrival order),
    /// inserted now.
    private func traceSeq(
        bucket: Int64, traceID: Range<Int>, _ buffer: UnsafeRawBufferPointer, _ numbers: (select: Statement, insert: Statement),
        db: Database
    ) throws -> Int64 {
        let key = SpanBatchWriter.TraceKey(buffer, traceID)
        if let known = traceSeqs[bucket]?[key] { return known }
        let select = numbers.select.sqliteStatement
        sqlite3_reset(select)
        bindBlob(select, 1, buffer, traceID)
        let rc = sqlite3_step(select)
        let existing: Int64? = rc == SQLITE_ROW ? sqlite3_column_int64(select, 0) : nil
        sqlite3_reset(select)
        sqlite3_clear_bindings(select)
        guard rc == SQLITE_ROW || rc == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
        let seq: Int64
        if let existing {
            seq = existing
        } else {
            if let next = nextTraceSeq[bucket] {
                seq = next
            } else {
                seq = try Int64.fetchOne(db, sql: "SELECT coalesce(max(seq), 0) + 1 FROM \(SQLiteSchema.logTracesTable(bucket))") ?? 1
            }
            nextTraceSeq[bucket] = seq + 1
            let insert = numbers.insert.sqliteStatement
            sqlite3_reset(insert)
            bindBlob(insert, 1, buffer, traceID)
            sqlite3_bind_int64(insert, 2, seq)
            try stepToCompletion(insert, db)
        }
        if traceSeqCount >= Self.traceCacheLimit {
            traceSeqs.removeAll(keepingCapacity: true)
            traceSeqCount = 0
        }
        traceSeqs[bucket, default: [:]][key] = seq
        traceSeqCount += 1
        return seq
    }

    /// Trace numbers remembered at most (a trace's records mostly come together; a miss is one index probe).
    static let traceCacheLimit = 16_384

    private func insert(
        _ record: EncodedLogs.RecordEntry, _ buffer: UnsafeRawBufferPointer, bucket: Int64, stream: Int64, traceSeq: Int64?,
        statement: Statement, db: Database
    ) throws {
        let traceInColumn = record.traceID.count == 16
        let spanInColumn = record.spanID.count == 8
        let bodyInLine = record.stringValue.map { !$0.isEmpty } ?? false
        var omitted: UInt32 = 1 << EncodedLogs.Field.severityNumber
        if traceInColumn { omitted |= 1 << EncodedLogs.Field.traceID }
        if spanInColumn { omitted |= 1 << EncodedLogs.Field.spanID }
        if bodyInLine { omitted |= 1 << EncodedLogs.Field.body }
        stored.removeAll(keepingCapacity: true)
        if !EncodedTraces.appendFields(buffer, record.body, omitting: omitted, to: &stored) {
            throw DatabaseError(message: "log record bytes could not be re-read")  // never for an indexed record
        }
        let isCompressed = try stored.withUnsafeBytes { try records.encode($0, bucket: bucket, db: db, into: &compressed) }
        let line: String? = bodyInLine ? nil : Self.bodyText(buffer, record.value)
        let stmt = statement.sqliteStatement
        sqlite3_reset(stmt)
        sqlite3_bind_int64(stmt, 1, stream)
        sqlite3_bind_int64(stmt, 2, Int64(clamping: record.effectiveTime))
        sqlite3_bind_int64(stmt, 3, Int64(record.severityNumber))
        if traceInColumn { bindBlob(stmt, 4, buffer, record.traceID) } else { sqlite3_bind_null(stmt, 4) }
        if spanInColumn { bindBlob(stmt, 5, buffer, record.spanID) } else { sqlite3_bind_null(stmt, 5) }
        if bodyInLine, let text = record.stringValue {
            bindText(stmt, 6, buffer, text)
        } else {
            bindText(stmt, 6, line ?? "")
        }
        (isCompressed ? compressed : stored).withUnsafeBytes { bindBlob(stmt, 7, $0, 0..<$0.count) }
        if let traceSeq { sqlite3_bind_int64(stmt, 8, traceSeq) }
        let rc = sqlite3_step(stmt)
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
        guard rc == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
    }

    /// The text of a body that is not a plain string, as the line queries see: numbers and booleans as text, bytes
    /// in base64, maps and arrays as JSON (as the OpenTelemetry Collector's `AsString` renders them); empty
    /// when there is no body.
    static func bodyText(_ buffer: UnsafeRawBufferPointer, _ value: Range<Int>) -> String {
        guard !value.isEmpty,
            let decoded = try? AnyValue(serializedBytes: Array(UnsafeRawBufferPointer(rebasing: buffer[value])))
        else { return "" }
        return AttributeText.text(decoded)
    }

    private func statements(bucket: Int64, db: Database) throws -> PartitionStatements {
        if let known = statements[bucket] { return known }
        let logs = SQLiteSchema.logsTable(bucket)
        let prepared: PartitionStatements
        if try db.tableExists(SQLiteSchema.logTracesTable(bucket)) {
            prepared = PartitionStatements(
                insert: try db.makeStatement(
                    sql: """
                        INSERT INTO \(logs)(stream_id, time_ns, severity, trace_id, span_id, line, record, trace_seq)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """),
                traceNumbers: (
                    try db.makeStatement(sql: "SELECT seq FROM \(SQLiteSchema.logTracesTable(bucket)) WHERE trace_id = ?"),
                    try db.makeStatement(sql: "INSERT INTO \(SQLiteSchema.logTracesTable(bucket))(trace_id, seq) VALUES (?, ?)")
                ))
        } else {
            prepared = PartitionStatements(
                insert: try db.makeStatement(
                    sql: "INSERT INTO \(logs)(stream_id, time_ns, severity, trace_id, span_id, line, record) VALUES (?, ?, ?, ?, ?, ?, ?)"),
                traceNumbers: nil)
        }
        statements[bucket] = prepared
        return prepared
    }

    private func streamID(_ key: StreamKey, resourceKey: [UInt8], service: String, scopeName: String, db: Database) throws -> Int64 {
        if let id = streams[key] { return id }
        if let id = try Int64.fetchOne(
            db, sql: "SELECT id FROM log_streams WHERE resource_id = ? AND scope_id = ? AND level = ?",
            arguments: [key.resource, key.scope, key.level])
        {
            remember(key, id)
            return id
        }
        let resource = (try? ResourceLogs(serializedBytes: resourceKey))?.resource ?? Resource()
        let labels = LogStreamLabels.labels(resource: resource, service: service, scopeName: scopeName, level: key.level)
        try db.execute(
            sql: "INSERT INTO log_streams(resource_id, scope_id, level, service, labels) VALUES (?, ?, ?, ?, ?)",
            arguments: [key.resource, key.scope, key.level, service, LogStreamLabels.json(labels)])
        let id = db.lastInsertedRowID
        remember(key, id)
        return id
    }

    private func remember(_ key: StreamKey, _ id: Int64) {
        if streams.count >= Self.cacheLimit { streams.removeAll(keepingCapacity: true) }
        if key.level.utf8.count <= SpanBatchWriter.cacheKeyLimit { streams[key] = id }
    }

    func forget(bucket: Int64) {
        statements[bucket] = nil
        openBlocks[bucket] = nil
        records.forget(bucket: bucket)
        streamBuckets = streamBuckets.filter { $0.bucket != bucket }
        traceSeqCount -= traceSeqs.removeValue(forKey: bucket)?.count ?? 0
        nextTraceSeq[bucket] = nil
    }

    /// Caches must not outlive a rolled-back transaction or a pruning of shared rows.
    func resetCaches() {
        streams.removeAll()
        streamBuckets.removeAll()
        statements.removeAll()
        traceSeqs.removeAll()
        traceSeqCount = 0
        nextTraceSeq.removeAll()
        openBlocks.removeAll()
        records.reset()
    }

    func releaseStatements() { statements.removeAll() }
}
