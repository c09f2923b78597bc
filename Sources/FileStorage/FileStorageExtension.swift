import CollectorCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The `file_storage` extension: keeps exporters' persistent sending queues in SQLite files under `directory`,
/// one file per queue, named as otelcol names its files (`exporter_otlp_upstream_queue`). Compacts them at start
/// and, with `compaction.on_rebound`, once a file is mostly free space; closes them when the collector stops
/// (after the exporters).
public final class FileStorageExtension: StorageExtension {
    let config: FileStorageConfig
    let context: ComponentContext
    private let files = Mutex<[SQLiteQueueFile]>([])

    public init(config: FileStorageConfig, context: ComponentContext) throws {
        self.config = config
        self.context = context
        if config.createDirectory {
            try FileManager.default.createDirectory(
                atPath: config.directory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: NSNumber(value: config.directoryPermissions)])
        }
    }

    /// The file name of a queue: kind, owner and name, with anything but letters, digits, `-` and `_` turned into `_`.
    static func fileName(owner: ComponentID, kind: ComponentKind, name: String) -> String {
        let raw = [kind.rawValue, owner.type, owner.name ?? "", name].filter { !$0.isEmpty }.joined(separator: "_")
        return String(
            raw.unicodeScalars.map { s -> Character in
                (("0"..."9").contains(s) || ("a"..."z").contains(s) || ("A"..."Z").contains(s) || s == "-" || s == "_") ? Character(s) : "_"
            })
    }

    public func openQueue(owner: ComponentID, kind: ComponentKind, name: String) throws -> any DurableQueueStore {
        let path = (config.directory as NSString).appendingPathComponent(Self.fileName(owner: owner, kind: kind, name: name))
        let file: SQLiteQueueFile
        do { file = try SQLiteQueueFile(path: path, config: config, logger: context.logger) } catch {
            throw PipelineError.permanent("cannot open the queue file \(path): \(error)")
        }
        if config.compaction.onStart { compact(file, why: "on_start") }
        files.withLock { $0.append(file) }
        return file
    }

    private func compact(_ file: SQLiteQueueFile, why: String) {
        let before = (try? file.pageCounts()).map { $0.total * $0.pageSize } ?? 0
        do {
            try file.compact()
            let after = (try? file.pageCounts()).map { $0.total * $0.pageSize } ?? 0
            context.logger.info(
                "compacted the queue file",
                metadata: [
                    "file": "\(file.path)", "trigger": "\(why)", "bytes_before": "\(before)",
                    "bytes_after": "\(after)",
                ])
        } catch {
            context.logger.warning("compacting the queue file failed", metadata: ["file": "\(file.path)", "error": "\(error)"])
        }
    }

    /// Compacts a file larger than `rebound_needed_threshold_mib` that holds less than `rebound_trigger_threshold_mib`.
    func checkRebound() {
        let mib = 1 << 20
        for file in files.withLock({ $0 }) {
            guard let pages = try? file.pageCounts() else { continue }
            let size = pages.total * pages.pageSize
            let used = (pages.total - pages.free) * pages.pageSize
            if size > config.compaction.reboundNeededThresholdMiB * mib && used < config.compaction.reboundTriggerThresholdMiB * mib {
                compact(file, why: "on_rebound")
            }
        }
    }

    public func run() async throws {
        if config.compaction.onRebound {
            let interval = config.compaction.checkInterval
            let clock = context.clock
            await withDiscardingTaskGroup { group in
                group.addTask {
                    while !Task.isCancelled {
                        do { try await clock.sleep(for: interval) } catch { return }
                        self.checkRebound()
                    }
                }
                try? await gracefulShutdown()
                group.cancelAll()
            }
        } else {
            try? await gracefulShutdown()
        }
        for file in files.withLock({ $0 }) { file.close() }
    }
}

/// Registers `file_storage`.
public struct FileStorageFactory: StorageExtensionFactory {
    public init() {}
    public var type: String { "file_storage" }
    public var kind: ComponentKind { .extension }
    public var signals: Set<Signal> { [] }
    public var summary: String { "keeps exporters' sending queues on disk (SQLite files), so queued data survives restarts and crashes" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { FileStorageConfig(reading: reader) }

    public func makeExtension(config: any ComponentConfig, host: ExtensionHost, context: ComponentContext) throws -> any Extension {
        try FileStorageExtension(config: try config.as(FileStorageConfig.self, for: type), context: context)
    }
}
