import Foundation
import GRDB

/// A consistent, self-contained copy of a store's database, taken while a server may keep writing to it.
///
/// The copy is SQLite's `VACUUM INTO` run in one read transaction on a read-only connection: a snapshot of the last
/// commit before it began, compacted, in a single file without a WAL. It never blocks the writer; while it runs, the
/// writer's WAL cannot start again from its beginning (the snapshot still needs its frames), so it grows with what is
/// ingested meanwhile and is reused after. The copy is written beside `destination` under a temporary name, synced,
/// checked to open as an otelsink database, then renamed into place: `destination` is either complete or absent.
public enum DatabaseBackup {
    /// What a finished backup holds.
    public struct Summary: Sendable, Equatable {
        public var spans: Int
        public var logRecords: Int
        public var bytes: Int
    }

    public enum Failure: Error, CustomStringConvertible {
        case destinationExists(String)
        case noDirectory(String)
        case failed(String)

        public var description: String {
            switch self {
            case .destinationExists(let p): "\(p) already exists: a backup never replaces a file; choose a new path"
            case .noDirectory(let p): "the directory of \(p) does not exist"
            case .failed(let m): m
            }
        }
    }

    /// Copies the database at `source` into a new file at `destination`.
    public static func copy(from source: String, to destination: String) throws -> Summary {
        let fm = FileManager.default
        let target = URL(fileURLWithPath: destination)
        guard !fm.fileExists(atPath: target.path) else { throw Failure.destinationExists(destination) }
        let directory = target.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw Failure.noDirectory(destination)
        }
        // Opening through TraceReader first refuses a file that is not an otelsink database, with its message.
        _ = try TraceReader(path: source)
        let partial = directory.appendingPathComponent(".\(target.lastPathComponent).partial-\(getpid())")
        try? fm.removeItem(at: partial)
        do {
            var config = Configuration()
            config.readonly = true
            config.busyMode = .timeout(10)
            let queue = try DatabaseQueue(path: source, configuration: config)
            // VACUUM cannot run inside a transaction; inDatabase opens none. The statement is one read transaction.
            try queue.inDatabase { db in try db.execute(sql: "VACUUM INTO ?", arguments: [partial.path]) }
            try queue.close()
            // SQLite does not sync the file VACUUM INTO writes.
            try sync(partial.path)
            let reader = try TraceReader(path: partial.path)
            let summary = Summary(
                spans: try reader.spanCount(), logRecords: try LogReader(reader).recordCount(),
                bytes: (try fm.attributesOfItem(atPath: partial.path)[.size] as? Int) ?? 0)
            guard rename(partial.path, target.path) == 0 else {
                throw Failure.failed("cannot rename the copy to \(destination): \(String(cString: strerror(errno)))")
            }
            try sync(directory.path)
            return summary
        } catch {
            try? fm.removeItem(at: partial)
            if let failure = error as? Failure { throw failure }
            throw Failure.failed("backup of \(source) failed: \(error)")
        }
    }

    private static func sync(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw Failure.failed("cannot open \(path) to sync it: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure.failed("cannot sync \(path): \(String(cString: strerror(errno)))") }
    }
}
