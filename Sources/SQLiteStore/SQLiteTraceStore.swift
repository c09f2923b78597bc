import CollectorCore
import Dispatch
import Foundation
import GRDB
import Logging
import OTLP
import Synchronization

/// The durable trace and log store: a SQLite database in WAL mode with one writer and concurrent readers.
///
/// Writes use group commit. ``append(_:)`` queues a request and suspends; the writer takes everything queued
/// while the previous transaction ran, writes it in one transaction, commits, and only then resumes the callers.
/// At light load a request waits for its own commit (no timer); at heavy load transactions grow. The queue is
/// bounded by ``SQLiteStoreConfig/queueSize`` items (spans and log records) and ``maxQueuedBytes`` bytes: beyond
/// either, ``append(_:)`` refuses with a retryable error.
public final class SQLiteTraceStore: Sendable {
    public let config: SQLiteStoreConfig
    let pool: DatabasePool
    /// A second connection that copies the WAL into the database (PASSIVE checkpoints) beside the writer.
    private let checkpointer: DatabaseQueue
    private let checkpointRunning = Atomic<Bool>(false)
    /// WAL frames (pages) beyond which the writer checkpoints itself. The background checkpointer copies frames
    /// as they come, so this checkpoint has little left to copy; what it guarantees is that the WAL restarts from
    /// its beginning (which needs a checkpoint that completes between two write transactions) and stays bounded.
    static let defaultWALBackstopFrames = 8_192
    let walBackstopFrames: Int
    /// 1.5 × the backstop (12,288 frames by default, 48 MiB of pages): past it the writer copies the WAL itself
    /// instead of waiting for the background copy; the WAL file stays under this plus one transaction's frames.
    var walLimitFrames: Int { walBackstopFrames + walBackstopFrames / 2 }
    /// Set while the writer or close waits for its turn to checkpoint: a background pass stops after its current step.
    private let checkpointTurnWanted = Atomic<Bool>(false)
    private let walFrames = WALFrameCounter()
    /// Frames the background checkpointer's last pass had copied (0 after the writer's own checkpoint).
    private let backgroundBackfill = Atomic<Int>(0)
    private let logger: Logger
    private let telemetry: SQLiteStoreTelemetry
    private let state = Mutex(State())
    private let writerQueue = DispatchQueue(label: "otelsink.sqlite.writer")
    /// Owned by `writerQueue`: touched only from `drain()` and `enforceRetention()`, which run there.
    private nonisolated(unsafe) let writer: SpanBatchWriter
    /// The traces not yet in their partitions' `trace_ids_b`, for readers in this process (``TraceReader/init(store:)``).
    let traceIDTails: TraceIDTails
    /// Owned by `writerQueue`.
    private nonisolated(unsafe) let logWriter: LogBatchWriter
    /// Owned by `writerQueue`.
    private nonisolated(unsafe) var lastRetention: ContinuousClock.Instant = .now - .seconds(3600)
    /// Whether the file may hold tables of dropped partitions not emptied yet (``RetiredTables``); whether it is over
    /// `max_size_mib` with free pages to give back; whether size retention has more to remove; and when the writer
    /// last did a slice of any of them. Owned by `writerQueue`.
    private nonisolated(unsafe) var retiredPending = true
    private nonisolated(unsafe) var shrinkPending = false
    private nonisolated(unsafe) var trimPending = false
    private nonisolated(unsafe) var lastSlice: ContinuousClock.Instant = .now - .seconds(3600)

    /// What one export adds: spans or log records, in wire form.
    private enum Batch {
        case traces(EncodedTraces)
        case logs(EncodedLogs)
    }

    private struct Pending {
        var batch: Batch
        var bytes: Int
        var continuation: CheckedContinuation<Void, any Error>
        /// Spans or log records: what the queue and transaction limits count.
        var spans: Int {
            switch batch {
            case .traces(let t): t.spanCount
            case .logs(let l): l.recordCount
            }
        }
    }

    private struct State {
        var pending: [Pending] = []
        var pendingSpans = 0
        var pendingBytes = 0
        var draining = false
        var closed = false
        var drained: [CheckedContinuation<Void, Never>] = []
    }

    /// Largest number of spans merged into one transaction.
    static let maxSpansPerTransaction = 20_000
    /// Read connections at most (GRDB's pool): reads beyond this many at once wait for one.
    public static let maximumReaderCount = 4
    /// A commit slower than this is logged: every export in it waited that long.
    static let slowCommit: Duration = .milliseconds(500)
    /// How often retention runs while ingest continues.
    static let retentionInterval: Duration = .seconds(10)
    /// How often, and for how long at most, the writer empties retired tables (``RetiredTables``), or else goes on
    /// with size retention, or else gives free pages back to the file system, while there is some to do: at most
    /// about a sixth of its time, and a commit waits at most about one slice. While idle the writer is woken once a
    /// second.
    static let sliceInterval: Duration = .milliseconds(100)
    static let sliceBudget: Duration = .milliseconds(15)
    /// Pages one `incremental_vacuum` step moves and gives back (~0.4 ms each on a 10M-span file; 2,560 at once
    /// held the writer for 1.8 s).
    static let shrinkPagesPerStep = 16
    /// Spans (and log records) one step of trimming the only partition for size removes, in a transaction of its own.
    static let trimSpansPerStep = 2_000

    /// Opens (creating if needed) the database at `config.path`.
    public convenience init(
        config: SQLiteStoreConfig, logger: Logger = Logger(label: "otelsink.sqlite"), telemetry: SQLiteStoreTelemetry = .unobserved
    ) throws {
        try self.init(config: config, logger: logger, telemetry: telemetry, walBackstopFrames: Self.defaultWALBackstopFrames)
    }

    init(config: SQLiteStoreConfig, logger: Logger, telemetry: SQLiteStoreTelemetry, walBackstopFrames: Int) throws {
        self.config = config
        self.walBackstopFrames = walBackstopFrames
        self.logger = logger
        self.telemetry = telemetry
        let url = URL(fileURLWithPath: config.path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        var dbConfig = Configuration()
        let synchronous = config.synchronous.rawValue.uppercased()
        dbConfig.prepareDatabase { db in
            // auto_vacuum takes effect only on a database without tables and before WAL mode is set, which GRDB
            // does right after this; incremental lets retention give space back. A no-op on existing databases.
            if !db.configuration.readonly { try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL") }
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            // The WAL is reused from its start after each full checkpoint; truncating a large WAL file at that moment
            // stalls the writer (~100 ms on ext4), so keep the file (bounded by the checkpoint backstop) until close.
            try db.execute(sql: "PRAGMA journal_size_limit = 536870912")
            // Checkpoints run on their own connection (see checkpoint()), so commits never wait for an fsync.
            if !db.configuration.readonly { try db.execute(sql: "PRAGMA wal_autocheckpoint = 0") }
            try db.execute(sql: "PRAGMA cache_size = -16384")
            try ContainsFunction.register(on: db)
            try SpanSlots.register(on: db)
        }
        dbConfig.busyMode = .timeout(10)
        dbConfig.maximumReaderCount = Self.maximumReaderCount
        pool = try DatabasePool(path: config.path, configuration: dbConfig)
        var checkpointConfig = Configuration()
        checkpointConfig.busyMode = .timeout(10)
        checkpointer = try DatabaseQueue(path: config.path, configuration: checkpointConfig)
        traceIDTails = TraceIDTails(sweepTraces: config.traceIDSweepTraces)
        writer = SpanBatchWriter(config: config, tails: traceIDTails)
        logWriter = LogBatchWriter(spans: writer, compressing: config.compression == .zstd)
        pool.writeWithoutTransaction { db in walFrames.install(on: db) }
        try pool.write { db in
            try SQLiteSchema.migrate(db)
            try writer.loadPartitions(db)
            try writer.baselines?.load(db)
        }
    }

    /// Stores every span of `request` and returns once they are committed.
    ///
    /// Throws a retryable ``PipelineError`` when the queue is full or the store is closing, and a retryable one
    /// when the transaction failed (nothing of the request was stored, so a retry is safe: writes are idempotent).
    public func append(_ request: ExportTraceRequest) async throws {
        guard request.spanCount > 0 else { return }
        if let refusal = state.withLock({ s in self.refusal(s, adding: request.spanCount, bytes: 0) }) { throw refusal }
        // Encode here, in the exporting task, so the single writer only binds and steps.
        let encoded: EncodedTraces
        do { encoded = try EncodedTraces(encoding: request) } catch { throw PipelineError(.invalidData, "cannot encode spans: \(error)") }
        try await append(encoded)
    }

    /// Stores every span of an encoded request, each span's bytes as they are; see ``append(_:)-ExportTraceRequest``.
    public func append(_ traces: EncodedTraces) async throws {
        guard traces.spanCount > 0 else { return }
        try await enqueue(.traces(traces), items: traces.spanCount, bytes: traces.byteCount)
    }

    /// Stores every log record of `request` and returns once they are committed. Log records have no ID: when a
    /// commit succeeded but its answer was lost, the client's retry stores the records a second time.
    public func append(_ request: ExportLogsRequest) async throws {
        guard request.logRecordCount > 0 else { return }
        if let refusal = state.withLock({ s in self.refusal(s, adding: request.logRecordCount, bytes: 0) }) { throw refusal }
        let encoded: EncodedLogs
        do { encoded = try EncodedLogs(encoding: request) } catch { throw PipelineError(.invalidData, "cannot encode log records: \(error)") }
        try await append(encoded)
    }

    /// Stores every log record of an encoded request; see ``append(_:)-ExportLogsRequest``.
    public func append(_ logs: EncodedLogs) async throws {
        guard logs.recordCount > 0 else { return }
        try await enqueue(.logs(logs), items: logs.recordCount, bytes: logs.byteCount)
    }

    private func enqueue(_ batch: Batch, items spans: Int, bytes: Int) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome: PipelineError? = state.withLock { s in
                if let refusal = refusal(s, adding: spans, bytes: bytes) { return refusal }
                s.pending.append(Pending(batch: batch, bytes: bytes, continuation: continuation))
                s.pendingSpans += spans
                s.pendingBytes += bytes
                if s.draining { return nil }
                s.draining = true
                writerQueue.async { self.drain() }
                return nil
            }
            if let outcome { continuation.resume(throwing: outcome) }
        }
    }

    /// Bytes of prepared spans the queue holds at most, beside `queueSize` spans.
    static let maxQueuedBytes = 64 << 20

    /// Why a request of `spans` spans and `bytes` bytes cannot be queued now, if it cannot. An empty queue always
    /// takes one request, so a request larger than the limits is not refused forever.
    private func refusal(_ s: State, adding spans: Int, bytes: Int) -> PipelineError? {
        if s.closed { return .retryable("otelsink is shutting down") }
        guard s.pendingSpans > 0 else { return nil }
        if s.pendingSpans + spans > config.queueSize || s.pendingBytes + bytes > Self.maxQueuedBytes {
            return .retryable(
                "the SQLite writer is behind (\(s.pendingSpans) spans and log records queued, limit \(config.queueSize); \(s.pendingBytes >> 20) MiB queued, limit \(Self.maxQueuedBytes >> 20) MiB); retry later"
            )
        }
        return nil
    }

    /// Runs on `writerQueue`: commits everything queued, batch after batch, until the queue is empty.
    private func drain() {
        while true {
            let batch: [Pending] = state.withLock { s in
                var taken = 0
                var count = 0
                while count < s.pending.count && (count == 0 || taken + s.pending[count].spans <= Self.maxSpansPerTransaction) {
                    taken += s.pending[count].spans
                    count += 1
                }
                let batch = Array(s.pending.prefix(count))
                s.pending.removeFirst(count)
                s.pendingSpans -= taken
                s.pendingBytes -= batch.reduce(0) { $0 + $1.bytes }
                return batch
            }
            if batch.isEmpty {
                runRetentionIfDue()
                let (done, waiters): (Bool, [CheckedContinuation<Void, Never>]) = state.withLock { s in
                    if !s.pending.isEmpty { return (false, []) }
                    s.draining = false
                    defer { s.drained.removeAll() }
                    return (true, s.drained)
                }
                guard done else { continue }
                for waiter in waiters { waiter.resume() }
                return
            }
            let result: Result<SpanBatchWriter.Outcome, any Error>
            let now = Int64(Date().timeIntervalSince1970 * 1e9)
            let began = ContinuousClock.now
            do {
                result = .success(
                    try pool.write { db in
                        var traces: [EncodedTraces] = []
                        var logs: [EncodedLogs] = []
                        for p in batch {
                            switch p.batch {
                            case .traces(let t): traces.append(t)
                            case .logs(let l): logs.append(l)
                            }
                        }
                        var outcome = traces.isEmpty ? SpanBatchWriter.Outcome() : try writer.write(traces, db: db, now: now)
                        if !logs.isEmpty { outcome.logRecords = try logWriter.write(logs, db: db, now: now) }
                        return outcome
                    })
                writer.committed()
                let took = ContinuousClock.now - began
                telemetry.commitDuration.observe(took)
                telemetry.transactionSpans.observe(Double(batch.reduce(0) { $0 + $1.spans }))
                if took > Self.slowCommit {
                    logger.warning("slow SQLite commit", metadata: ["took": "\(took)", "spans": "\(batch.reduce(0) { $0 + $1.spans })"])
                }
            } catch {
                writer.rolledBack()
                logWriter.resetCaches()
                // GRDB keeps the writer connection's schema (which tables exist) across a rollback: a partition made
                // by the failed transaction would look made, and never be made again.
                pool.writeWithoutTransaction { db in db.clearSchemaCache() }
                try? pool.read { db in try writer.loadPartitions(db) }
                result = .failure(error)
            }
            switch result {
            case .success(let outcome):
                if outcome.duplicates > 0 {
                    logger.debug("retried spans already stored", metadata: ["duplicates": "\(outcome.duplicates)"])
                }
                if outcome.invalid > 0 {
                    // Receivers reject such spans through partial_success; only a caller of append(_:) that skipped
                    // that check gets here.
                    logger.warning("spans with malformed trace or span IDs not stored", metadata: ["spans": "\(outcome.invalid)"])
                }
                if outcome.unplaced > 0 {
                    logger.warning(
                        "spans not stored: their traces' rows leave no place for their span IDs (IDs made to collide?)",
                        metadata: ["spans": "\(outcome.unplaced)"])
                }
                for (service, spans) in outcome.anomalous { telemetry.anomalousSpans(service: service).add(spans) }
                for request in batch { request.continuation.resume() }
                checkpointIfWALTooLarge()
            case .failure(let error):
                logger.error("SQLite transaction failed", metadata: ["error": "\(error)", "requests": "\(batch.count)"])
                let refusal = PipelineError.retryable("storing spans failed: \(error)", after: .seconds(2))
                for request in batch { request.continuation.resume(throwing: refusal) }
            }
            runRetentionIfDue()
        }
    }

    /// Copies committed WAL frames into the database file on the checkpoint connection, without blocking the writer
    /// (PASSIVE checkpoints), pass after pass until it has caught up with the writer or a second has passed. Started
    /// every second by the exporter, and by the writer whenever a commit leaves more than half ``walBackstopFrames``
    /// frames in the WAL. Copying less often copies a page that many transactions rewrite (the last page of each table
    /// and index, the trace-ID index's pages) fewer times — starting at 1,024 frames wrote ~13 % more bytes per span —
    /// but copying 32 MiB at once stalled commits (export p99 40–47 ms at 20,000 spans/s, against 5.5 ms this way).
    public func checkpointInBackground() {
        if state.withLock({ $0.closed }) { return }
        guard checkpointRunning.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return }
        DispatchQueue.global(qos: .utility).async {
            defer { self.checkpointRunning.store(false, ordering: .releasing) }
            let until = ContinuousClock.now + .seconds(1)
            do {
                while ContinuousClock.now < until, !self.checkpointTurnWanted.load(ordering: .relaxed), !self.state.withLock({ $0.closed }) {
                    let (wal, copied) = try self.checkpointer.writeWithoutTransaction { db in try db.checkpoint(.passive) }
                    self.backgroundBackfill.store(copied, ordering: .relaxed)
                    // Caught up (within 1 MiB): the writer's next backstop checkpoint has almost nothing to copy.
                    if wal - copied < 256 { break }
                    Thread.sleep(forTimeInterval: 0.005)
                }
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED {
                // Another checkpoint (the writer's backstop, or close) is running: nothing to do this time.
                self.logger.debug("WAL checkpoint skipped", metadata: ["error": "\(error)"])
            } catch {
                self.logger.warning("WAL checkpoint failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Runs on the writer after a commit, and keeps the WAL file under ``walLimitFrames`` frames plus one transaction:
    /// - past half ``walBackstopFrames``, it starts the background checkpointer if it is idle;
    /// - past ``walBackstopFrames``, once the background copy is within 256 frames, it checkpoints here, between two
    ///   transactions — copying the few frames left — so that the WAL restarts from its beginning;
    /// - past ``walLimitFrames`` (the background copy fell behind), it takes the checkpointer's turn and copies
    ///   everything itself: slower commits, but a bounded WAL.
    /// A reader holding an old snapshot keeps the WAL from restarting until it ends, whatever is done here.
    private func checkpointIfWALTooLarge() {
        let frames = walFrames.current
        if frames > walBackstopFrames / 2 { checkpointInBackground() }
        guard frames > walBackstopFrames else { return }
        if frames > walLimitFrames {
            guard takeCheckpointTurn(within: .seconds(5)) else { return }
            defer { checkpointRunning.store(false, ordering: .releasing) }
            if (try? pool.writeWithoutTransaction({ db in try db.checkpoint(.passive) })) != nil {
                backgroundBackfill.store(0, ordering: .relaxed)
            }
            return
        }
        let backfilled = backgroundBackfill.load(ordering: .relaxed)
        guard frames - backfilled < min(256, walBackstopFrames / 4) else { return }
        if (try? pool.writeWithoutTransaction({ db in try db.checkpoint(.passive) })) != nil {
            backgroundBackfill.store(0, ordering: .relaxed)
        }
    }

    /// Waits until no background checkpoint pass runs (asking a running one to stop after its current step) and keeps
    /// new ones from starting: SQLite runs one checkpoint at a time and refuses a second with SQLITE_BUSY. The caller
    /// gives the turn back with `checkpointRunning.store(false)`. False if a pass did not end within `within`.
    private func takeCheckpointTurn(within: Duration) -> Bool {
        checkpointTurnWanted.store(true, ordering: .relaxed)
        defer { checkpointTurnWanted.store(false, ordering: .relaxed) }
        let deadline = ContinuousClock.now + within
        while !checkpointRunning.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            guard ContinuousClock.now < deadline else { return false }
            Thread.sleep(forTimeInterval: 0.001)
        }
        return true
    }

    /// Asks the writer to apply retention now if it is due (called periodically while idle).
    public func scheduleRetention() {
        let start = state.withLock { s -> Bool in
            if s.draining || s.closed { return false }
            s.draining = true
            return true
        }
        if start { writerQueue.async { self.drain() } }
    }

    private func runRetentionIfDue() {
        if retiredPending || trimPending || shrinkPending, ContinuousClock.now - lastSlice >= Self.sliceInterval {
            do {
                if retiredPending {
                    _ = try clearRetired(within: Self.sliceBudget)
                } else if trimPending, config.maxSizeMiB > 0 {
                    let trimmed = try trimForSize(limit: Int64(config.maxSizeMiB) << 20, within: Self.sliceBudget)
                    trimPending = trimmed.over
                    if trimmed.removed > 0 { logger.info("retention removed partitions", metadata: ["count": "\(trimmed.removed)"]) }
                } else {
                    trimPending = false
                    if shrinkPending { try shrink(within: Self.sliceBudget) }
                }
            } catch {
                logger.error("retention (emptying dropped partitions, trimming or shrinking the file) failed", metadata: ["error": "\(error)"])
                // Tried again with the next retention run, not every slice.
                lastSlice = .now + Self.retentionInterval
            }
        }
        guard ContinuousClock.now - lastRetention >= Self.retentionInterval else { return }
        lastRetention = .now
        do {
            let removed = try enforceRetention(now: Int64(Date().timeIntervalSince1970 * 1e9))
            if removed > 0 { logger.info("retention removed partitions", metadata: ["count": "\(removed)"]) }
        } catch {
            logger.error("retention failed", metadata: ["error": "\(error)"])
        }
    }

    /// Removes partitions older than the retention period, then the oldest ones while the database is over its size
    /// limit. Returns the number of partitions removed. Runs on the writer (see ``applyRetention(now:)``).
    private func enforceRetention(now: Int64) throws -> Int {
        let retentionNanos = Int64(config.retention.components.seconds) * 1_000_000_000
        let limit = Int64(config.maxSizeMiB) << 20
        var removed = 0
        // Age: each partition in its own short transaction (its tables are emptied afterwards, ``RetiredTables``).
        let expired = try pool.read { db in
            try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions WHERE end_ns <= ? ORDER BY bucket", arguments: [now - retentionNanos])
        }
        for b in expired {
            try dropPartition(b)
            removed += 1
        }
        if removed > 0 { try pruneUnreferenced() }
        guard limit > 0 else { return removed }
        let trimmed = try trimForSize(limit: limit, within: Self.sliceBudget)
        removed += trimmed.removed
        trimPending = trimmed.over
        // Give space back gradually when the file is over the limit (e.g. the limit was lowered), in slices between
        // commits (``runRetentionIfDue()``).
        let (used, file) = try pool.read { db in try Self.pageUsage(db) }
        shrinkPending = file > limit && file > used
        return removed
    }

    /// Size retention, for at most `within`: while the pages in use exceed `limit`, drops the oldest partition (and
    /// stops: its pages are free once its tables are emptied, ``RetiredTables``), or trims the only one. Returns the
    /// partitions dropped, and whether the file is still over the limit (the writer then goes on in slices between
    /// commits, ``runRetentionIfDue()``).
    private func trimForSize(limit: Int64, within: Duration) throws -> (removed: Int, over: Bool) {
        let deadline = ContinuousClock.now + within
        defer { lastSlice = .now }
        var removed = 0
        // The pages of dropped partitions' tables count as used until they are emptied: no other partition is
        // dropped for size before then.
        guard !retiredPending else { return (0, true) }
        while ContinuousClock.now < deadline {
            let (used, buckets) = try pool.read { db in
                (try Self.pageUsage(db).used, try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions ORDER BY bucket"))
            }
            guard used > limit else { return (removed, false) }
            if buckets.count > 1, let oldest = buckets.first {
                try dropPartition(oldest)
                removed += 1
                try pruneUnreferenced()
                // Its pages are free only once its tables are emptied (``RetiredTables``).
                if retiredPending { return (removed, true) }
            } else if let only = buckets.first {
                // One partition holds everything: remove its oldest spans, about as many as the overage takes at the
                // partition's average bytes per span (rowids approximate the count), then the summaries of traces
                // left without spans.
                let spans = SQLiteSchema.spansTable(only)
                let traces = SQLiteSchema.tracesTable(only)
                let logs = SQLiteSchema.logsTable(only)
                let layout = try pool.read { db in try TraceIDLookup.Layout(db) }
                let chunked = layout.withSpanChunks.contains(only)
                let clustered = layout.withClusteredRows.contains(only) || chunked
                let rows = chunked ? SpanChunks.table(only) : spans
                let approxCount = try pool.read { db in
                    try Self.approximateSpanCount(db, bucket: only, clustered: clustered)
                        + (Int64.fetchOne(db, sql: "SELECT coalesce(max(rowid) - min(rowid) + 1, 0) FROM \(logs)") ?? 0)
                }
                let perSpan = max(1, used / max(1, approxCount))
                let step = Int(min(max((used - limit) / perSpan, 100), Int64(Self.trimSpansPerStep)))
                let sweptIDs = layout.withTraceIDs.contains(only)
                // A trace left without spans: none in its rowid range (clustered by trace, or chunks), or none by the
                // index.
                let spansOfTrace =
                    clustered
                    ? "SELECT 1 FROM \(rows) WHERE rowid BETWEEN ?1 << 32 AND (?1 << 32) + \(SpanSlots.placeMask)"
                    : "SELECT 1 FROM \(spans) WHERE trace_seq = ?1"
                var gone: [TraceIDTails.Key] = []
                let (deleted, deletedLogs) = try pool.write { db -> (Int, Int) in
                    gone = []
                    var ids: [Int64] = []
                    var count = 0
                    if chunked {
                        // About `step` spans, in whole chunks: as many chunks as the oldest chunks' average size gives.
                        let perChunk =
                            try Double.fetchOne(
                                db, sql: "SELECT avg(span_count) FROM (SELECT span_count FROM \(rows) ORDER BY rowid LIMIT 64)") ?? 1
                        let chunks = max(1, Int(Double(step) / max(1, perChunk)))
                        for row in try Row.fetchAll(
                            db,
                            sql: """
                                DELETE FROM \(rows) WHERE rowid IN (SELECT rowid FROM \(rows) ORDER BY rowid LIMIT ?)
                                RETURNING rowid >> 32, span_count
                                """, arguments: [chunks])
                        {
                            ids.append(row[0])
                            count += row[1] as Int
                        }
                    } else {
                        ids = try Int64.fetchAll(
                            db,
                            sql: """
                                DELETE FROM \(spans) WHERE rowid IN (SELECT rowid FROM \(spans) ORDER BY rowid LIMIT ?)
                                RETURNING trace_seq
                                """, arguments: [step])
                        count = ids.count
                    }
                    let orphan = try db.cachedStatement(
                        sql: """
                            DELETE FROM \(traces) WHERE seq = ?1 AND NOT EXISTS (\(spansOfTrace))
                            RETURNING trace_id
                            """)
                    for id in Set(ids) {
                        // A trace removed leaves `trace_ids_b` and the tail too: its number may be given again.
                        for traceID in try Data.fetchAll(orphan, arguments: [id]) {
                            if chunked {
                                try db.execute(sql: "DELETE FROM \(SpanChunks.idsTable(only)) WHERE trace_seq = ?", arguments: [id])
                            }
                            guard sweptIDs else { continue }
                            try db.execute(sql: "DELETE FROM \(SQLiteSchema.traceIDsTable(only)) WHERE trace_id = ?", arguments: [traceID])
                            if let key = TraceIDTails.Key(traceID) { gone.append(key) }
                        }
                    }
                    try db.execute(
                        sql: "DELETE FROM \(logs) WHERE rowid IN (SELECT rowid FROM \(logs) ORDER BY rowid LIMIT ?)", arguments: [step])
                    return (count, db.changesCount)
                }
                traceIDTails.remove(bucket: only, keys: gone)
                telemetry.retentionRemovedSpans.add(deleted)
                if deleted == 0 && deletedLogs == 0 { return (removed, false) }
            } else {
                return (removed, false)
            }
        }
        return (removed, true)
    }

    /// Drops one partition (on the writer), counting its spans approximately for self-telemetry. Its tables are
    /// emptied afterwards, in steps (``RetiredTables``).
    private func dropPartition(_ bucket: Int64) throws {
        let spans = try pool.write { db -> Int64 in
            let layout = try TraceIDLookup.Layout(db)
            let clustered = layout.withClusteredRows.contains(bucket) || layout.withSpanChunks.contains(bucket)
            let n = (try? Self.approximateSpanCount(db, bucket: bucket, clustered: clustered)) ?? 0
            if try SQLiteSchema.dropPartition(db, bucket: bucket) { retiredPending = true }
            return n
        }
        writer.forget(bucket: bucket)
        logWriter.forget(bucket: bucket)
        telemetry.retentionRemovedSpans.add(Int(spans))
        telemetry.retentionRemovedPartitions.increment()
    }

    /// Empties and drops retired tables (``RetiredTables``), a step per transaction, for at most `within`. True when
    /// none remain.
    @discardableResult
    private func clearRetired(within: Duration) throws -> Bool {
        let deadline = ContinuousClock.now + within
        defer { lastSlice = .now }
        var remaining = try pool.read { db in try RetiredTables.names(db) }
        while let table = remaining.first {
            guard ContinuousClock.now < deadline else { return false }
            if try pool.write({ db in try RetiredTables.step(db, table: table) }) { remaining.removeFirst() }
        }
        retiredPending = false
        return true
    }

    /// Gives free pages back to the file system (`incremental_vacuum`, a few pages per step) for at most `within`,
    /// until the file is within `max_size_mib` or has no free page left.
    private func shrink(within: Duration) throws {
        let deadline = ContinuousClock.now + within
        defer { lastSlice = .now }
        let limit = Int64(config.maxSizeMiB) << 20
        while ContinuousClock.now < deadline {
            let (used, file) = try pool.writeWithoutTransaction { db -> (Int64, Int64) in
                try db.execute(sql: "PRAGMA incremental_vacuum(\(Self.shrinkPagesPerStep))")
                return try Self.pageUsage(db)
            }
            guard file > limit && file > used else {
                shrinkPending = false
                return
            }
        }
    }

    /// About how many spans partition `bucket` holds, from a few seeks rather than a count that reads every row: its
    /// rowid range when rowids are given in arrival order; its traces' numbers times the spans of its last traces when
    /// they are clustered by trace (``SpanSlots``).
    static func approximateSpanCount(_ db: Database, bucket: Int64, clustered: Bool) throws -> Int64 {
        // Each bound in a subquery of its own: one seek each (min and max in one SELECT scan the table).
        guard clustered else {
            let table = SQLiteSchema.spansTable(bucket)
            return try Int64.fetchOne(db, sql: "SELECT coalesce((SELECT max(rowid) FROM \(table)) - (SELECT min(rowid) FROM \(table)) + 1, 0)") ?? 0
        }
        let traces = SQLiteSchema.tracesTable(bucket)
        return try Int64.fetchOne(
            db,
            sql: """
                SELECT CAST(coalesce((SELECT max(seq) FROM \(traces)) - (SELECT min(seq) FROM \(traces)) + 1, 0)
                    * coalesce((SELECT avg(span_count) FROM (SELECT span_count FROM \(traces) ORDER BY seq DESC LIMIT 256)), 0) AS INTEGER)
                """) ?? 0
    }

    /// Bytes of the database file, and of the pages in it that hold data (the file minus its free list).
    static func pageUsage(_ db: Database) throws -> (used: Int64, file: Int64) {
        let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
        let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
        let free = try Int64.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
        return ((pages - free) * pageSize, pages * pageSize)
    }

    /// Removes resources, scopes and operations that no stored span refers to any more (after partitions were
    /// dropped), so these shared tables do not grow forever with resource churn.
    private func pruneUnreferenced() throws {
        try pool.write { db in
            let buckets = try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions")
            try db.execute(sql: "DELETE FROM log_streams WHERE id NOT IN (SELECT stream_id FROM log_stream_buckets)")
            if buckets.isEmpty {
                try db.execute(sql: "DELETE FROM resources; DELETE FROM scopes; DELETE FROM operations; DELETE FROM log_streams")
            } else {
                // From each partition's references (``SpanReferences``), or its span rows when it has none.
                let withTable = try SpanReferences.buckets(db)
                func refs(_ columns: String) -> [String] {
                    buckets.map { SpanReferences.source(columns, bucket: $0, withTable: withTable.contains($0)) }
                }
                let resourceRefs = (refs("resource_id") + ["SELECT resource_id FROM log_streams"]).joined(separator: " UNION ")
                let scopeRefs = (refs("scope_id") + ["SELECT scope_id FROM log_streams"]).joined(separator: " UNION ")
                let operationRefs = refs("service, name, kind").joined(separator: " UNION ")
                try db.execute(sql: "DELETE FROM resources WHERE id NOT IN (\(resourceRefs))")
                try db.execute(sql: "DELETE FROM scopes WHERE id NOT IN (\(scopeRefs))")
                try db.execute(sql: "DELETE FROM operations WHERE (service, name, kind) NOT IN (\(operationRefs))")
            }
        }
        writer.resetCaches()
        logWriter.resetCaches()
    }

    /// Empties retired tables on the writer for at most `within`, and waits for it (used by tests). True when none
    /// remain.
    func clearRetiredTables(within: Duration) async throws -> Bool {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Bool, any Error>) in
            writerQueue.async {
                do { c.resume(returning: try self.clearRetired(within: within)) } catch { c.resume(throwing: error) }
            }
        }
    }

    /// Applies retention immediately on the writer, as if it were `now`, and waits for it (used by tests).
    public func applyRetention(now: Int64) async throws -> Int {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Int, any Error>) in
            writerQueue.async {
                do { c.resume(returning: try self.enforceRetention(now: now)) } catch { c.resume(throwing: error) }
            }
        }
    }

    /// Stops taking new writes, waits until everything queued is committed, and checkpoints the WAL.
    public func close() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { s -> Bool in
                s.closed = true
                if !s.draining && s.pending.isEmpty { return true }
                s.drained.append(c)
                return false
            }
            if idle { c.resume() }
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            writerQueue.async {
                if let baselines = self.writer.baselines {
                    do { try self.pool.write { db in try baselines.saveIfDue(db, force: true) } } catch {
                        self.logger.warning("latency baselines not saved", metadata: ["error": "\(error)"])
                    }
                }
                self.writer.releaseStatements()
                self.logWriter.releaseStatements()
                self.checkpointIntoTheMainFile()
                c.resume()
            }
        }
    }

    /// Runs on the writer at close: copies the whole WAL into the database file and truncates the WAL, so that the file
    /// stands on its own (a copy of it alone is a backup). SQLite refuses a checkpoint while another connection runs
    /// one, so this first takes the background checkpointer's turn, waiting for a running pass to stop (a pass checks
    /// `closed` between its steps).
    private func checkpointIntoTheMainFile() {
        let hasTurn = takeCheckpointTurn(within: .seconds(5))
        defer { if hasTurn { checkpointRunning.store(false, ordering: .releasing) } }
        do {
            let (wal, copied) = try pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
            if copied < wal { logger.warning("the WAL was not fully copied at close", metadata: ["frames": "\(wal)", "copied": "\(copied)"]) }
        } catch {
            logger.warning("the WAL was not copied into the database file at close", metadata: ["error": "\(error)"])
        }
    }

    /// Number of spans waiting for the writer.
    public var queuedSpans: Int { state.withLock { $0.pendingSpans } }
}
