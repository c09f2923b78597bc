import Foundation
import GRDB
import OTLP

/// What to read of the stored log records. Every condition narrows; the unset ones do not.
public struct LogQuery: Sendable {
    /// Time range, inclusive, in Unix nanoseconds (the record's time, or its observed time when unset).
    public var start: Int64 = 0
    public var end: Int64 = .max
    /// Only records of these streams (see ``LogReader/streams(start:end:)``); nil: all.
    public var streams: Set<Int64>?
    /// Only records whose severity number is at least this.
    public var minSeverity: Int32?
    public var traceID: Data?
    public var spanID: Data?
    /// Substrings the line must contain, all of them (case-sensitive, as LogQL's `|=`).
    public var lineContains: [String] = []
    /// Newest first (`true`, the default, as Loki's `backward`) or oldest first.
    public var newestFirst = true
    /// Only records that arrived after this cursor (the highest row id seen per partition, see
    /// ``LogReader/currentCursor()``), in arrival order; `newestFirst` is then ignored.
    public var arrivedAfter: [Int64: Int64]?
    /// The longest the scan may take: SQLite's progress handler interrupts a statement that runs past it (a filter
    /// that matches nothing reads the whole range inside one step), and the scan then ends early.
    public var timeBudget: Duration?

    public init() {}
}

/// A log stream: the records of one resource, scope and level, with the labels Loki's API shows for them.
public struct LogStream: Sendable, Equatable {
    public var id: Int64
    public var service: String
    public var labels: [String: String]
}

/// One stored log record as its row holds it.
public struct StoredLogRow: Sendable {
    public var bucket: Int64
    public var rowID: Int64
    public var stream: Int64
    public var time: Int64
    public var severity: Int32
    public var traceID: Data?
    public var spanID: Data?
    /// The body as text (a string body as it is; other bodies rendered, see ``LogBatchWriter``).
    public var line: String
    /// The `record` column: protobuf, or compressed with `recordDictionary` (``CompressedBody``), decompressed
    /// only when the record is asked for.
    var record: Data
    var recordDictionary: ZstdDictionaryCodec.DigestedDictionary?

    /// The record as received.
    public func logRecord() throws -> LogRecord {
        let bytes = try StoredBodies.protobuf(record, table: .logs) { id in
            guard let recordDictionary else { throw TraceReaderError.corrupt("log record dictionary \(id) is missing") }
            return recordDictionary
        }
        var r = try LogRecord(serializedBytes: bytes)
        r.severityNumber = Opentelemetry_Proto_Logs_V1_SeverityNumber(rawValue: Int(severity)) ?? .unspecified
        if let traceID { r.traceID = traceID }
        if let spanID { r.spanID = spanID }
        // A non-empty string body is kept only in `line`; any other body stays in the record.
        if !r.hasBody, !line.isEmpty { r.body.stringValue = line }
        return r
    }
}

/// Reads log records back from a database written by ``SQLiteTraceStore``.
public struct LogReader: Sendable {
    let reader: any DatabaseReader
    let dictionaries: ZstdDictionaryCache

    public init(_ traces: TraceReader) {
        reader = traces.reader
        dictionaries = traces.dictionaries
    }

    /// Number of stored log records (all partitions).
    public func recordCount() throws -> Int {
        try reader.read { db in
            var total = 0
            for b in try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions") where try db.tableExists(SQLiteSchema.logsTable(b)) {
                total += try Int.fetchOne(db, sql: "SELECT count(*) FROM \(SQLiteSchema.logsTable(b))") ?? 0
            }
            return total
        }
    }

    /// A time that splits the records from `start` to `end` (inclusive, nanoseconds) into two parts of about the same
    /// size, estimated from row ids: records are numbered in arrival order, which follows their time closely, so
    /// the first and the last record of the range are found by a binary search over row ids (a few dozen probes of
    /// the table, whatever the number of records), and the record halfway between them gives the time. Records
    /// that arrive out of time order only make the parts less even. Nil when the range holds fewer than
    /// `minimumRecords`.
    public func splitTime(start: Int64, end: Int64, minimumRecords: Int64) throws -> Int64? {
        try reader.read { db in
            guard try db.tableExists("partitions") else { return nil }
            let buckets = try Int64.fetchAll(
                db, sql: "SELECT bucket FROM partitions WHERE end_ns > ? AND start_ns <= ? ORDER BY bucket", arguments: [start, end])
            var ranges: [(table: String, first: Int64, count: Int64)] = []
            for b in buckets {
                let table = SQLiteSchema.logsTable(b)
                // Two statements: SQLite answers min() or max() alone with one seek, but both at once with a scan.
                guard try db.tableExists(table),
                    let lowest = try Int64.fetchOne(db, sql: "SELECT min(rowid) FROM \(table)"),
                    let highest = try Int64.fetchOne(db, sql: "SELECT max(rowid) FROM \(table)")
                else { continue }
                let time = try db.makeStatement(sql: "SELECT time_ns FROM \(table) WHERE rowid >= ? ORDER BY rowid LIMIT 1")
                let first = try Self.firstRow(time, from: lowest, through: highest, atLeast: start)
                let last = end == .max ? highest : try Self.firstRow(time, from: lowest, through: highest, atLeast: end + 1) - 1
                guard first <= last else { continue }
                ranges.append((table, first, last - first + 1))
            }
            let total = ranges.reduce(Int64(0)) { $0 &+ $1.count }
            guard total >= minimumRecords else { return nil }
            var middle = total / 2
            for r in ranges {
                if middle < r.count {
                    return try Int64.fetchOne(
                        db, sql: "SELECT time_ns FROM \(r.table) WHERE rowid >= ? ORDER BY rowid LIMIT 1", arguments: [r.first + middle])
                }
                middle -= r.count
            }
            return nil
        }
    }

    /// The lowest row id from `lowest` through `highest` whose record's time is at least `time`, as if times rose
    /// with row ids; `highest + 1` when none is. `timeOfRow` reads the time of the first row at or after a row id.
    private static func firstRow(_ timeOfRow: Statement, from lowest: Int64, through highest: Int64, atLeast time: Int64) throws -> Int64 {
        var low = lowest
        var high = highest < .max ? highest + 1 : highest
        while low < high {
            let middle = low + (high - low) / 2
            guard let t = try Int64.fetchOne(timeOfRow, arguments: [middle]) else { break }
            if t >= time { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// The streams with records in partitions overlapping `start`…`end` (nanoseconds).
    public func streams(start: Int64 = 0, end: Int64 = .max) throws -> [LogStream] {
        try reader.read { db in
            guard try db.tableExists("log_streams") else { return [] }
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT id, service, labels FROM log_streams WHERE id IN (
                        SELECT b.stream_id FROM log_stream_buckets b JOIN partitions p ON p.bucket = b.bucket
                        WHERE p.end_ns > ? AND p.start_ns <= ?)
                    ORDER BY id
                    """, arguments: [start, end]
            ).map { LogStream(id: $0[0], service: $0[1], labels: LogStreamLabels.parse($0[2])) }
        }
    }

    /// Visits the records `query` selects in time order (newest first unless asked otherwise) until `visit`
    /// returns false or none are left. Partitions are read one after another, so the order holds across them
    /// except for records whose time lies far outside the retained window (filed in the nearest partition).
    /// Returns false when the query's time budget ended the scan (or a partition's records were so far out of time
    /// order that reading them in order would hold more than ``LogBlockScan/heldLimit`` of them at once).
    @discardableResult
    public func scan(_ query: LogQuery, visit: (StoredLogRow) throws -> Bool) throws -> Bool {
        if let streams = query.streams, streams.isEmpty { return true }
        return try reader.read { db in
            guard let budget = query.timeBudget else {
                try scan(db, query, visit: visit)
                return true
            }
            let deadline = Deadline(after: budget)
            do {
                try deadline.interrupting(db) { try scan(db, query, visit: visit) }
                return true
            } catch let error as DatabaseError where error.resultCode == .SQLITE_INTERRUPT {
                return false
            }
        }
    }

    private func scan(_ db: Database, _ query: LogQuery, visit: (StoredLogRow) throws -> Bool) throws {
        guard try db.tableExists("log_streams") else { return }
        let order = query.newestFirst && query.arrivedAfter == nil ? "DESC" : "ASC"
        let buckets = try Int64.fetchAll(
            db,
            sql: """
                SELECT bucket FROM partitions WHERE end_ns > ? AND start_ns <= ? ORDER BY bucket \(order)
                """, arguments: [query.start == 0 ? Int64.min : query.start, query.end])
        var conditions = ["time_ns >= ?", "time_ns <= ?"]
        var arguments: [any DatabaseValueConvertible] = [query.start, query.end]
        if let min = query.minSeverity {
            conditions.append("severity >= ?")
            arguments.append(Int64(min))
        }
        if let s = query.spanID {
            conditions.append("span_id = ?")
            arguments.append(s)
        }
        for text in query.lineContains where !text.isEmpty {
            conditions.append("\(ContainsFunction.name)(line, ?)")
            arguments.append(text)
        }
        let columns = "rowid, stream_id, time_ns, severity, trace_id, span_id, line, record"
        let bodies = StoredBodies(db, table: .logs, cache: dictionaries)
        let inTimeOrder = query.arrivedAfter == nil && query.traceID == nil
        for b in buckets {
            let table = SQLiteSchema.logsTable(b)
            guard try db.tableExists(table) else { continue }
            let streams = query.streams
            // A partition without indexes on the records (all but those of an earlier otelsink): by block.
            if inTimeOrder, try !Self.hasRecordIndexes(db, bucket: b), try db.tableExists(SQLiteSchema.logTimeBlocksTable(b)) {
                let one = try db.makeStatement(sql: "SELECT \(columns) FROM \(table) WHERE rowid = ?")
                let finished = try LogBlockScan.rowIDs(
                    db, bucket: b, streams: streams, conditions: conditions, arguments: arguments, start: query.start, end: query.end,
                    newestFirst: order == "DESC"
                ) { rowID in
                    guard let row = try Row.fetchOne(one, arguments: [rowID]) else { return true }
                    return try visit(Self.stored(row, bucket: b, bodies))
                }
                if !finished { return }
                continue
            }
            // A partition of an earlier otelsink: several streams in time order, one range of the (stream, time) index
            // each, merged.
            if inTimeOrder, let streams, (2...Self.maxMergedStreams).contains(streams.count) {
                let sql = """
                    SELECT \(columns) FROM \(table) WHERE stream_id = ? AND \(conditions.joined(separator: " AND "))
                    ORDER BY time_ns \(order), rowid \(order)
                    """
                var merge = try LogStreamMerge(
                    newestFirst: order == "DESC",
                    cursors: streams.sorted().map { stream in
                        let cursor = try Row.fetchCursor(db, sql: sql, arguments: StatementArguments([stream] + arguments))
                        return { try cursor.next().map { try Self.stored($0, bucket: b, bodies) } }
                    })
                while let row = try merge.next() {
                    if try !visit(row) { return }
                }
                continue
            }
            var where_ = conditions
            var bucketArguments = arguments
            var source = table
            if let t = query.traceID {
                if try db.tableExists(SQLiteSchema.logTracesTable(b)) {
                    // A partition of an earlier otelsink: the trace's number (one probe), then its records.
                    where_.append("trace_seq = (SELECT seq FROM \(SQLiteSchema.logTracesTable(b)) WHERE trace_id = ?)")
                } else {
                    // The record ranges the block index names (LogTraceBlocks), read by rowid: no index of the
                    // table helps more, and SQLite must not pick the time index and read the whole range.
                    let ranges = try LogTraceBlocks.ranges(db, bucket: b, traceID: t)
                    if ranges.isEmpty { continue }
                    where_.append("(" + ranges.map { "rowid BETWEEN \($0.lowerBound) AND \($0.upperBound)" }.joined(separator: " OR ") + ")")
                    where_.append("trace_id = ?")
                    source = "\(table) NOT INDEXED"
                }
                bucketArguments.append(t)
            }
            if let streams { where_.append(Self.streamCondition(streams)) }
            var ordering = "time_ns \(order), rowid \(order)"
            if let after = query.arrivedAfter {
                where_.append("rowid > ?")
                bucketArguments.append(after[b] ?? 0)
                ordering = "rowid"
            }
            let cursor = try Row.fetchCursor(
                db,
                sql: """
                    SELECT \(columns) FROM \(source) WHERE \(where_.joined(separator: " AND ")) ORDER BY \(ordering)
                    """, arguments: StatementArguments(bucketArguments))
            while let row = try cursor.next() {
                if try !visit(Self.stored(row, bucket: b, bodies)) { return }
            }
        }
    }

    /// The most streams read as separate index ranges and merged; more are read with `IN` (and sorted by SQLite).
    static let maxMergedStreams = 64

    /// SQL that keeps the records of `streams` (ids, never empty: ``scan(_:visit:)`` answers an empty set itself).
    static func streamCondition(_ streams: Set<Int64>) -> String {
        "stream_id IN (\(streams.sorted().map(String.init).joined(separator: ",")))"
    }

    /// Whether partition `bucket`'s logs table has indexes on time and on (stream, time) (partitions of an earlier
    /// otelsink do; they are checked by the first).
    static func hasRecordIndexes(_ db: Database, bucket: Int64) throws -> Bool {
        try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?)"),
            arguments: [SQLiteSchema.logsTimeIndex(bucket)]) ?? false
    }

    private static func stored(_ row: Row, bucket: Int64, _ bodies: StoredBodies) throws -> StoredLogRow {
        let record: Data = row[7]
        return StoredLogRow(
            bucket: bucket, rowID: row[0], stream: row[1], time: row[2], severity: Int32(clamping: row[3] as Int64),
            traceID: row[4], spanID: row[5], line: row[6], record: record, recordDictionary: try bodies.dictionary(of: record))
    }

    /// Records that arrived after `cursor` (the highest row id seen per partition), in arrival order, at most
    /// `limit`; for following new records as they come. Advances `cursor` past what it returns.
    public func arrivals(after cursor: inout [Int64: Int64], query: LogQuery, limit: Int) throws -> [StoredLogRow] {
        var rows: [StoredLogRow] = []
        var scanQuery = query
        scanQuery.arrivedAfter = cursor
        // The bounds are for record times; arrivals are asked by arrival, whatever their time.
        scanQuery.start = .min
        scanQuery.end = .max
        try scan(scanQuery) { row in
            rows.append(row)
            return rows.count < limit
        }
        for row in rows { cursor[row.bucket] = max(cursor[row.bucket] ?? 0, row.rowID) }
        return rows
    }

    /// The highest row id of every partition now: a cursor from which ``arrivals(after:query:limit:)`` returns only
    /// records written later.
    public func currentCursor() throws -> [Int64: Int64] {
        try reader.read { db in
            var cursor: [Int64: Int64] = [:]
            for b in try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions") {
                let table = SQLiteSchema.logsTable(b)
                guard try db.tableExists(table) else { continue }
                cursor[b] = try Int64.fetchOne(db, sql: "SELECT coalesce(max(rowid), 0) FROM \(table)") ?? 0
            }
            return cursor
        }
    }

    /// `rows` as an OTLP request, grouped by resource and scope in the order of their first record.
    public func request(_ rows: [StoredLogRow]) throws -> ExportLogsRequest {
        try reader.read { db in
            var request = ExportLogsRequest()
            var streamPlace: [Int64: (resource: Int, scope: Int)] = [:]
            var resourceIndex: [Int64: Int] = [:]
            var scopeIndex: [Int64: [Int64: Int]] = [:]
            for row in rows {
                let place: (resource: Int, scope: Int)
                if let known = streamPlace[row.stream] {
                    place = known
                } else {
                    guard
                        let ids = try Row.fetchOne(
                            db, sql: "SELECT resource_id, scope_id FROM log_streams WHERE id = ?", arguments: [row.stream])
                    else { continue }
                    let resourceID: Int64 = ids[0]
                    let scopeID: Int64 = ids[1]
                    let ri: Int
                    if let i = resourceIndex[resourceID] {
                        ri = i
                    } else {
                        let body = try Data.fetchOne(db, sql: "SELECT body FROM resources WHERE id = ?", arguments: [resourceID]) ?? Data()
                        var rl = try ResourceLogs(serializedBytes: body)
                        rl.scopeLogs = []
                        request.resourceLogs.append(rl)
                        ri = request.resourceLogs.count - 1
                        resourceIndex[resourceID] = ri
                    }
                    let si: Int
                    if let i = scopeIndex[resourceID]?[scopeID] {
                        si = i
                    } else {
                        let body = try Data.fetchOne(db, sql: "SELECT body FROM scopes WHERE id = ?", arguments: [scopeID]) ?? Data()
                        var sl = try Opentelemetry_Proto_Logs_V1_ScopeLogs(serializedBytes: body)
                        sl.logRecords = []
                        request.resourceLogs[ri].scopeLogs.append(sl)
                        si = request.resourceLogs[ri].scopeLogs.count - 1
                        scopeIndex[resourceID, default: [:]][scopeID] = si
                    }
                    place = (ri, si)
                    streamPlace[row.stream] = place
                }
                request.resourceLogs[place.resource].scopeLogs[place.scope].logRecords.append(try row.logRecord())
            }
            return request
        }
    }
}
