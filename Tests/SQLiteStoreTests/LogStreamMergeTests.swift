import CollectorCore
import Foundation
import Testing

@testable import SQLiteStore

@Suite("Log stream merge")
struct LogStreamMergeTests {
    private static func row(time: Int64, rowID: Int64, stream: Int64) -> StoredLogRow {
        StoredLogRow(
            bucket: 0, rowID: rowID, stream: stream, time: time, severity: 9, traceID: nil, spanID: nil, line: "", record: Data(),
            recordDictionary: nil)
    }

    /// Hundreds of streams of different lengths (some empty), times repeating across them: the merge gives exactly
    /// the order of one sort by (time, row id), in both directions.
    @Test(arguments: [UInt64(1), 2, 3])
    func manyStreamsMergeIntoTheOrderOfOneSort(seed: UInt64) throws {
        var rng = SeededRandom(seed: seed)
        var nextRowID: Int64 = 1
        var streams: [[StoredLogRow]] = []
        for stream in 0..<300 {
            let count = Int(rng.next() % 20)
            streams.append(
                (0..<count).map { _ in
                    defer { nextRowID += 1 }
                    return Self.row(time: Int64(rng.next() % 500), rowID: nextRowID, stream: Int64(stream))
                })
        }
        let all = streams.flatMap { $0 }
        for newestFirst in [true, false] {
            let before: (StoredLogRow, StoredLogRow) -> Bool = { a, b in
                newestFirst ? (a.time, a.rowID) > (b.time, b.rowID) : (a.time, a.rowID) < (b.time, b.rowID)
            }
            let cursors: [() throws -> StoredLogRow?] = streams.map { rows in
                var iterator = rows.sorted(by: before).makeIterator()
                return { iterator.next() }
            }
            var merge = try LogStreamMerge(newestFirst: newestFirst, cursors: cursors)
            var merged: [Int64] = []
            while let row = try merge.next() { merged.append(row.rowID) }
            #expect(merged == all.sorted(by: before).map(\.rowID), "seed \(seed), newestFirst \(newestFirst)")
        }
    }
}
