import CollectorCore
import Foundation
import GRDB
import Logging

/// One durable queue in its own SQLite file (WAL mode): a table of encoded requests in arrival order. Every
/// operation runs on GRDB's serial queue, never on the caller's thread, and each append is its own transaction.
final class SQLiteQueueFile: DurableQueueStore {
    let path: String
    private let database: DatabaseQueue

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
        let synchronous = config.fsync ? "FULL" : "NORMAL"
        c.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            // Small queues: keep the WAL file short after checkpoints.
            try db.execute(sql: "PRAGMA journal_size_limit = 16777216")
        }
        c.busyMode = .timeout(TimeInterval(config.timeout.components.seconds) + Double(config.timeout.components.attoseconds) / 1e18)
        let database = try DatabaseQueue(path: path, configuration: c)
        let check = try database.read { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
        if check != ["ok"] { throw QueueFileDamaged(detail: "integrity check: " + check.prefix(3).joined(separator: "; ")) }
        try database.write { db in
            try db.execute(sql: """
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
            logger.error("the queue file is damaged; moved it aside and starting with an empty queue (what it held is not delivered)",
                         metadata: ["file": "\(path)", "moved_to": "\(path).\(suffix)-\(stamp)", "cause": "\(reason)"])
        } else {
            logger.warning("moved the queue file aside and starting with an empty queue",
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
        let id = try await database.write { db in
            try db.execute(sql: "INSERT INTO queue (signal, items, body) VALUES (?, ?, ?)",
                           arguments: [signal.rawValue, items, Data(bytes)])
            return db.lastInsertedRowID
        }
        return StoredRequest(id: id, signal: signal, items: items, byteCount: bytes.count)
    }

    func bytes(of id: Int64) async throws -> [UInt8]? {
        try await database.read { db in
            try Data.fetchOne(db, sql: "SELECT body FROM queue WHERE id = ?", arguments: [id]).map { [UInt8]($0) }
        }
    }

    func remove(_ id: Int64) async throws {
        try await database.write { db in try db.execute(sql: "DELETE FROM queue WHERE id = ?", arguments: [id]) }
    }

    /// Pages in the file, and how many of them are free.
    func pageCounts() throws -> (total: Int, free: Int, pageSize: Int) {
        try database.read { db in
            (try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0, try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0,
             try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4096)
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
