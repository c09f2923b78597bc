import CollectorCore
import Foundation
import GRDB
import OTLP

/// Reads traces back from a database written by ``SQLiteTraceStore``, as OTLP.
///
/// Opens the file read-only when given a path, so it is safe while a server writes to it (WAL readers never block
/// the writer).
public struct TraceReader: Sendable {
    let reader: any DatabaseReader
    /// Where the database is, for messages ("the running store" when reading through a store's pool).
    public let source: String
    /// The dictionaries of compressed span bodies and log records, digested once for every read.
    let dictionaries = ZstdDictionaryCache()
    /// Which partitions find traces through `trace_ids_b`, read once per partition.
    let layouts = TraceIDLayouts()
    /// The running store's traces not yet in their partitions' `trace_ids_b` (nil when reading a file: its tails
    /// are read from the marks).
    let tails: TraceIDTails?

    /// Reads through a running store's pool.
    public init(store: SQLiteTraceStore) {
        reader = store.pool
        source = store.config.path
        tails = store.traceIDTails
    }

    /// Opens `path` read-only.
    public init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw TraceReaderError.noDatabase(path)
        }
        var config = Configuration()
        config.readonly = true
        config.prepareDatabase { db in
            try ContainsFunction.register(on: db)
            try SpanSlots.register(on: db)
        }
        let pool = try DatabasePool(path: path, configuration: config)
        // A file written with another layout would fail on its first query with SQLite's words; say it plainly.
        let version = try pool.read { db in
            try db.tableExists("meta") ? String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'schema_version'") : nil
        }
        guard let version, SQLiteSchema.readableVersions.contains(version) else {
            throw TraceReaderError.unsupportedVersion(path, version)
        }
        reader = pool
        source = path
        tails = nil
    }

    /// The trace with `traceID` (16 bytes) as an OTLP request, resources and scopes grouped as received;
    /// nil when no span of it is stored.
    public func trace(id traceID: Data) throws -> ExportTraceRequest? {
        let lookup = TraceIDLookup(tails: tails, ids: [traceID])
        return try reader.read { db in
            let numbers = try traceNumbers(db, id: traceID, lookup: lookup, layout: layouts.layout(db))
            var rows: [StoredSpan] = []
            try forEachStoredSpan(db, id: traceID, numbers: numbers) { span in
                rows.append(span)
                return true
            }
            guard !rows.isEmpty else { return nil }
            return try assemble(db, rows)
        }
    }

    /// Where trace `id` is: each partition holding it, with its number there, oldest partition first.
    func traceNumbers(_ db: Database, id: Data, lookup: TraceIDLookup, layout: TraceIDLookup.Layout) throws -> [TraceNumber] {
        var out: [TraceNumber] = []
        for b in try Int64.fetchAll(db.cachedStatement(sql: "SELECT bucket FROM partitions ORDER BY bucket")) {
            for seq in try lookup.seqs(db, bucket: b, id: id, layout: layout) {
                out.append(
                    TraceNumber(bucket: b, seq: seq, clustered: layout.withClusteredRows.contains(b), chunked: layout.withSpanChunks.contains(b)))
            }
        }
        return out
    }

    /// Calls `body` with each stored span of trace `id` at `numbers` (rows of `spans_b`, or the spans of its chunks:
    /// ``SpanChunks``), until it returns false; false when it did. `withBody: false` leaves rows' bodies empty (a
    /// chunk's spans are read from its body either way).
    @discardableResult
    func forEachStoredSpan(
        _ db: Database, id: Data, numbers: [TraceNumber], withBody: Bool = true, _ body: (StoredSpan) throws -> Bool
    ) throws -> Bool {
        var bodies: StoredBodies?
        for n in numbers {
            // The trace ID is checked as well: a number the tails gave for a rolled-back trace may have been reused.
            if n.chunked {
                guard let first = SpanSlots.firstRow(seq: n.seq), let last = SpanSlots.lastRow(seq: n.seq) else { continue }
                let statement = try db.cachedStatement(
                    sql: "SELECT resource_id, scope_id, service, body FROM \(SpanChunks.table(n.bucket)) WHERE rowid BETWEEN ? AND ? AND trace_id = ?"
                )
                let chunks = try Row.fetchCursor(statement, arguments: [first, last, id])
                let reader = bodies ?? spanBodies(db)
                bodies = reader
                while let chunk = try chunks.next() {
                    let protobuf = try reader.protobuf(chunk[3])
                    for span in try SpanChunks.spans(protobuf, resource: chunk[0], scope: chunk[1], service: chunk[2], withBody: withBody) {
                        if try !body(span) { return false }
                    }
                }
                continue
            }
            let columns = StoredSpan.columns(withBody: withBody)
            let cursor: RowCursor
            if n.clustered {
                guard let first = SpanSlots.firstRow(seq: n.seq), let last = SpanSlots.lastRow(seq: n.seq) else { continue }
                let statement = try db.cachedStatement(
                    sql: "SELECT \(columns) FROM \(SQLiteSchema.spansTable(n.bucket)) s WHERE s.rowid BETWEEN ? AND ? AND s.trace_id = ?")
                cursor = try Row.fetchCursor(statement, arguments: [first, last, id])
            } else {
                let statement = try db.cachedStatement(
                    sql: "SELECT \(columns) FROM \(SQLiteSchema.spansTable(n.bucket)) s WHERE s.trace_seq = ? AND s.trace_id = ?")
                cursor = try Row.fetchCursor(statement, arguments: [n.seq, id])
            }
            while let row = try cursor.next() {
                if try !body(StoredSpan(row, from: 0)) { return false }
            }
        }
        return true
    }

    /// Builds one trace's OTLP request from its span rows: sorted by start (then span ID), resources and scopes
    /// grouped as received.
    func assemble(_ db: Database, _ spanRows: [StoredSpan]) throws -> ExportTraceRequest {
        let rows = spanRows.sorted(by: StoredSpan.traceOrder)
        let spans = try decode(db, rows)
        var request = ExportTraceRequest()
        var resourceIndex: [Int64: Int] = [:]
        var scopeIndex: [Int64: [Int64: Int]] = [:]
        var resourceCache: [Int64: ResourceSpans] = [:]
        var scopeCache: [Int64: ScopeSpans] = [:]
        for (row, span) in zip(rows, spans) {
            let ri: Int
            if let i = resourceIndex[row.resource] {
                ri = i
            } else {
                let rs = try resourceCache[row.resource] ?? loadResource(db, row.resource)
                resourceCache[row.resource] = rs
                request.resourceSpans.append(rs)
                ri = request.resourceSpans.count - 1
                resourceIndex[row.resource] = ri
            }
            let si: Int
            if let i = scopeIndex[row.resource]?[row.scope] {
                si = i
            } else {
                let ss = try scopeCache[row.scope] ?? loadScope(db, row.scope)
                scopeCache[row.scope] = ss
                request.resourceSpans[ri].scopeSpans.append(ss)
                si = request.resourceSpans[ri].scopeSpans.count - 1
                scopeIndex[row.resource, default: [:]][row.scope] = si
            }
            request.resourceSpans[ri].scopeSpans[si].spans.append(span)
        }
        return request
    }

    /// The spans of `rows`, in order. A large trace's bodies are decompressed and decoded on every core at once
    /// (a 10,000-span trace takes tens of milliseconds on one), each range with its own decompression context.
    func decode(_ db: Database, _ rows: [StoredSpan], parallelMinimum: Int = parallelDecodeMinimum) throws -> [Span] {
        try mapBodies(db, rows, parallelMinimum: parallelMinimum) { row, bodies in try row.span(bodies) }
    }

    /// `transform` of every row with the bodies' reader, in order; on every core at once for a large trace.
    func mapBodies<T: Sendable>(
        _ db: Database, _ rows: [StoredSpan], parallelMinimum: Int = parallelDecodeMinimum,
        _ transform: @escaping @Sendable (StoredSpan, StoredBodies) throws -> T
    ) throws -> [T] {
        let bodies = spanBodies(db)
        guard rows.count / 2 >= parallelMinimum else {
            return try rows.map { try transform($0, bodies) }
        }
        let dictionaries = try bodies.dictionaries(for: rows.lazy.map(\.body))
        let parts = try ParallelRanges.map(count: rows.count, minimumPerRange: parallelMinimum) { range in
            let bodies = StoredBodies(dictionaries: dictionaries, table: .spans)
            return try rows[range].map { try transform($0, bodies) }
        }
        return Array(parts.joined())
    }

    /// Spans each thread decodes at least: below twice this, one thread decodes all.
    static let parallelDecodeMinimum = 1000

    /// Reads span bodies within the read `db`.
    func spanBodies(_ db: Database) -> StoredBodies { StoredBodies(db, table: .spans, cache: dictionaries) }

    func loadResource(_ db: Database, _ id: Int64) throws -> ResourceSpans {
        guard let body = try Data.fetchOne(db.cachedStatement(sql: "SELECT body FROM resources WHERE id = ?"), arguments: [id]) else {
            throw TraceReaderError.corrupt("resource \(id) is missing")
        }
        return try ResourceSpans(serializedBytes: body)
    }

    func loadScope(_ db: Database, _ id: Int64) throws -> ScopeSpans {
        guard let body = try Data.fetchOne(db.cachedStatement(sql: "SELECT body FROM scopes WHERE id = ?"), arguments: [id]) else {
            throw TraceReaderError.corrupt("scope \(id) is missing")
        }
        return try ScopeSpans(serializedBytes: body)
    }

    /// Number of stored spans (all partitions).
    public func spanCount() throws -> Int {
        try reader.read { db in
            var total = 0
            let chunked = try layouts.layout(db).withSpanChunks
            for b in try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions") {
                let sql =
                    chunked.contains(b)
                    ? "SELECT coalesce(sum(span_count), 0) FROM \(SpanChunks.table(b))" : "SELECT count(*) FROM \(SQLiteSchema.spansTable(b))"
                total += try Int.fetchOne(db, sql: sql) ?? 0
            }
            return total
        }
    }

    /// Services that sent spans, sorted.
    public func services() throws -> [String] {
        try reader.read { db in try String.fetchAll(db, sql: "SELECT DISTINCT service FROM operations ORDER BY service") }
    }

    /// Partitions currently stored, oldest first.
    public func partitions() throws -> [Int64] {
        try reader.read { db in try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions ORDER BY bucket") }
    }

    /// Bytes of the file's free pages (reused before the file grows; given back when it is over `max_size_mib`),
    /// and the tables of dropped partitions still being emptied (``RetiredTables``).
    public func freeSpace() throws -> (freeBytes: Int64, retiredTables: Int) {
        try reader.read { db in
            let pages = try SQLiteTraceStore.pageUsage(db)
            return (pages.file - pages.used, try RetiredTables.names(db).count)
        }
    }
}

/// A trace's sequence number in one partition, and whether that partition's rows are clustered by trace
/// (``SpanSlots``) or it stores chunks (``SpanChunks``).
struct TraceNumber {
    var bucket: Int64, seq: Int64, clustered: Bool, chunked: Bool
}

public enum TraceReaderError: Error, CustomStringConvertible {
    case noDatabase(String)
    case corrupt(String)
    /// The file is not an otelsink database of the layout this version reads (the stored version, if any).
    case unsupportedVersion(String, String?)

    public var description: String {
        switch self {
        case .noDatabase(let p): "no database at \(p)"
        case .corrupt(let m): "database is inconsistent: \(m)"
        case .unsupportedVersion(let p, let v?):
            "\(p) has storage schema version \(v); this otelsink reads versions \(Self.list(SQLiteSchema.readableVersions.sorted { (Int($0) ?? 0) < (Int($1) ?? 0) }))"
        case .unsupportedVersion(let p, nil): "\(p) is not an otelsink trace database"
        }
    }

    /// "2", "2 and 3", "2, 3 and 4".
    private static func list(_ items: [String]) -> String {
        guard let last = items.last, items.count > 1 else { return items.first ?? "" }
        return items.dropLast().joined(separator: ", ") + " and " + last
    }
}

/// One span as read back: a row of `spans_b`, or a span of a chunk (``SpanChunks``). A row's body (perhaps
/// compressed: ``CompressedBody``) lacks the fields the row keeps in columns (see `SpanBatchWriter.fieldsInColumns`);
/// ``span(_:)`` puts them back. Rows written before that change hold every field in the body, with the same values as
/// the columns, so both read back alike. A chunk's span (`complete`) has every field in its body, uncompressed.
struct StoredSpan: Sendable {
    var resource: Int64, scope: Int64, start: Int64, body: Data
    var traceID: Data, spanID: Data, parentSpanID: Data, name: String, kind: Int
    var service: String, duration: Int64, statusCode: Int
    /// The body is the span's whole protobuf, uncompressed (a chunk's span).
    var complete = false

    /// The columns to select (spans table aliased `s`), in the order ``init(_:from:)`` reads them, with an empty blob
    /// for the body when the reader does not need it. The name is read as a blob: GRDB reads text as a C string, which
    /// would cut a name at a NUL character.
    static func columns(withBody: Bool) -> String {
        "s.resource_id, s.scope_id, s.start_ns, \(withBody ? "s.body" : "x''"), s.trace_id, s.span_id, s.parent_span_id, CAST(s.name AS BLOB), s.kind, "
            + "s.service, s.duration_ns, s.status_code"
    }

    /// The order a trace's spans are given in: by start, and spans starting together by span ID, so that the order
    /// does not depend on where the rows are (arrival order, or slots in a partition clustered by trace).
    static func traceOrder(_ a: StoredSpan, _ b: StoredSpan) -> Bool {
        a.start != b.start ? a.start < b.start : a.spanID.lexicographicallyPrecedes(b.spanID)
    }

    init(
        resource: Int64, scope: Int64, start: Int64, body: Data, traceID: Data, spanID: Data, parentSpanID: Data, name: String,
        kind: Int, service: String, duration: Int64, statusCode: Int, complete: Bool
    ) {
        self.resource = resource
        self.scope = scope
        self.start = start
        self.body = body
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.name = name
        self.kind = kind
        self.service = service
        self.duration = duration
        self.statusCode = statusCode
        self.complete = complete
    }

    init(_ row: Row, from i: Int) {
        resource = row[i]
        scope = row[i + 1]
        start = row[i + 2]
        body = row[i + 3]
        traceID = row[i + 4]
        spanID = row[i + 5]
        parentSpanID = row[i + 6]
        name = String(decoding: (row[i + 7] as Data?) ?? Data(), as: UTF8.self)
        kind = row[i + 8]
        service = row[i + 9]
        duration = row[i + 10]
        statusCode = row[i + 11]
    }

    func span(_ bodies: StoredBodies) throws -> Span {
        if complete { return try Span(serializedBytes: body) }
        var span = try Span(serializedBytes: bodies.protobuf(body))
        Self.restoreColumns(
            &span, traceID: traceID, spanID: spanID, parentSpanID: parentSpanID, name: name, kind: kind, start: start)
        return span
    }

    /// Fills the fields a stored body may lack from the row's columns. A field the body holds is left as it is.
    static func restoreColumns(
        _ span: inout Span, traceID: Data, spanID: Data, parentSpanID: Data, name: String, kind: Int, start: Int64
    ) {
        if span.traceID.isEmpty { span.traceID = traceID }
        if span.spanID.isEmpty { span.spanID = spanID }
        if span.parentSpanID.isEmpty && !parentSpanID.isEmpty { span.parentSpanID = parentSpanID }
        if span.name.isEmpty && !name.isEmpty { span.name = name }
        restoreKind(&span, kind)
        if span.startTimeUnixNano == 0 && start > 0 { span.startTimeUnixNano = UInt64(start) }
    }

    /// Fills the span's kind from its column when the body lacks it.
    static func restoreKind(_ span: inout Span, _ kind: Int) {
        if span.kind.rawValue == 0 && kind != 0 { span.kind = Span.SpanKind(rawValue: kind) ?? .unspecified }
    }
}
