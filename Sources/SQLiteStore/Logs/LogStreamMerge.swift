/// Several streams' records in one time order: each stream's range of the `(stream_id, time_ns)` index is read by a
/// cursor of its own, and the cursors' next rows are kept in a heap, so the first rows come without reading the rest
/// (with `stream_id IN (…)`, SQLite reads and sorts every row of the range before returning one).
struct LogStreamMerge {
    /// A stream's next row and the cursor the rest come from.
    private struct Head {
        var row: StoredLogRow
        let next: () throws -> StoredLogRow?
    }

    private var heads: OrderedHeap<Head>

    /// `cursors`: one per stream, each returning its rows in the merge's order (time, then row id; newest first
    /// when `newestFirst`), nil when done.
    init(newestFirst: Bool, cursors: [() throws -> StoredLogRow?]) throws {
        heads = OrderedHeap { a, b in
            newestFirst ? (a.row.time, a.row.rowID) > (b.row.time, b.row.rowID) : (a.row.time, a.row.rowID) < (b.row.time, b.row.rowID)
        }
        for next in cursors {
            if let row = try next() { heads.insert(Head(row: row, next: next)) }
        }
    }

    /// The next row of all streams, nil when every cursor is done.
    mutating func next() throws -> StoredLogRow? {
        guard let top = heads.first else { return nil }
        if let row = try top.next() {
            heads.replaceFirst(with: Head(row: row, next: top.next))
        } else {
            _ = heads.removeFirst()
        }
        return top.row
    }
}
