import CollectorCore
import Foundation
import GRDB
import Logging
import Synchronization

/// One durable queue in its own SQLite file (WAL mode): a table of encoded requests in arrival order. Every
/// operation runs on GRDB's serial queue, never on the caller's thread. Appends and removals are group-committed:
/// those that arrive while a transaction is being written go together in the next one, and each caller returns once
/// the transaction holding its change has committed.
final class SQLiteQueueFile: DurableQueueStore {
    let path: String
    private let database: DatabaseQueue

    private struct PendingInsert {
        var signal: Signal
        var items: Int
        var bytes: [UInt8]
        var done: CheckedContinuation<Int64, any Error>
    }

    private struct Batch {
        var inserts: [PendingInsert] = []
        var deletes: [(id: Int64, done: CheckedContinuation<Int64, any Error>)] = []
        var writing = false
    }

    private let batch = Mutex(Batch())

    /// Opens `path`, creating it when absent. A file SQLite cannot read as a database, or whose integrity check
    /// fails, is moved aside (`<path>.corrupt-<unix time>`, logged as an error) and replaced by an empty one; what
    /// it held is not delivered.
    init(path: String, config: FileStorageConfig, logger: Logger) throws {
        self.path = path
        if config.recreate { Self.moveAside(path, suffix: "backup", logger: logger, reason: "recreate is set") }
        do {
            database = try Self.open(path, config: config)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB {
            Self.moveAside(path, suffix: "corrupt", logger: logger, reason: "\(error)")
            database = try Self.open(path, config: config)
        } catch let error as QueueFileDamaged {
            Self.moveAside(path, suffix: "corrupt", logger: logger, reason: error.detail)
            database = try Self.open(path, config: config)
        }
    }

    private struct QueueFileDamaged: Error { var detail: String }

    private static func open(_ path: String, config: FileStorageConfig) throws -> DatabaseQueue {
        var c = Configuration()
        // Without fsync nothing is synced (as otelcol's bbolt with NoSync): a commit is in the OS's page cache, which
        // survives a crash of otelsink but not of the machine. With it, every commit syncs the WAL.
        let synchronous = config.fsync ? "FULL" : "OFF"
        c.prepareDatabase { db in
            // Requests are tens of KiB: large pages keep one in a few pages instead of a chain of 4 KiB overflow
            // pages. Takes effect only when the file is created.
            try db.execute(sql: "PRAGMA page_size = 65536")
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            // Checkpoint every 256 pages (16 MiB): the WAL file is reused from its start rather than truncated,
            // which would make the file system free and allocate its blocks again on every cycle.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 256")
        }
        c.busyMode = .timeout(TimeInterval(config.timeout.components.seconds) + Double(config.timeout.components.attoseconds) / 1e18)
        let database = try DatabaseQueue(path: path, configuration: c)
        let check = try database.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
        if check != ["ok"] { throw QueueFileDamaged(detail: "integrity check: " + check.prefix(3).joined(separator: "; ")) }
        // Only once the file is known sound (a damaged one is moved aside as found). WAL: a commit appends to the
        // log (and, with fsync, syncs only it), instead of syncing a rollback journal and the database file.
        try database.writeWithoutTransaction { db in _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") }
        try database.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS queue (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        signal TEXT NOT NULL,
                        items INTEGER NOT NULL,
                        body BLOB NOT NULL)
                    """)
        }
        return database
    }

    private static func moveAside(_ path: String, suffix: String, logger: Logger, reason: String) {
        let stamp = Int(Date().timeIntervalSince1970)
        var moved = false
        for ending in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + ending) {
            let target = "\(path).\(suffix)-\(stamp)\(ending)"
            do {
                try FileManager.default.moveItem(atPath: path + ending, toPath: target)
                moved = true
            } catch {
                try? FileManager.default.removeItem(atPath: path + ending)
            }
        }
        guard moved else { return }
        if suffix == "corrupt" {
            logger.error(
                "the queue file is damaged; moved it aside and starting with an empty queue (what it held is not delivered)",
                metadata: ["file": "\(path)", "moved_to": "\(path).\(suffix)-\(stamp)", "cause": "\(reason)"])
        } else {
            logger.warning(
                "moved the queue file aside and starting with an empty queue",
                metadata: ["file": "\(path)", "moved_to": "\(path).\(suffix)-\(stamp)", "cause": "\(reason)"])
        }
    }

    func stored() throws -> [StoredRequest] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, signal, items, length(body) AS size FROM queue ORDER BY id").compactMap { row in
                guard let signal = Signal(rawValue: row["signal"]) else { return nil }
                return StoredRequest(id: row["id"], signal: signal, items: row["items"], byteCount: row["size"])
            }
        }
    }

    func append(signal: Signal, items: Int, bytes: [UInt8]) async throws -> StoredRequest {
        let id = try await withCheckedThrowingContinuation { c in
            let write = batch.withLock { b in
                b.inserts.append(PendingInsert(signal: signal, items: items, bytes: bytes, done: c))
                return startWriting(&b)
            }
            if write { Task { await self.writeBatches() } }
        }
        return StoredRequest(id: id, signal: signal, items: items, byteCount: bytes.count)
    }

    private func startWriting(_ b: inout Batch) -> Bool {
        if b.writing { return false }
        b.writing = true
        return true
    }

    /// Writes what is pending, one transaction at a time, until nothing is.
    private func writeBatches() async {
        while true {
            let taken = batch.withLock { b -> Batch? in
                if b.inserts.isEmpty && b.deletes.isEmpty {
                    b.writing = false
                    return nil
                }
                defer {
                    b.inserts = []
                    b.deletes = []
                }
                return b
            }
            guard let taken else { return }
            do {
                let ids = try await database.write { db -> [Int64] in
                    if !taken.deletes.isEmpty {
                        for chunk in stride(from: 0, to: taken.deletes.count, by: 500) {
                            let ids = taken.deletes[chunk..<min(chunk + 500, taken.deletes.count)].map(\.id)
                            try db.execute(sql: "DELETE FROM queue WHERE id IN (\(ids.map(String.init).joined(separator: ",")))")
                        }
                    }
                    let insert = try db.cachedStatement(sql: "INSERT INTO queue (signal, items, body) VALUES (?, ?, ?)")
                    var ids: [Int64] = []
                    ids.reserveCapacity(taken.inserts.count)
                    for i in taken.inserts {
                        try insert.execute(arguments: [i.signal.rawValue, i.items, Data(i.bytes)])
                        ids.append(db.lastInsertedRowID)
                    }
                    return ids
                }
                for (i, id) in zip(taken.inserts, ids) { i.done.resume(returning: id) }
                for d in taken.deletes { d.done.resume(returning: d.id) }
            } catch {
                for i in taken.inserts { i.done.resume(throwing: error) }
                for d in taken.deletes { d.done.resume(throwing: error) }
            }
        }
    }

    func bytes(of id: Int64) async throws -> [UInt8]? {
        try await database.read { db in
            try Data.fetchOne(db, sql: "SELECT body FROM queue WHERE id = ?", arguments: [id]).map { [UInt8]($0) }
        }
    }

    func remove(_ id: Int64) async throws {
        _ = try await withCheckedThrowingContinuation { c in
            let write = batch.withLock { b in
                b.deletes.append((id, c))
                return startWriting(&b)
            }
            if write { Task { await self.writeBatches() } }
        }
    }

    /// Pages in the file, and how many of them are free.
    func pageCounts() throws -> (total: Int, free: Int, pageSize: Int) {
        try database.read { db in
            (
                try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0, try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0,
                try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
            )
        }
    }

    /// Rewrites the file without its free pages.
    func compact() throws {
        try database.writeWithoutTransaction { db in
            try db.execute(sql: "VACUUM")
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }

    func close() {
        try? database.close()
    }
}
