import GRDB

/// What partition `b`'s spans refer to in the shared tables, one row per distinct combination:
/// `span_refs_b(resource_id, scope_id, service, name, kind)`.
///
/// After retention drops a partition, resources, scopes and operations that no remaining span refers to are removed
/// (``SQLiteTraceStore``). Reading that from the span rows meant reading every row of every partition three times on
/// the writer (4.4 s at 10.5M spans, during which nothing was committed); these tables hold a few rows per service
/// and operation instead. The writer adds a row the first time a partition meets a combination (a set in memory
/// answers the rest). Partitions made by an earlier otelsink have no such table: their span rows are read instead.
final class SpanReferences {
    static func table(_ bucket: Int64) -> String { "span_refs_\(bucket)" }

    static func createSQL(_ bucket: Int64) -> String {
        """
        CREATE TABLE \(table(bucket))(
            resource_id INTEGER NOT NULL, scope_id INTEGER NOT NULL, service TEXT NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL,
            PRIMARY KEY(resource_id, scope_id, service, name, kind)) WITHOUT ROWID;
        """
    }

    /// The partitions that have a references table.
    static func buckets(_ db: Database) throws -> Set<Int64> {
        let prefix = "span_refs_"
        let names = try String.fetchAll(
            db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'span\\_refs\\_%' ESCAPE '\\'")
        return Set(names.compactMap { Int64($0.dropFirst(prefix.count)) })
    }

    /// A query of `columns` referred to by partition `bucket`'s spans: from its references table when it has one
    /// (`withTable`), else from its span rows.
    static func source(_ columns: String, bucket: Int64, withTable: Bool) -> String {
        "SELECT \(columns) FROM \(withTable ? table(bucket) : SQLiteSchema.spansTable(bucket))"
    }

    /// One combination, by the writer's hash of its operation (``SpanBatchWriter/OperationHash``); the operations
    /// kept under a key tell two combinations with one hash apart.
    private struct Key: Hashable {
        var bucket: Int64, resource: Int64, scope: Int64, hash: UInt64
    }

    /// The combinations known to be stored, with their operations.
    private var known: [Key: [SpanBatchWriter.OperationKey]] = [:]
    private var count = 0
    private var cachedBytes = 0
    /// Partitions whose references are recorded (made by this version), as loaded by the writer.
    private var recorded: Set<Int64> = []

    static let cacheLimit = 10_000
    static let cacheBytesLimit = 2 << 20

    func load(_ db: Database) throws {
        recorded = try Self.buckets(db)
    }

    func partitionMade(_ bucket: Int64, hasTable: Bool) {
        if hasTable { recorded.insert(bucket) } else { recorded.remove(bucket) }
    }

    /// Records that a span of partition `bucket` refers to these rows (a row per combination, once).
    func record(
        bucket: Int64, resource: Int64, scope: Int64, operationHash: UInt64, service: String, name: UnsafeRawBufferPointer,
        kind: Int32, db: Database
    ) throws {
        guard recorded.contains(bucket) else { return }
        let key = Key(bucket: bucket, resource: resource, scope: scope, hash: operationHash)
        if let operations = known[key],
            operations.contains(where: { $0.kind == Int(kind) && $0.service == service && utf8($0.name, equals: name) })
        {
            return
        }
        let operation = SpanBatchWriter.OperationKey(service: service, name: String(decoding: name, as: UTF8.self), kind: Int(kind))
        try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO \(Self.table(bucket))(resource_id, scope_id, service, name, kind) VALUES (?, ?, ?, ?, ?)"
        ).execute(arguments: [resource, scope, operation.service, operation.name, operation.kind])
        // Bounded: at most `cacheLimit` combinations and `cacheBytesLimit` bytes of names; a name too long for
        // the writer's caches is not kept (the next span with it inserts again, ignored).
        let bytes = operation.service.utf8.count + operation.name.utf8.count
        guard bytes <= SpanBatchWriter.cacheKeyLimit else { return }
        if count >= Self.cacheLimit || cachedBytes + bytes > Self.cacheBytesLimit { reset() }
        known[key, default: []].append(operation)
        count += 1
        cachedBytes += bytes
    }

    func forget(bucket: Int64) {
        recorded.remove(bucket)
        reset()
    }

    /// Forgets every combination (after a rolled-back transaction, or when the set is full).
    func reset() {
        known.removeAll()
        count = 0
        cachedBytes = 0
    }
}
