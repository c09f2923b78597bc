import Foundation
import GRDB
import OTLP
import Testing

@testable import SQLiteStore

/// Dropped partitions' tables: renamed out of sight at once, emptied in bounded steps afterwards
/// (``RetiredTables``).
@Suite struct RetiredTablesTests {
    /// 72h retention, 1h partitions, no size limit: retention by size empties retired tables first, which these
    /// tests do step by step.
    static func config(_ dir: URL) -> SQLiteStoreConfig { storeConfig(dir) { $0.maxSizeMiB = 0 } }

    private func retiredNames(_ store: SQLiteTraceStore) async throws -> [String] {
        try await store.pool.read { db in try RetiredTables.names(db) }
    }

    @Test func aDroppedPartitionIsGoneAtOnceAndItsTablesAreEmptiedInSteps() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: Self.config(dir))
            let now = nowNanos()
            let bucket = Int64(now / hourNanos)
            var old: [Data] = []
            for i in 0..<6 {
                let t = traceRequest(spans: 50, start: time(inBucket: bucket - 2, seconds: UInt64(i)))
                old.append(t.trace)
                try await store.append(t.request)
            }
            #expect(try await store.applyRetention(now: Int64(now + 71 * hourNanos)) == 1)
            let reader = TraceReader(store: store)
            #expect(try reader.partitions() == [])
            #expect(try reader.trace(id: old[0]) == nil)
            let retired = try await retiredNames(store)
            #expect(!retired.isEmpty)
            #expect(try reader.freeSpace().retiredTables == retired.count)
            #expect(retired.allSatisfy { $0.hasPrefix(RetiredTables.prefix) })
            let partitionTables = try await store.pool.read { db in
                try SQLiteSchema.partitionTables(bucket - 2).filter { try db.tableExists($0) }
            }
            #expect(partitionTables.isEmpty)

            // The partition's number is free at once: spans for it make a new partition, which holds only them.
            let again = traceRequest(spans: 3, start: time(inBucket: bucket - 2))
            try await store.append(again.request)
            #expect(try reader.partitions() == [bucket - 2])
            #expect(try reader.spanCount() == 3)
            #expect(try reader.trace(id: again.trace)?.spanCount == 3)
            #expect(try reader.trace(id: old[1]) == nil)

            // The writer empties them between commits (here: asked to while idle).
            let deadline = ContinuousClock.now + .seconds(20)
            while try await !retiredNames(store).isEmpty, ContinuousClock.now < deadline {
                store.scheduleRetention()
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try await retiredNames(store).isEmpty)
            #expect(try reader.freeSpace().retiredTables == 0)
            #expect(try reader.freeSpace().freeBytes > 0)
            #expect(try reader.trace(id: again.trace)?.spanCount == 3)
            await store.close()
        }
    }

    @Test func aStepDeletesAtMostTheRowsAskedForAndDropsAnEmptyTable() throws {
        let db = try DatabaseQueue()
        try db.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE retired_1_rows(a INTEGER, b BLOB);
                    CREATE TABLE retired_1_keyed(k TEXT, n INTEGER, v INTEGER, PRIMARY KEY(k, n)) WITHOUT ROWID;
                    """)
            for i in 0..<250 {
                try db.execute(sql: "INSERT INTO retired_1_rows VALUES (?, randomblob(100))", arguments: [i])
                try db.execute(sql: "INSERT INTO retired_1_keyed VALUES (?, ?, 0)", arguments: ["k\(i % 7)", i])
            }
        }
        for table in ["retired_1_rows", "retired_1_keyed"] {
            var left: [Int] = []
            while try db.write({ db in try RetiredTables.step(db, table: table, rows: 100) }) == false {
                left.append(try db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? -1 })
            }
            #expect(left == [150, 50, 0], "\(table)")
            #expect(try db.read { db in try db.tableExists(table) } == false)
        }
    }

    @Test func retiredTablesLeftByAStopAreEmptiedAfterTheNextStart() async throws {
        try await withTemporaryDirectory { dir in
            let now = nowNanos()
            let bucket = Int64(now / hourNanos)
            var store = try SQLiteTraceStore(config: Self.config(dir))
            try await store.append(traceRequest(spans: 20, start: time(inBucket: bucket - 2)).request)
            #expect(try await store.applyRetention(now: Int64(now + 71 * hourNanos)) == 1)
            #expect(try await !retiredNames(store).isEmpty)
            await store.close()

            store = try SQLiteTraceStore(config: Self.config(dir))
            #expect(try await !retiredNames(store).isEmpty)
            // The writer empties them between commits, as it runs retention (here: asked to while idle).
            let deadline = ContinuousClock.now + .seconds(20)
            while try await !retiredNames(store).isEmpty, ContinuousClock.now < deadline {
                store.scheduleRetention()
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try await retiredNames(store).isEmpty)
            await store.close()
        }
    }

    /// Over `max_size_mib` with free pages (the limit lowered after a partition went), the file is given back its free
    /// pages a few at a time between commits, until it is within the limit or has none left.
    @Test func aFileOverItsLimitShrinksInSlices() async throws {
        try await withTemporaryDirectory { dir in
            let now = nowNanos()
            let bucket = Int64(now / hourNanos)
            var store = try SQLiteTraceStore(
                config: storeConfig(dir) {
                    $0.maxSizeMiB = 0
                    $0.compression = .none
                })
            let payload = String(repeating: "x", count: 8_000)
            for i in 0..<30 {
                try await store.append(traceRequest(spans: 100, start: time(inBucket: bucket - 2, seconds: UInt64(i)), payload: payload).request)
            }
            try await store.append(traceRequest(spans: 10, start: time(inBucket: bucket)).request)
            #expect(try await store.applyRetention(now: Int64(now + 71 * hourNanos)) == 1)
            #expect(try await store.clearRetiredTables(within: .seconds(30)))
            func pages() async throws -> (count: Int, free: Int) {
                try await store.pool.read { db in
                    (try Int.fetchOne(db, sql: "PRAGMA page_count") ?? -1, try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? -1)
                }
            }
            let before = try await pages()
            #expect(before.free > 4096)  // > 16 MiB free of 4 KiB pages
            await store.close()

            store = try SQLiteTraceStore(config: storeConfig(dir) { $0.maxSizeMiB = 16 })
            #expect(try await store.applyRetention(now: Int64(now)) == 0)
            let deadline = ContinuousClock.now + .seconds(30)
            while try await pages().count * 4096 > 16 << 20, ContinuousClock.now < deadline {
                store.scheduleRetention()
                try await Task.sleep(for: .milliseconds(50))
            }
            let after = try await pages()
            #expect(after.count * 4096 <= 16 << 20, "\(before) → \(after)")
            #expect(after.count < before.count)
            await store.close()
        }
    }

    /// A partition an earlier otelsink made has indexes, whose names would stay behind a rename: it is dropped at once.
    @Test func aPartitionWithIndexesIsDroppedAtOnce() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: rowStoreConfig(dir) { $0.maxSizeMiB = 0 })
            let now = nowNanos()
            let bucket = Int64(now / hourNanos)
            try await store.append(traceRequest(spans: 5, start: time(inBucket: bucket - 2)).request)
            let spans = SQLiteSchema.spansTable(bucket - 2)
            try await store.pool.write { db in try db.execute(sql: "CREATE INDEX \(spans)_service ON \(spans)(service, start_ns)") }
            #expect(try await store.applyRetention(now: Int64(now + 71 * hourNanos)) == 1)
            #expect(try await retiredNames(store).isEmpty)
            let left = try await store.pool.read { db in
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE name LIKE '%\(bucket - 2)%'")
            }
            #expect(left.isEmpty)
            await store.close()
        }
    }
}
