import GRDB

/// Reads a partition's records in time order without an index.
///
/// Records are numbered in arrival order, which follows their time closely but not exactly (clients' clocks, batches,
/// retries). For every block of 4,096 records the streams it holds are stored with the time range of each one's
/// records (`log_time_blocks_b`, written with the trace blocks by ``LogTraceBlocks``), so the blocks holding the
/// streams asked for are read newest first (by their latest time; oldest first by their earliest), the matching
/// records' times and row ids kept in a heap, and a record is given out once no block left to read could hold one
/// before it. The records past the watermark (the block being filled, at most 4,096) have no ranges yet and are read
/// first. A query that wants 100 records reads about the blocks that hold them, as an index on time would, and
/// skips the blocks without its streams, as an index on (stream, time) would, without what those indexes cost at
/// ingest (about 0.9 µs of CPU and 70 bytes written per record each). Blocks are read whole, so a stream that is a
/// small share of its blocks' records costs more to read than through an index.
///
/// Memory: 16 bytes per matching record read but not yet given out — a few blocks' worth, unless blocks overlap far
/// in time (records arriving in no order at all), when it could reach every matching record of the partition: past
/// ``heldLimit`` records the scan ends early, as it does at the query's time budget.
enum LogBlockScan {
    /// Rows `rows` (row ids), holding no record later than `bound` (newest first) or earlier (oldest first).
    private struct Segment {
        var rows: ClosedRange<Int64>
        var bound: Int64
    }

    /// The most records (time and row id) held while waiting for their turn: 16 MiB.
    static let heldLimit = 1 << 20

    /// Visits the row ids of partition `bucket`'s records of `streams` (nil: all) that meet `conditions` (SQL over
    /// the logs table's columns, with `arguments`), in time order, then row id; `start`/`end` (inclusive) must be
    /// among the conditions too: they only skip blocks here. Returns false when `visit` did, or when the records to
    /// hold before the next could be given out would pass `heldLimit`.
    static func rowIDs(
        _ db: Database, bucket: Int64, streams: Set<Int64>?, conditions: [String], arguments: [any DatabaseValueConvertible],
        start: Int64, end: Int64, newestFirst: Bool, heldLimit: Int = heldLimit, visit: (Int64) throws -> Bool
    ) throws -> Bool {
        let covered = try LogTraceBlocks.watermark(db, table: SQLiteSchema.logTraceBlocksTable(bucket))
        var segments: [Segment] = []
        let ofStreams = streams.map { " AND " + LogReader.streamCondition($0) } ?? ""
        let blocks = try Row.fetchCursor(
            db,
            sql: """
                SELECT block, min(min_time), max(max_time) FROM \(SQLiteSchema.logTimeBlocksTable(bucket))
                WHERE max_time >= ? AND min_time <= ?\(ofStreams) GROUP BY block
                """, arguments: [start, end])
        while let row = try blocks.next() {
            let block: Int64 = row[0]
            guard block >= 0 else { continue }
            let first = block << LogTraceBlocks.blockShift
            // A block the writer wrote early and then went on filling: its later rows are past the watermark.
            let last = min(first &+ (LogTraceBlocks.blockSize - 1), covered)
            guard first <= last else { continue }
            segments.append(Segment(rows: first...last, bound: newestFirst ? row[2] : row[1]))
        }
        segments.sort { newestFirst ? $0.bound > $1.bound : $0.bound < $1.bound }
        if covered < .max { segments.insert(Segment(rows: (covered + 1)...Int64.max, bound: newestFirst ? .max : .min), at: 0) }

        // The stream first: SQLite checks the conditions in order, and a block holds other streams' records.
        let filters = (streams.map { [LogReader.streamCondition($0)] } ?? []) + conditions
        let read = try db.makeStatement(
            sql: "SELECT rowid, time_ns FROM \(SQLiteSchema.logsTable(bucket)) WHERE rowid BETWEEN ? AND ? AND \(filters.joined(separator: " AND "))")
        var found = OrderedHeap<(time: Int64, rowID: Int64)> { a, b in
            newestFirst ? (a.time, a.rowID) > (b.time, b.rowID) : (a.time, a.rowID) < (b.time, b.rowID)
        }
        var next = 0
        while true {
            // Read every block that could hold a record coming before the first one found so far.
            while next < segments.count, found.first.map({ newestFirst ? segments[next].bound >= $0.time : segments[next].bound <= $0.time }) ?? true
            {
                let bounds: [any DatabaseValueConvertible] = [segments[next].rows.lowerBound, segments[next].rows.upperBound]
                let rows = try Row.fetchCursor(read, arguments: StatementArguments(bounds + arguments))
                while let row = try rows.next() {
                    guard found.count < heldLimit else { return false }
                    found.insert((row[1], row[0]))
                }
                next += 1
            }
            guard let first = found.removeFirst() else { return true }
            if try !visit(first.rowID) { return false }
        }
    }
}
