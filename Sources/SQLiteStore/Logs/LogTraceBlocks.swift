import Foundation
import GRDB
import GRDBSQLite

/// How a partition's log records are found by trace ID: a block index (`log_trace_blocks_b`).
///
/// Records are numbered in arrival order (their rowid); every ``blockSize`` numbers make a block. When the writer
/// leaves a block — in the transaction that stores the first record after it, or at the end of a transaction that
/// wrote to an older partition than the newest — it writes one row per trace it saw there: the block, a hash of the
/// trace ID, and the first and last record number of that trace in the block; and it moves the partition's
/// watermark (the row of block −1) to the last record covered. Those rows are keyed by block first, so they are
/// appended at the end of the index, as the records are: a trace ID index, whose random keys put each new trace on
/// a page of its own, cost a page write per trace per commit (2.5 µs of CPU and 770 bytes written per record on the
/// logs workload; docs/performance.md).
///
/// A reader asks every block for the trace's hash (one index probe each) and reads the record ranges found plus
/// the records after the watermark (fewer than ``blockSize`` in the partition being written, none in the others),
/// keeping those with the trace ID (a hash may collide). Partitions written before this index keep theirs
/// (`log_traces_b`, see ``SQLiteSchema``).
///
/// With the traces of a block the writer writes the streams it holds and the time range of each stream's records
/// in it (`log_time_blocks_b`), which is how records are read in time order without an index (``LogBlockScan``).
enum LogTraceBlocks {
    /// Record numbers per block: a power of two, so a record's block is its number shifted right.
    static let blockShift = 12
    static let blockSize = Int64(1) << blockShift

    static func block(ofRow row: Int64) -> Int64 { row >> blockShift }

    /// A stable 63-bit hash of a 16-byte trace ID (the same in every process: it is stored).
    static func hash(high: UInt64, low: UInt64) -> Int64 {
        var h = high ^ (low &* 0x9E37_79B9_7F4A_7C15)
        h ^= h >> 29
        h = h &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 32
        return Int64(bitPattern: h & UInt64(Int64.max))
    }

    static func hash(_ traceID: Data) -> Int64? {
        guard traceID.count == 16 else { return nil }
        return traceID.withUnsafeBytes { b in
            hash(high: b.loadUnaligned(fromByteOffset: 0, as: UInt64.self), low: b.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
    }

    /// The most record ranges one query names; a trace in more blocks is read as one range from its first to its
    /// last record.
    static let maxRanges = 256

    /// The record number ranges of partition `bucket` that may hold records of `traceID`, in ascending order; the
    /// last is open-ended (the records after the watermark).
    static func ranges(_ db: Database, bucket: Int64, traceID: Data) throws -> [ClosedRange<Int64>] {
        guard let h = hash(traceID) else { return [] }
        let table = SQLiteSchema.logTraceBlocksTable(bucket)
        let last = try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(block) FROM \(table)")) ?? -1
        let covered = try watermark(db, table: table)
        var ranges: [ClosedRange<Int64>] = []
        if last >= 0 {
            // One probe per block, through SQLite's own calls: a few hundred per million records.
            let probe = try db.cachedStatement(sql: "SELECT first_row, last_row FROM \(table) WHERE block = ? AND trace_hash = ?")
            let stmt = probe.sqliteStatement
            defer { sqlite3_reset(stmt) }
            for block in 0...last {
                sqlite3_reset(stmt)
                sqlite3_bind_int64(stmt, 1, block)
                sqlite3_bind_int64(stmt, 2, h)
                var rc = sqlite3_step(stmt)
                while rc == SQLITE_ROW {
                    let first = sqlite3_column_int64(stmt, 0)
                    let lastRow = sqlite3_column_int64(stmt, 1)
                    if first <= lastRow { ranges.append(first...lastRow) }
                    rc = sqlite3_step(stmt)
                }
                guard rc == SQLITE_DONE else {
                    throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
                }
            }
        }
        ranges.sort { $0.lowerBound < $1.lowerBound }
        if covered < Int64.max { ranges.append((covered + 1)...Int64.max) }
        if ranges.count > maxRanges, let lower = ranges.first?.lowerBound { return [lower...Int64.max] }
        return ranges
    }

    /// The block of the watermark row, whose `last_row` is the last record number the index covers.
    static let watermarkBlock: Int64 = -1

    /// The last record number the index of `table` covers (0 before any).
    static func watermark(_ db: Database, table: String) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT last_row FROM \(table) WHERE block = \(watermarkBlock)")) ?? 0
    }

    /// A partition's block being filled: its traces, with their first and last record numbers in it, the last
    /// record number seen, and its streams with the range of their records' times.
    struct OpenBlock {
        var block: Int64
        var traces: [SpanBatchWriter.TraceKey: (first: Int64, last: Int64)] = [:]
        var lastRow: Int64
        var streams: [Int64: ClosedRange<Int64>] = [:]
    }

    /// Writes the rows of the open block's traces and moves the watermark to its last record.
    static func write(_ open: OpenBlock, bucket: Int64, db: Database) throws {
        let table = SQLiteSchema.logTraceBlocksTable(bucket)
        let insert = try db.cachedStatement(sql: "INSERT OR IGNORE INTO \(table)(block, trace_hash, first_row, last_row) VALUES (?, ?, ?, ?)")
        let rows = open.traces.map { key, range in (hash: hash(high: key.high, low: key.low), range.first, range.last) }
            .sorted { ($0.hash, $0.1) < ($1.hash, $1.1) }
        let stmt = insert.sqliteStatement
        for row in rows {
            sqlite3_reset(stmt)
            sqlite3_bind_int64(stmt, 1, open.block)
            sqlite3_bind_int64(stmt, 2, row.hash)
            sqlite3_bind_int64(stmt, 3, row.1)
            sqlite3_bind_int64(stmt, 4, row.2)
            let rc = sqlite3_step(stmt)
            sqlite3_reset(stmt)
            guard rc == SQLITE_DONE else {
                throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
            }
        }
        let times = try db.cachedStatement(
            sql: "INSERT OR IGNORE INTO \(SQLiteSchema.logTimeBlocksTable(bucket))(block, stream_id, min_time, max_time) VALUES (?, ?, ?, ?)")
        for (stream, range) in open.streams.sorted(by: { $0.key < $1.key }) {
            try times.execute(arguments: [open.block, stream, range.lowerBound, range.upperBound])
        }
        try db.execute(
            sql: "INSERT OR REPLACE INTO \(table)(block, trace_hash, first_row, last_row) VALUES (\(watermarkBlock), 0, 0, ?)",
            arguments: [open.lastRow])
    }

    /// The open block of partition `bucket` as the database holds it: the records after the watermark, with every
    /// block among them that is left written first. After a restart or a rolled-back transaction, whose open blocks
    /// were in memory only, or when a partition is written to again.
    static func recover(bucket: Int64, db: Database) throws -> OpenBlock {
        let covered = try watermark(db, table: SQLiteSchema.logTraceBlocksTable(bucket))
        var open = OpenBlock(block: block(ofRow: covered + 1), lastRow: covered)
        let rows = try Row.fetchCursor(
            db, sql: "SELECT rowid, trace_id, time_ns, stream_id FROM \(SQLiteSchema.logsTable(bucket)) WHERE rowid > ? ORDER BY rowid",
            arguments: [covered])
        while let row = try rows.next() {
            let rowID: Int64 = row[0]
            let traceID = row[1] as Data?
            let key = traceID.flatMap { $0.count == 16 ? $0.withUnsafeBytes { SpanBatchWriter.TraceKey($0, 0..<16) } : nil }
            try add(rowID, time: row[2], stream: row[3], key: key, to: &open, bucket: bucket, db: db)
        }
        return open
    }

    /// Records that record `rowID` (of trace `key`, nil for a record without one; stored with `time` in `stream`) is
    /// in the open block, first writing the open block when the record starts a new one. Adding a record twice changes
    /// nothing.
    static func add(
        _ rowID: Int64, time: Int64, stream: Int64, key: SpanBatchWriter.TraceKey?, to open: inout OpenBlock, bucket: Int64, db: Database
    ) throws {
        let block = block(ofRow: rowID)
        if block != open.block {
            try write(open, bucket: bucket, db: db)
            open = OpenBlock(block: block, lastRow: open.lastRow)
        }
        open.lastRow = max(open.lastRow, rowID)
        open.streams[stream] = open.streams[stream].map { min($0.lowerBound, time)...max($0.upperBound, time) } ?? time...time
        guard let key else { return }
        if let known = open.traces[key] {
            open.traces[key] = (min(known.first, rowID), max(known.last, rowID))
        } else {
            open.traces[key] = (rowID, rowID)
        }
    }
}
