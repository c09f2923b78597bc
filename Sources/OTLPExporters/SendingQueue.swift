import CollectorCore
import Logging
import NIOCore
import Synchronization

/// One export waiting to go upstream: the encoded request and how many items (spans, points, records) it holds.
public struct OutgoingRequest: Sendable {
    public var signal: Signal
    public var bytes: [UInt8]
    public var items: Int

    public init(signal: Signal, bytes: [UInt8], items: Int) {
        self.signal = signal
        self.bytes = bytes
        self.items = items
    }
}

/// Sends one request upstream once and says what the answer means.
public protocol UpstreamSender: Sendable {
    func send(_ request: OutgoingRequest) async -> UpstreamVerdict
}

/// What happened to the items of a request in the end; the queue reports each request once.
public struct DeliveryReport: Sendable, Equatable {
    /// `kept`: still in the persistent queue when the exporter stopped; it goes out after the next start.
    public enum Outcome: Sendable, Equatable { case delivered, dropped, kept }
    public var signal: Signal
    public var items: Int
    public var outcome: Outcome
    /// Items the upstream refused individually (partial success) or why the request was dropped.
    public var rejected: Int64 = 0
    public var reason = ""

    public init(signal: Signal, items: Int, outcome: Outcome, rejected: Int64 = 0, reason: String = "") {
        self.signal = signal
        self.items = items
        self.outcome = outcome
        self.rejected = rejected
        self.reason = reason
    }
}

/// otelcol's exporterhelper in memory: a bounded queue in front of `num_consumers` senders, each retrying with
/// ``RetryPolicy``. A full queue refuses (retryably) or waits (`block_on_overflow`); with `wait_for_result` the
/// caller waits for delivery.
///
/// In memory, items still queued when the process dies are lost (docs/configuration.md). With a
/// ``DurableQueueStore`` (`sending_queue.storage`), a request is committed to it before ``submit(_:)`` returns,
/// its bytes are read back only when a consumer takes it, and it is removed once delivered or dropped; what is
/// held when the exporter stops stays for the next start (``restore()``).
public final class SendingQueue: Sendable {
    private struct Entry: Sendable {
        /// For a stored entry, the bytes are empty until a consumer reads them back.
        var request: OutgoingRequest
        var size: Int
        var waiter: CheckedContinuation<Void, any Error>?
        var storedID: Int64?
        /// Bytes of a stored entry kept in memory too (within ``residentBudget``), so it is not read back.
        var resident = 0
    }

    private struct State {
        var entries = CircularBuffer<Entry>()
        var used = 0
        var idleConsumers: [CheckedContinuation<Entry?, Never>] = []
        var blockedProducers: [CheckedContinuation<Void, Never>] = []
        var closed = false
        /// Set by ``beginHandoff()``: what is queued or in flight is handed back instead of sent.
        var handingOff = false
        var leftovers: [OutgoingRequest] = []
        /// Bytes of stored entries also held in memory.
        var resident = 0
    }

    /// How many bytes of a persistent queue's requests stay in memory besides the disk, so that a queue that keeps up
    /// never reads its requests back.
    static let residentBudget = 32 << 20

    public let settings: SendingQueueSettings
    public let retry: RetryPolicy
    private let sender: any UpstreamSender
    private let clock: any MonotonicClock
    private let logger: Logger
    private let report: @Sendable (DeliveryReport) -> Void
    private let state = Mutex(State())
    private let randomSeed: UInt64
    /// Gates every attempt (disabled unless `circuit_breaker.enabled`).
    public let breaker: CircuitBreaker
    /// Whether the last attempt failed retryably: the first failure of a streak is logged with its cause, and the
    /// first success after it, so an unreachable upstream is one log line, not one per attempt.
    private let failing = Atomic(false)
    private let store: (any DurableQueueStore)?

    /// - Parameters:
    ///   - report: told what became of every request (self-telemetry and logs hang off it).
    ///   - randomSeed: seeds the backoff jitter (tests pass a fixed one).
    public init(
        settings: SendingQueueSettings, retry: RetryPolicy, breaker: CircuitBreakerSettings = CircuitBreakerSettings(),
        sender: any UpstreamSender, clock: any MonotonicClock, logger: Logger, store: (any DurableQueueStore)? = nil,
        randomSeed: UInt64 = UInt64.random(in: 0...UInt64.max), report: @escaping @Sendable (DeliveryReport) -> Void = { _ in }
    ) {
        self.store = store
        self.breaker = CircuitBreaker(settings: breaker, clock: clock, logger: logger)
        self.settings = settings
        self.retry = retry
        self.sender = sender
        self.clock = clock
        self.logger = logger
        self.randomSeed = randomSeed
        self.report = report
    }

    /// The queue's fill in `sizer` units, and its capacity.
    public var size: Int { state.withLock { $0.used } }
    public var capacity: Int { settings.queueSize }

    /// Whether the queue lives in a storage extension.
    public var isPersistent: Bool { store != nil }

    private func size(items: Int, byteCount: Int) -> Int {
        switch settings.sizer {
        case .requests: 1
        case .items: max(1, items)
        case .bytes: max(1, byteCount)
        }
    }

    /// Queues again what the store held when the exporter last stopped (or crashed), oldest first; returns how
    /// many requests. Call once, before ``run()``.
    @discardableResult
    public func restore() throws -> Int {
        guard let store else { return 0 }
        let held = try store.stored()
        for r in held {
            let entry = Entry(
                request: OutgoingRequest(signal: r.signal, bytes: [], items: r.items),
                size: size(items: r.items, byteCount: r.byteCount), waiter: nil, storedID: r.id)
            state.withLock { $0.used += entry.size }
            enqueue(entry)
        }
        if !held.isEmpty {
            logger.info(
                "restored the persistent sending queue",
                metadata: [
                    "requests": "\(held.count)",
                    "items": "\(held.reduce(0) { $0 + $1.items })",
                ])
        }
        return held.count
    }

    /// Queues `request` (or, with the queue disabled, sends it now, retrying). Throws a retryable
    /// ``PipelineError`` when the queue is full and does not block, or when it is shutting down.
    public func submit(_ request: OutgoingRequest) async throws {
        guard settings.enabled else {
            let outcome = await deliver(request)
            if case .dropped = outcome.outcome { throw PipelineError.permanent("export failed: \(outcome.reason)") }
            return
        }
        let size = size(items: request.items, byteCount: request.bytes.count)
        while true {
            enum Step { case queued, full, closed }
            let step: Step = state.withLock { s in
                if s.closed { return .closed }
                // A request larger than the whole queue goes in alone, so nothing is refused for ever.
                if s.used + size > settings.queueSize && s.used > 0 { return .full }
                s.used += size
                return .queued
            }
            switch step {
            case .closed:
                throw PipelineError.retryable("the exporter is shutting down")
            case .full where !settings.blockOnOverflow:
                throw PipelineError.retryable("sending queue is full")
            case .full:
                await withCheckedContinuation { c in
                    let resumeNow = state.withLock { s -> Bool in
                        if s.closed || s.used + size <= settings.queueSize || s.used == 0 { return true }
                        s.blockedProducers.append(c)
                        return false
                    }
                    if resumeNow { c.resume() }
                }
                continue
            case .queued:
                break
            }
            var entry = Entry(request: request, size: size, waiter: nil)
            if let store {
                do {
                    let stored = try await store.append(signal: request.signal, items: request.items, bytes: request.bytes)
                    entry.storedID = stored.id
                    let count = request.bytes.count
                    let keep = state.withLock { s in
                        guard s.resident + count <= Self.residentBudget else { return false }
                        s.resident += count
                        return true
                    }
                    if keep { entry.resident = count } else { entry.request.bytes = [] }
                } catch {
                    release(size)
                    logger.error("cannot write to the persistent sending queue; refusing the export", metadata: ["error": "\(error)"])
                    throw PipelineError.retryable("the sending queue's storage failed: \(error)")
                }
            }
            if settings.waitForResult {
                try await withCheckedThrowingContinuation { c in
                    entry.waiter = c
                    enqueue(entry)
                }
            } else {
                enqueue(entry)
            }
            return
        }
    }

    /// Hands a reserved entry (its size already counted in `used`) to an idle consumer or the queue.
    private func enqueue(_ entry: Entry) {
        var handedBack = false
        let consumer: CheckedContinuation<Entry?, Never>? = state.withLock { s in
            if s.handingOff {
                s.used -= entry.size
                handedBack = true
                return nil
            }
            if !s.idleConsumers.isEmpty { return s.idleConsumers.removeFirst() }
            s.entries.append(entry)
            return nil
        }
        if handedBack { handBack(entry) }
        consumer?.resume(returning: entry)
    }

    /// An entry taken out during a handoff: a caller waiting for its result is told to retry (it resends); otherwise
    /// its request joins the leftovers for the owner to send elsewhere.
    private func handBack(_ entry: Entry) {
        if let waiter = entry.waiter {
            waiter.resume(throwing: PipelineError.retryable("the backend was removed; send again"))
        } else {
            state.withLock { $0.leftovers.append(entry.request) }
        }
    }

    /// Stops sending to this upstream for good (a load-balanced backend that went away): takes no more requests and
    /// hands back what is queued; cancel ``run()`` next, and what was in flight is handed back too. Collect it all
    /// with ``takeLeftovers()`` once ``run()`` has returned. Only for in-memory queues.
    public func beginHandoff() {
        let (queued, consumers, producers) = state.withLock { s in
            s.closed = true
            s.handingOff = true
            let queued = Array(s.entries)
            s.entries.removeAll()
            s.used -= queued.reduce(0) { $0 + $1.size }
            let c = s.idleConsumers
            let p = s.blockedProducers
            s.idleConsumers = []
            s.blockedProducers = []
            return (queued, c, p)
        }
        for entry in queued { handBack(entry) }
        for c in consumers { c.resume(returning: nil) }
        for p in producers { p.resume() }
    }

    /// The requests handed back since ``beginHandoff()``.
    public func takeLeftovers() -> [OutgoingRequest] {
        state.withLock { s in
            defer { s.leftovers = [] }
            return s.leftovers
        }
    }

    /// Whether ``beginHandoff()`` was called.
    public var isHandingOff: Bool { state.withLock { $0.handingOff } }

    /// The next entry for a consumer; nil once closed and empty.
    private func next() async -> Entry? {
        await withCheckedContinuation { c in
            let ready: Entry?? = state.withLock { s in
                if let e = s.entries.popFirst() { return .some(e) }
                if s.closed { return .some(nil) }
                s.idleConsumers.append(c)
                return nil
            }
            if let ready { c.resume(returning: ready) }
        }
    }

    /// Gives back `size` units of room (and `resident` bytes of the memory budget) and wakes blocked producers.
    private func release(_ size: Int, resident: Int = 0) {
        let producers = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.used -= size
            s.resident -= resident
            let p = s.blockedProducers
            s.blockedProducers = []
            return p
        }
        for p in producers { p.resume() }
    }

    /// Runs the consumers until ``close()`` and the queue is empty, or the task is cancelled.
    public func run() async {
        await withDiscardingTaskGroup { group in
            for _ in 0..<settings.numConsumers {
                group.addTask {
                    while let entry = await self.next() {
                        let outcome = await self.process(entry)
                        self.release(entry.size, resident: entry.resident)
                        if outcome.outcome == .kept && entry.storedID == nil {
                            self.handBack(entry)
                            continue
                        }
                        switch outcome.outcome {
                        case .delivered: entry.waiter?.resume()
                        case .dropped: entry.waiter?.resume(throwing: PipelineError.permanent("export failed: \(outcome.reason)"))
                        case .kept: entry.waiter?.resume(throwing: PipelineError.retryable("the exporter is shutting down"))
                        }
                    }
                }
            }
        }
    }

    /// Takes no more requests; consumers finish what is queued and stop.
    public func close() {
        let (consumers, producers) = state.withLock { s in
            s.closed = true
            let c = s.entries.isEmpty ? s.idleConsumers : []
            if s.entries.isEmpty { s.idleConsumers = [] }
            let p = s.blockedProducers
            s.blockedProducers = []
            return (c, p)
        }
        for c in consumers { c.resume(returning: nil) }
        for p in producers { p.resume() }
    }

    /// Delivers one entry; a stored one is read back first and removed from the store once delivered or dropped.
    private func process(_ entry: Entry) async -> DeliveryReport {
        guard let store, let id = entry.storedID else { return await deliver(entry.request, keepWhenCancelled: false) }
        var request = entry.request
        if entry.resident == 0 {
            let bytes: [UInt8]?
            do { bytes = try await store.bytes(of: id) } catch {
                logger.error(
                    "cannot read a request back from the persistent sending queue; dropping it",
                    metadata: ["id": "\(id)", "items": "\(request.items)", "error": "\(error)"])
                let outcome = DeliveryReport(
                    signal: request.signal, items: request.items, outcome: .dropped, reason: "unreadable in storage: \(error)")
                report(outcome)
                try? await store.remove(id)
                return outcome
            }
            guard let bytes else { return DeliveryReport(signal: request.signal, items: request.items, outcome: .kept, reason: "no longer stored") }
            request.bytes = bytes
        }
        let outcome = await deliver(request, keepWhenCancelled: true)
        if outcome.outcome != .kept {
            do { try await store.remove(id) } catch {
                logger.error(
                    "cannot remove a finished request from the persistent sending queue; it will be sent again after a restart",
                    metadata: ["id": "\(id)", "error": "\(error)"])
            }
        }
        return outcome
    }

    /// Sends until delivered, dropped for good, or out of retry time; reports and returns the outcome. With
    /// `keepWhenCancelled` (a persistent queue) or during a handoff, cancellation returns `kept` unreported
    /// instead of dropping.
    func deliver(_ request: OutgoingRequest, keepWhenCancelled keepFlag: Bool = false) async -> DeliveryReport {
        let kept = DeliveryReport(signal: request.signal, items: request.items, outcome: .kept, reason: "kept for the next start")
        var keepWhenCancelled: Bool { keepFlag || isHandingOff }
        if keepWhenCancelled && Task.isCancelled { return kept }
        var random = SeededRandom(seed: randomSeed &+ UInt64(truncatingIfNeeded: request.bytes.count))
        let started = clock.now
        var attempt = 0
        var outcome: DeliveryReport
        while true {
            do { try await breaker.acquire() } catch {
                if keepWhenCancelled { return kept }
                outcome = DeliveryReport(
                    signal: request.signal, items: request.items, outcome: .dropped, reason: "shutting down while the circuit was open")
                break
            }
            let verdict = await sender.send(request)
            if case .retryable = verdict { breaker.record(success: false) } else { breaker.record(success: true) }
            switch verdict {
            case .delivered(let rejected, let message):
                if failing.exchange(false, ordering: .relaxed) { logger.info("the upstream accepts exports again") }
                outcome = DeliveryReport(signal: request.signal, items: request.items, outcome: .delivered, rejected: rejected, reason: message)
                if rejected > 0 {
                    logger.warning("upstream accepted the export partially", metadata: ["rejected": "\(rejected)", "message": "\(message)"])
                }
            case .permanent(let reason):
                outcome = DeliveryReport(signal: request.signal, items: request.items, outcome: .dropped, reason: reason)
                logger.error("export dropped: the upstream refused it for good", metadata: ["items": "\(request.items)", "reason": "\(reason)"])
            case .retryable(let after, let reason):
                if !failing.exchange(true, ordering: .relaxed) {
                    logger.warning("export failed; retrying (logged once until the upstream accepts again)", metadata: ["reason": "\(reason)"])
                }
                let wait = retry.delay(attempt: attempt, serverDelay: after, random: &random)
                let outOfTime = retry.maxElapsedTime != .zero && clock.now + wait - started > retry.maxElapsedTime
                if keepWhenCancelled && Task.isCancelled { return kept }
                if !retry.enabled || outOfTime || Task.isCancelled {
                    let why = !retry.enabled ? "retry_on_failure is disabled" : outOfTime ? "max_elapsed_time reached" : "shutting down"
                    outcome = DeliveryReport(signal: request.signal, items: request.items, outcome: .dropped, reason: "\(reason) (\(why))")
                    logger.error("export dropped after retrying", metadata: ["items": "\(request.items)", "reason": "\(reason)", "why": "\(why)"])
                    break
                }
                attempt += 1
                do { try await clock.sleep(for: wait) } catch {
                    if keepWhenCancelled { return kept }
                    outcome = DeliveryReport(signal: request.signal, items: request.items, outcome: .dropped, reason: "\(reason) (shutting down)")
                    break
                }
                continue
            }
            break
        }
        report(outcome)
        return outcome
    }
}
