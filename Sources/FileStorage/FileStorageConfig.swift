import CollectorCore
import Foundation

/// Settings of the `file_storage` extension, with otelcol-contrib's keys and defaults. otelcol keeps bbolt files;
/// otelsink keeps one SQLite file per queue (WAL mode) in `directory`.
public struct FileStorageConfig: ComponentConfig, Equatable {
    /// otelcol's default; it must exist unless `create_directory` is set.
    public var directory = "/var/lib/otelcol/file_storage"
    /// How long to wait for another process holding the file (SQLite's busy timeout).
    public var timeout: Duration = .seconds(1)
    /// Sync every commit to the device (SQLite `synchronous = FULL`). Without it (`NORMAL`), a committed request
    /// survives a crash of otelsink but not a power loss or a crash of the machine.
    public var fsync = false
    public var createDirectory = false
    public var directoryPermissions: UInt16 = 0o750
    /// Move the files found at start aside (`<file>.backup-<time>`) and start empty.
    public var recreate = false
    public var compaction = Compaction()

    /// When to give free space back to the file system (SQLite `VACUUM`, in place).
    public struct Compaction: Sendable, Equatable {
        public var onStart = false
        public var onRebound = false
        /// Compact a file once it is larger than this…
        public var reboundNeededThresholdMiB = 100
        /// …and what it holds has fallen below this.
        public var reboundTriggerThresholdMiB = 10
        public var checkInterval: Duration = .seconds(5)
    }

    public init() {}

    public init(reading r: ConfigReader) {
        directory = r.string("directory", default: directory)
        timeout = r.duration("timeout", default: timeout)
        fsync = r.bool("fsync", default: fsync)
        createDirectory = r.bool("create_directory", default: createDirectory)
        let permissions = r.string("directory_permissions", default: "0750")
        if let p = UInt16(permissions, radix: 8), p <= 0o7777 {
            directoryPermissions = p
        } else {
            r.report("directory_permissions", "expected octal permissions such as \"0750\", got \"\(permissions)\"")
        }
        recreate = r.bool("recreate", default: recreate)
        let c = r.child("compaction")
        compaction.onStart = c.bool("on_start", default: compaction.onStart)
        compaction.onRebound = c.bool("on_rebound", default: compaction.onRebound)
        // Accepted for otelcol configs: SQLite compacts in place, one transaction.
        _ = c.optionalString("directory")
        _ = c.int("max_transaction_size", default: 65536, range: 0...Int.max)
        _ = c.bool("cleanup_on_start", default: false)
        compaction.reboundNeededThresholdMiB = c.int(
            "rebound_needed_threshold_mib", default: compaction.reboundNeededThresholdMiB, range: 1...(1 << 30))
        compaction.reboundTriggerThresholdMiB = c.int(
            "rebound_trigger_threshold_mib", default: compaction.reboundTriggerThresholdMiB, range: 0...(1 << 30))
        compaction.checkInterval = c.duration("check_interval", default: compaction.checkInterval, minimum: .milliseconds(100))

        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory)
        if exists && !isDirectory.boolValue {
            r.report("directory", "\(directory) is not a directory")
        } else if exists && !FileManager.default.isWritableFile(atPath: directory) {
            r.report("directory", "\(directory) is not writable by this user")
        } else if !exists && !createDirectory {
            r.report("directory", "\(directory) does not exist; create it or set create_directory: true")
        }
    }
}
