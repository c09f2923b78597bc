import CollectorCore
import Foundation
import GRDB
import GRDBSQLite
import OTLP

/// Writes decoded export requests into the partitioned tables inside one transaction.
///
/// Runs only on the store's writer (GRDB's serial writer queue). The hot insert binds values straight to the
/// prepared statement with the SQLite C API, without building argument arrays per span.
final class SpanBatchWriter {
    private let widthNanos: Int64
    private let retentionBuckets: Int64
    /// Partitions known to exist. Bounded by retention / partition width (plus a small margin).
    private var partitions: Set<Int64> = []
    /// Resource and scope ids by their protobuf body; cleared when large so it stays bounded.
    private var resourceIDs: [Data: Int64] = [:]
    private var scopeIDs: [Data: Int64] = [:]
    private var operations: Set<OperationKey> = []
    private var cachedBytes = 0
    static let cacheLimit = 10_000
    /// Keys larger than this are not cached (they are looked up in SQLite each time), and all caches together hold
    /// at most `cacheBytesLimit` bytes of keys: a client sending huge resources cannot grow them.
    static let cacheKeyLimit = 4096
    static let cacheBytesLimit = 8 << 20

    private func admit(_ keyBytes: Int) -> Bool {
        guard keyBytes <= Self.cacheKeyLimit else { return false }
        if cachedBytes + keyBytes > Self.cacheBytesLimit { resetCaches() }
        cachedBytes += keyBytes
        return true
    }

    struct OperationKey: Hashable { var service: String, name: String, kind: Int }

    struct TraceSummary {
        var start: Int64, end: Int64, spans: Int64 = 0, errors: Int64 = 0
        var rootService: String?, rootName: String?
    }

    struct Outcome { var inserted = 0, duplicates = 0 }

    init(config: SQLiteStoreConfig) {
        widthNanos = max(1, Int64(config.partition.components.seconds) * 1_000_000_000)
        retentionBuckets = max(1, Int64(config.retention.components.seconds) * 1_000_000_000 / widthNanos + 1)
    }

    func loadPartitions(_ db: Database) throws {
        partitions = Set(try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions"))
    }

    func forget(bucket: Int64) { partitions.remove(bucket) }

    /// The partition a span belongs to: by start time, clamped to the retained window so a client clock far off
    /// (or a zero start time) cannot create partitions retention would drop at once or keep forever.
    func bucket(startNanos: UInt64, now: Int64) -> Int64 {
        let nowBucket = now / widthNanos
        let b = Int64(clamping: startNanos) / widthNanos
        return min(max(b, nowBucket - retentionBuckets + 1), nowBucket + 1)
    }

    func write(_ batches: [PreparedBatch], db: Database, now: Int64) throws -> Outcome {
        var outcome = Outcome()
        var summaries: [Int64: [Data: TraceSummary]] = [:]
        for batch in batches {
            for resource in batch.resources {
                let service = resource.service
                let resourceID = try resourceID(resource, db: db)
                for scope in resource.scopes {
                    let scopeID = try scopeID(scope, db: db)
                    for span in scope.spans {
                        let b = bucket(startNanos: span.start, now: now)
                        if !partitions.contains(b) {
                            try SQLiteSchema.createPartition(db, bucket: b, widthNanos: widthNanos)
                            partitions.insert(b)
                        }
                        let inserted = try insert(span, bucket: b, resourceID: resourceID, scopeID: scopeID, service: service, db: db)
                        guard inserted else {
                            outcome.duplicates += 1
                            continue
                        }
                        outcome.inserted += 1
                        let start = Int64(clamping: span.start), end = Int64(clamping: span.end)
                        summaries[b, default: [:]][span.traceID, default: TraceSummary(start: start, end: end)].merge(
                            start: start, end: end, error: span.isError,
                            root: span.parentSpanID.isEmpty ? (service, span.name) : nil)
                        try recordOperation(OperationKey(service: service, name: span.name, kind: span.kind), db: db)
                    }
                }
            }
        }
        for (b, traces) in summaries {
            let statement = try db.cachedStatement(sql: """
                INSERT INTO \(SQLiteSchema.tracesTable(b))(trace_id, start_ns, end_ns, span_count, error_count, root_service, root_name)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(trace_id) DO UPDATE SET
                    start_ns = min(start_ns, excluded.start_ns), end_ns = max(end_ns, excluded.end_ns),
                    span_count = span_count + excluded.span_count, error_count = error_count + excluded.error_count,
                    root_service = coalesce(excluded.root_service, root_service),
                    root_name = coalesce(excluded.root_name, root_name)
                """)
            for (traceID, s) in traces {
                try statement.execute(arguments: [traceID, s.start, s.end, s.spans, s.errors, s.rootService, s.rootName])
            }
        }
        return outcome
    }

    /// Inserts one span; false when (trace_id, span_id) was already stored (a retried export).
    private func insert(_ span: PreparedBatch.SpanRow, bucket: Int64, resourceID: Int64, scopeID: Int64, service: String, db: Database) throws -> Bool {
        let statement = try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO \(SQLiteSchema.spansTable(bucket))
            (trace_id, span_id, parent_span_id, resource_id, scope_id, service, name, kind, start_ns, duration_ns, status_code, body)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let body = span.body
        let stmt = statement.sqliteStatement
        let start = Int64(clamping: span.start)
        let end = Int64(clamping: span.end)
        sqlite3_reset(stmt)
        let rc: Int32 = span.traceID.withUnsafeBytes { trace in
            span.spanID.withUnsafeBytes { spanID in
                span.parentSpanID.withUnsafeBytes { parent in
                    body.withUnsafeBytes { bodyBytes in
                        bindBlob(stmt, 1, trace)
                        bindBlob(stmt, 2, spanID)
                        bindBlob(stmt, 3, parent)
                        sqlite3_bind_int64(stmt, 4, resourceID)
                        sqlite3_bind_int64(stmt, 5, scopeID)
                        bindText(stmt, 6, service)
                        bindText(stmt, 7, span.name)
                        sqlite3_bind_int64(stmt, 8, Int64(span.kind))
                        sqlite3_bind_int64(stmt, 9, start)
                        sqlite3_bind_int64(stmt, 10, end >= start ? end - start : 0)
                        sqlite3_bind_int64(stmt, 11, Int64(span.statusCode))
                        bindBlob(stmt, 12, bodyBytes)
                        let rc = sqlite3_step(stmt)
                        sqlite3_reset(stmt)
                        sqlite3_clear_bindings(stmt)
                        return rc
                    }
                }
            }
        }
        guard rc == SQLITE_DONE else {
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
        return sqlite3_changes(db.sqliteConnection) == 1
    }

    private func resourceID(_ resource: PreparedBatch.Resource, db: Database) throws -> Int64 {
        let body = resource.key
        if let id = resourceIDs[body] { return id }
        try db.execute(sql: "INSERT OR IGNORE INTO resources(service, body) VALUES (?, ?)", arguments: [resource.service, body])
        guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM resources WHERE body = ?", arguments: [body]) else {
            throw DatabaseError(message: "resource row missing after insert")
        }
        if resourceIDs.count >= Self.cacheLimit { resourceIDs.removeAll(keepingCapacity: true) }
        if admit(body.count) { resourceIDs[body] = id }
        return id
    }

    private func scopeID(_ scope: PreparedBatch.Scope, db: Database) throws -> Int64 {
        let body = scope.key
        if let id = scopeIDs[body] { return id }
        try db.execute(sql: "INSERT OR IGNORE INTO scopes(name, body) VALUES (?, ?)", arguments: [scope.name, body])
        guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM scopes WHERE body = ?", arguments: [body]) else {
            throw DatabaseError(message: "scope row missing after insert")
        }
        if scopeIDs.count >= Self.cacheLimit { scopeIDs.removeAll(keepingCapacity: true) }
        if admit(body.count) { scopeIDs[body] = id }
        return id
    }

    private func recordOperation(_ key: OperationKey, db: Database) throws {
        guard !operations.contains(key) else { return }
        try db.execute(
            sql: "INSERT OR IGNORE INTO operations(service, name, kind) VALUES (?, ?, ?)",
            arguments: [key.service, key.name, key.kind])
        if operations.count >= Self.cacheLimit { operations.removeAll(keepingCapacity: true) }
        if admit(key.service.utf8.count + key.name.utf8.count) { operations.insert(key) }
    }

    /// Caches must not outlive a rolled-back transaction: ids they hold may not exist.
    func resetCaches() {
        resourceIDs.removeAll()
        scopeIDs.removeAll()
        operations.removeAll()
        cachedBytes = 0
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

// The bound buffers live for the duration of sqlite3_step inside the closures above, so SQLITE_STATIC (nil) is safe.
private func bindBlob(_ stmt: OpaquePointer?, _ index: Int32, _ bytes: UnsafeRawBufferPointer) {
    if let base = bytes.baseAddress, bytes.count > 0 {
        sqlite3_bind_blob(stmt, index, base, Int32(bytes.count), nil)
    } else {
        sqlite3_bind_zeroblob(stmt, index, 0)
    }
}

private func bindText(_ stmt: OpaquePointer?, _ index: Int32, _ text: String) {
    var text = text
    text.withUTF8 { utf8 in
        if let base = utf8.baseAddress {
            sqlite3_bind_text(stmt, index, UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), Int32(utf8.count), sqliteTransient)
        } else {
            sqlite3_bind_text(stmt, index, "", 0, nil)
        }
    }
}

/// SQLITE_TRANSIENT: SQLite copies the value (text bound outside the buffer's lifetime).
private let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
