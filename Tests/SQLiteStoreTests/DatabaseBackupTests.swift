import Foundation
import GRDB
import Logging
import Testing

@testable import SQLiteStore

@Suite("DatabaseBackup")
struct DatabaseBackupTests {
    /// Every trace in the copy has all the spans its summary row counts: the copy is one commit's snapshot, not a
    /// mix of before and after a transaction.
    private func assertConsistent(_ path: String) throws {
        let queue = try DatabaseQueue(
            path: path,
            configuration: {
                var c = Configuration()
                c.readonly = true
                return c
            }())
        try queue.read { db in
            for b in try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions") {
                let mismatched = try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM \(SQLiteSchema.tracesTable(b)) t
                        WHERE t.span_count != (
                            SELECT coalesce(sum(span_count), 0) FROM \(SpanChunks.table(b)) c
                            WHERE c.rowid BETWEEN t.seq << 32 AND (t.seq << 32) + \(SpanSlots.placeMask))
                        """)
                #expect(mismatched == 0, "partition \(b): \(mismatched ?? -1) traces whose spans and summary disagree")
            }
        }
    }

    @Test func aBackupTakenWhileTheStoreWritesIsCompleteOpensAloneAndCanBeRestored() async throws {
        try await withTemporaryDirectory { dir in
            let config = storeConfig(dir)
            let store = try SQLiteTraceStore(config: config)
            let start = nowNanos()
            var traces: [Data] = []
            for i in 0..<20 {
                let (trace, request) = traceRequest(spans: 50, start: start + UInt64(i) * 1_000_000, payload: "before the backup")
                traces.append(trace)
                try await store.append(request)
            }
            let backup = dir.appendingPathComponent("backup.db").path
            let summary = try await withThrowingTaskGroup(of: DatabaseBackup.Summary?.self) { group in
                group.addTask {
                    for i in 0..<40 {
                        try await store.append(traceRequest(spans: 50, start: start + UInt64(100 + i) * 1_000_000, payload: "during").request)
                    }
                    return nil
                }
                group.addTask { try DatabaseBackup.copy(from: config.path, to: backup) }
                var summary: DatabaseBackup.Summary?
                for try await s in group where s != nil { summary = s }
                return summary
            }
            await store.close()
            let copied = try #require(summary)
            #expect(copied.spans >= 1_000 && copied.spans <= 3_000 && copied.spans % 50 == 0, "\(copied)")
            #expect(!FileManager.default.fileExists(atPath: backup + "-wal"))
            #expect(try TraceReader(path: backup).spanCount() == copied.spans)
            try assertConsistent(backup)

            // Restored: a store opens on the copy, reads what it holds and takes new writes.
            let restored = try SQLiteTraceStore(config: SQLiteStoreConfig(path: backup))
            #expect(try TraceReader(store: restored).trace(id: traces[7])?.spanCount == 50)
            try await restored.append(traceRequest(spans: 5, start: start, payload: "after the restore").request)
            #expect(try TraceReader(store: restored).spanCount() == copied.spans + 5)
            await restored.close()
        }
    }

    @Test func aBackupNeverReplacesAFile() async throws {
        try await withTemporaryDirectory { dir in
            let config = storeConfig(dir)
            let store = try SQLiteTraceStore(config: config)
            try await store.append(traceRequest(spans: 3, start: nowNanos()).request)
            await store.close()
            let existing = dir.appendingPathComponent("taken.db")
            try Data("keep me".utf8).write(to: existing)
            #expect {
                try DatabaseBackup.copy(from: config.path, to: existing.path)
            } throws: { error in
                "\(error)".contains("already exists")
            }
            #expect(try Data(contentsOf: existing) == Data("keep me".utf8))
        }
    }

    @Test func aBackupOfAFileThatIsNotADatabaseFailsAndLeavesNothing() async throws {
        try await withTemporaryDirectory { dir in
            let notADatabase = dir.appendingPathComponent("notes.txt")
            try Data(repeating: 0x41, count: 8192).write(to: notADatabase)
            let out = dir.appendingPathComponent("out.db")
            #expect(throws: (any Error).self) { try DatabaseBackup.copy(from: notADatabase.path, to: out.path) }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["notes.txt"])
            #expect {
                try DatabaseBackup.copy(from: notADatabase.path, to: dir.appendingPathComponent("missing/out.db").path)
            } throws: { error in
                "\(error)".contains("does not exist")
            }
        }
    }
}
