import CollectorCore
import CollectorTesting
import FileStorage
import Foundation
import Logging
import OTLPExporters
import Synchronization
import Testing

/// Keeps the messages logged at warning and above, for assertions on what an operator reads.
final class CapturedLog: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }

    var logger: Logger {
        Logger(label: "test") { _ in Handler(sink: self) }
    }

    struct Handler: LogHandler {
        let sink: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .warning
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let meta = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            sink.lines.withLock { $0.append("\(event.level) \(event.message) \(meta)") }
        }
    }
}

@Suite("Persistent sending queue (file_storage)")
final class PersistentQueueTests {
    /// A fresh directory per test, removed when the test's instance goes away.
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("otelsink-queue-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func storage(log: CapturedLog = CapturedLog(), _ configure: (inout FileStorageConfig) -> Void = { _ in }) throws -> FileStorageExtension {
        var config = FileStorageConfig()
        config.directory = directory
        configure(&config)
        return try FileStorageExtension(config: config, context: ComponentContext(id: ComponentID(type: "file_storage"), logger: log.logger))
    }

    func openStore(_ storage: FileStorageExtension) throws -> any DurableQueueStore {
        try storage.openQueue(owner: ComponentID(type: "otlp", name: "up"), kind: .exporter, name: "queue")
    }

    func queue(
        _ upstream: ScriptedUpstream, store: any DurableQueueStore, reports: Reports,
        _ configure: (inout SendingQueueSettings) -> Void = { _ in }
    ) -> SendingQueue {
        var settings = SendingQueueSettings()
        configure(&settings)
        var retry = RetryPolicy()
        retry.maxElapsedTime = .zero
        return SendingQueue(
            settings: settings, retry: retry, sender: upstream, clock: upstream.clock,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), store: store, randomSeed: 3,
            report: reports.add)
    }

    static func request(_ n: Int) -> OutgoingRequest {
        OutgoingRequest(signal: n.isMultiple(of: 2) ? .traces : .logs, bytes: Array(repeating: UInt8(n & 0xff), count: 100 + n), items: n + 1)
    }

    @Test func whatWasAcknowledgedWhileTheUpstreamWasDownIsDeliveredAfterARestartInOrder() async throws {
        let clock = ManualClock()
        // First life: the upstream is down; every submit returns only once the request is committed.
        do {
            let store = try openStore(try storage())
            let down = ScriptedUpstream([.retryable(after: nil, reason: "connection refused")], clock: clock)
            let q = queue(down, store: store, reports: Reports()) { $0.numConsumers = 1 }
            let running = Task { await q.run() }
            for n in 0..<20 { try await q.submit(Self.request(n)) }
            #expect(q.size == 20)
            #expect(try store.stored().count == 20)
            // The process stops (a cancelled consumer keeps what it was retrying).
            running.cancel()
            q.close()
            await running.value
            #expect(try store.stored().count == 20)
        }
        // Second life, a new store on the same file: everything is queued again and delivered, oldest first.
        let store = try openStore(try storage())
        let up = RecordingUpstream()
        let reports = Reports()
        let q = SendingQueue(
            settings: SendingQueueSettings(), retry: RetryPolicy(), sender: up, clock: clock,
            logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }), store: store, report: reports.add)
        #expect(try q.restore() == 20)
        #expect(q.size == 20)
        let running = Task { await q.run() }
        for _ in 0..<2000 where reports.list.count < 20 { try await Task.sleep(for: .milliseconds(2)) }
        q.close()
        await running.value
        let delivered = up.sent
        #expect(delivered.count == 20)
        #expect(Set(delivered.map(\.bytes)) == Set((0..<20).map { Self.request($0).bytes }))
        #expect(delivered.map(\.signal).filter { $0 == .traces }.count == 10)
        #expect(reports.list.allSatisfy { $0.outcome == .delivered })
        #expect(try store.stored().isEmpty)
        #expect(q.size == 0)
    }

    @Test func aFullPersistentQueueRefusesRetryablyAndWritesNothingMore() async throws {
        let clock = ManualClock()
        let store = try openStore(try storage())
        let down = ScriptedUpstream([.retryable(after: nil, reason: "down")], clock: clock)
        let q = queue(down, store: store, reports: Reports()) {
            $0.sizer = .bytes
            $0.queueSize = 1000
        }
        var accepted = 0
        var refusal: PipelineError?
        for n in 0..<20 {
            do {
                try await q.submit(OutgoingRequest(signal: .traces, bytes: Array(repeating: 7, count: 300), items: n))
                accepted += 1
            } catch let e as PipelineError {
                refusal = e
                break
            }
        }
        #expect(accepted == 3)
        #expect(q.size == 900)
        #expect(try store.stored().count == 3)
        if case .retryable = refusal?.kind {} else { Issue.record("expected a retryable refusal, got \(String(describing: refusal))") }
        q.close()
    }

    @Test func aDamagedQueueFileIsMovedAsideWithAnErrorLineAndTheQueueStartsEmpty() async throws {
        let log = CapturedLog()
        let path = (directory as NSString).appendingPathComponent("exporter_otlp_up_queue")
        try Data(repeating: 0x5a, count: 8192).write(to: URL(fileURLWithPath: path))
        let store = try openStore(try storage(log: log))
        #expect(try store.stored().isEmpty)
        _ = try await store.append(signal: .traces, items: 1, bytes: [1])
        #expect(try store.stored().count == 1)
        let line = try #require(log.all.first)
        #expect(line.hasPrefix("error the queue file is damaged"))
        #expect(line.contains("file=\(path)"))
        let moved = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("exporter_otlp_up_queue.corrupt-") }
        #expect(moved.count == 1)
    }

    @Test func aTruncatedQueueFileIsRecoveredOrMovedAsideNeverACrash() async throws {
        let seed = TestSeed.next()
        var random = SplitMix64(seed: seed)
        do {
            let store = try openStore(try storage())
            for n in 0..<50 { _ = try await store.append(signal: .traces, items: n, bytes: Array(repeating: UInt8(n), count: 3000)) }
        }
        let path = (directory as NSString).appendingPathComponent("exporter_otlp_up_queue")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.truncate(atOffset: UInt64(4096 + Int(random.next() % UInt64(max(1, size - 4096)))))
        try handle.close()
        // Whatever survives is readable; a file SQLite rejects is replaced.
        let store = try openStore(try storage())
        let held = try store.stored()
        for r in held { _ = try? await store.bytes(of: r.id) }
        _ = try await store.append(signal: .traces, items: 1, bytes: [1])
        #expect(try store.stored().count >= 1, "seed \(seed)")
    }

    @Test func recreateMovesTheOldFileAsideAtStart() async throws {
        do {
            let store = try openStore(try storage())
            _ = try await store.append(signal: .traces, items: 1, bytes: [1])
        }
        let store = try openStore(try storage { $0.recreate = true })
        #expect(try store.stored().isEmpty)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        #expect(names.contains { $0.hasPrefix("exporter_otlp_up_queue.backup-") })
    }

    @Test func configNamesAMissingDirectoryUnlessCreateDirectoryIsSet() throws {
        let missing = readComponentConfig(FileStorageFactory(), yaml: "directory: /nonexistent/otelsink-queue\n")
        #expect(
            missing.problems == [
                "extensions::file_storage::directory: /nonexistent/otelsink-queue does not exist; create it or set create_directory: true"
            ])
        let created = readComponentConfig(FileStorageFactory(), yaml: "directory: \(directory)/sub\ncreate_directory: true\n")
        #expect(created.problems.isEmpty)
    }
}

/// Accepts everything and records what was sent.
final class RecordingUpstream: UpstreamSender {
    private let recorded = Mutex<[OutgoingRequest]>([])
    var sent: [OutgoingRequest] { recorded.withLock { $0 } }
    func send(_ request: OutgoingRequest) async -> UpstreamVerdict {
        recorded.withLock { $0.append(request) }
        return .delivered(rejected: 0, message: "")
    }
}
