import CollectorCore
import Logging
import ServiceLifecycle

/// When the batch processor sends.
struct BatchSettings: Sendable {
    /// Items that trigger a send (0: only the timeout does).
    var sendBatchSize: Int
    /// Largest batch sent (0: no cap).
    var sendBatchMaxSize: Int
    /// How long the first item of a batch waits at most (0: send every request at once).
    var timeout: Duration
}

/// Collects requests of one signal into batches and delivers them downstream; the engine of the batch processor.
///
/// **What an acknowledgement means.** `consume` returns only after every item it brought has been delivered
/// downstream (and, with the SQLite exporter behind it, committed); if any part of its items failed, it throws
/// that failure so the receiver refuses the request and the client retries. A batch processor therefore never
/// holds acknowledged data: a crash loses only requests that have not been answered yet. The price is latency:
/// a caller waits until its batch fills (`send_batch_size`) or `timeout` passes since the batch's first item.
///
/// Memory: pending items belong to callers that are still waiting, so what is buffered is bounded by what the
/// receivers let in flight.
final class Batcher<Request: BatchableRequest>: Sendable {
    /// One `consume` call waiting for its items, `[start, end)` in the sequence of items ever appended.
    private struct Ticket {
        var id: Int
        var start: Int
        var end: Int
        var undelivered: Int
        var failure: PipelineError?
        var continuation: CheckedContinuation<Void, any Error>?
        var finished = false
    }

    /// A cut batch and the item range it covers.
    struct Batch: Sendable {
        var request: Request
        var start: Int
        var end: Int
    }

    private struct State {
        var pending = Request()
        var pendingCount = 0
        /// Items ever appended; the next item's sequence number.
        var appended = 0
        /// Items ever cut into batches.
        var cut = 0
        /// When the current pending batch must go (set when its first item arrives).
        var deadline: Duration?
        var tickets: [Ticket] = []
        var nextTicket = 0
        var stopped = false
    }

    let settings: BatchSettings
    private let deliver: @Sendable (Request) async throws -> Void
    private let clock: any MonotonicClock
    private let state = LockedValue(State())
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(settings: BatchSettings, clock: any MonotonicClock, deliver: @escaping @Sendable (Request) async throws -> Void) {
        self.settings = settings
        self.clock = clock
        self.deliver = deliver
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Adds `request` to the current batch and returns when all of its items have been delivered downstream.
    func consume(_ request: Request) async throws {
        let count = request.itemCount
        guard count > 0 else { return }
        let (ticket, batches, direct) = state.withLock { s -> (Int, [Batch], Bool) in
            if s.stopped { return (0, [], true) }
            s.nextTicket += 1
            s.tickets.append(Ticket(id: s.nextTicket, start: s.appended, end: s.appended + count, undelivered: count))
            s.pending.append(request)
            s.pendingCount += count
            s.appended += count
            let batches = cutReady(&s)
            if s.pendingCount > 0, s.deadline == nil {
                s.deadline = clock.now + settings.timeout
                wake.yield()
            }
            return (s.nextTicket, batches, false)
        }
        if direct {
            try await deliverUncounted(request)
            return
        }
        for batch in batches { await send(batch) }
        try await wait(for: ticket)
    }

    /// Runs the timeout loop until graceful shutdown, then sends what is left.
    func run() async {
        await cancelWhenGracefulShutdown { await self.timeoutLoop() }
        await stop()
    }

    /// Stops batching: sends everything pending; later requests go straight downstream.
    func stop() async {
        let batches = state.withLock { s -> [Batch] in
            s.stopped = true
            s.deadline = nil
            return cutAll(&s)
        }
        wake.finish()
        for batch in batches { await send(batch) }
    }

    /// Items waiting to be sent (for tests and telemetry).
    var pendingCount: Int { state.withLock { $0.pendingCount } }

    private func timeoutLoop() async {
        var iterator = wakeups.makeAsyncIterator()
        while !Task.isCancelled {
            guard let deadline = state.withLock({ $0.deadline }) else {
                guard await iterator.next() != nil else { return }
                continue
            }
            do { try await clock.sleep(until: deadline) } catch { return }
            let batches = state.withLock { s -> [Batch] in
                guard let d = s.deadline, d <= clock.now else { return [] }
                s.deadline = nil
                return cutAll(&s)
            }
            for batch in batches { await send(batch) }
        }
    }

    /// Cuts the batches a new arrival makes due: every `send_batch_size` items (capped at `send_batch_max_size`),
    /// or everything when there is no timeout.
    private func cutReady(_ s: inout State) -> [Batch] {
        if settings.timeout == .zero { return cutAll(&s) }
        guard settings.sendBatchSize > 0 else {
            // Only the cap can force a send before the timeout.
            var out: [Batch] = []
            while settings.sendBatchMaxSize > 0, s.pendingCount >= settings.sendBatchMaxSize {
                out.append(cut(&s, settings.sendBatchMaxSize))
            }
            return out
        }
        var out: [Batch] = []
        while s.pendingCount >= settings.sendBatchSize {
            let size = settings.sendBatchMaxSize > 0 ? min(s.pendingCount, settings.sendBatchMaxSize) : s.pendingCount
            out.append(cut(&s, size))
        }
        if s.pendingCount == 0 { s.deadline = nil }
        return out
    }

    private func cutAll(_ s: inout State) -> [Batch] {
        var out: [Batch] = []
        while s.pendingCount > 0 {
            let size = settings.sendBatchMaxSize > 0 ? min(s.pendingCount, settings.sendBatchMaxSize) : s.pendingCount
            out.append(cut(&s, size))
        }
        s.deadline = nil
        return out
    }

    private func cut(_ s: inout State, _ size: Int) -> Batch {
        let request: Request
        if size == s.pendingCount {
            request = s.pending
            s.pending = Request()
        } else {
            request = s.pending.removeFirst(items: size)
        }
        s.pendingCount -= size
        let batch = Batch(request: request, start: s.cut, end: s.cut + size)
        s.cut += size
        return batch
    }

    /// Delivers one batch and settles the tickets whose items it carried.
    private func send(_ batch: Batch) async {
        var failure: PipelineError?
        do { try await deliver(batch.request) } catch { failure = PipelineError.classify(error) }
        let resumptions = state.withLock { s -> [(CheckedContinuation<Void, any Error>, PipelineError?)] in
            var out: [(CheckedContinuation<Void, any Error>, PipelineError?)] = []
            var i = 0
            while i < s.tickets.count {
                let overlap = min(s.tickets[i].end, batch.end) - max(s.tickets[i].start, batch.start)
                if overlap > 0 {
                    s.tickets[i].undelivered -= overlap
                    if let failure, s.tickets[i].failure == nil { s.tickets[i].failure = failure }
                    if s.tickets[i].undelivered == 0 {
                        s.tickets[i].finished = true
                        if let c = s.tickets[i].continuation {
                            out.append((c, s.tickets[i].failure))
                            s.tickets.remove(at: i)
                            continue
                        }
                    }
                }
                i += 1
            }
            return out
        }
        for (continuation, failure) in resumptions {
            if let failure { continuation.resume(throwing: failure) } else { continuation.resume() }
        }
    }

    private func wait(for ticket: Int) async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let settled: (Bool, PipelineError?) = state.withLock { s in
                guard let i = s.tickets.firstIndex(where: { $0.id == ticket }) else { return (true, nil) }
                if s.tickets[i].finished {
                    let failure = s.tickets[i].failure
                    s.tickets.remove(at: i)
                    return (true, failure)
                }
                s.tickets[i].continuation = c
                return (false, nil)
            }
            if settled.0 {
                if let failure = settled.1 { c.resume(throwing: failure) } else { c.resume() }
            }
        }
    }

    private func deliverUncounted(_ request: Request) async throws {
        var rest = request
        let cap = settings.sendBatchMaxSize
        while cap > 0, rest.itemCount > cap {
            try await deliver(rest.removeFirst(items: cap))
        }
        try await deliver(rest)
    }
}
