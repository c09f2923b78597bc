import GRDB
import GRDBSQLite
import Synchronization

/// The number of frames in the WAL after the writer's last commit, as SQLite reports it through
/// `sqlite3_wal_hook`.
///
/// The WAL file is reused from its start once a checkpoint has copied every frame, but it keeps its size, so the
/// file's size says how large the WAL once was, not how much of it is live. This counter is what the writer's
/// checkpoint backstop reads instead.
final class WALFrameCounter: Sendable {
    private let frames = Atomic<Int>(0)

    var current: Int { frames.load(ordering: .relaxed) }

    /// Registers the hook on the writer connection (replacing SQLite's auto-checkpoint hook, which is off).
    /// `self` must outlive the connection; the store holds both.
    func install(on db: Database) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        sqlite3_wal_hook(
            db.sqliteConnection,
            { context, _, _, frames in
                guard let context else { return SQLITE_OK }
                Unmanaged<WALFrameCounter>.fromOpaque(context).takeUnretainedValue().frames.store(Int(frames), ordering: .relaxed)
                return SQLITE_OK
            }, context)
    }
}
