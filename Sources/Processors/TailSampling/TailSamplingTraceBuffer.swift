import Foundation
import OTLP

/// A 16-byte trace ID as two words: a cheap dictionary key (no `Data` hashing on the per-span path).
struct TailTraceKey: Hashable {
    var high: UInt64
    var low: UInt64

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    init(_ traceID: Data) {
        if traceID.count == 16 {
            (high, low) = traceID.withUnsafeBytes { raw in
                (raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            }
        } else {
            // Not a valid trace ID (receivers reject these); fold whatever bytes there are.
            var bytes = [UInt8](repeating: 0, count: 16)
            for (i, b) in traceID.prefix(16).enumerated() { bytes[i] = b }
            (high, low) = bytes.withUnsafeBytes { raw in
                (raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            }
        }
    }
}

/// The spans of one trace waiting for a decision: one `ResourceSpans` fragment per resource per request it
/// arrived in (otelcol's `ReceivedBatches`), and what the policies' checks found in them as they arrived.
struct TailPendingTrace {
    /// The first fragment, and any later ones (most traces arrive in one request: no list to allocate).
    var firstFragment: ResourceSpans
    var laterFragments: [ResourceSpans] = []
    var spanCount: Int
    var bytes: Int
    var arrival: Duration
    var facts: TailTraceFacts

    /// A trace first seen in `first`.
    init(first: consuming TailTraceBuffer.Arrival, now: Duration) {
        firstFragment = first.fragment
        spanCount = first.spanCount
        bytes = first.bytes
        arrival = now
        facts = first.facts
    }

    /// The fragments in arrival order.
    var fragments: [ResourceSpans] { [firstFragment] + laterFragments }

    /// Adds a later fragment. Its checks met are added; its latency facts were folded from an empty trace, so the
    /// fold is carried on from this trace's state over the fragment's spans, in order, instead.
    mutating func absorb(_ a: consuming TailTraceBuffer.Arrival, checks: TailSpanChecks) {
        laterFragments.append(a.fragment)
        spanCount += a.spanCount
        bytes += a.bytes
        facts.matches.formUnion(a.facts.matches, excluding: checks.latencySlots)
        if !checks.latencyChecks.isEmpty {
            for ss in a.fragment.scopeSpans {
                for span in ss.spans { checks.fold(start: span.startTimeUnixNano, end: span.endTimeUnixNano, into: &facts) }
            }
        }
    }
}

/// The last `capacity` trace IDs decided one way, oldest first out: the order in which a decision cache forgets.
struct TailDecisionRing {
    let capacity: Int
    private var ring: [TailTraceKey] = []
    private var next = 0

    init(capacity: Int) { self.capacity = capacity }

    /// Adds `key`; returns the key forgotten to make room, if the ring was full.
    mutating func insert(_ key: TailTraceKey) -> TailTraceKey? {
        if ring.count < capacity {
            ring.append(key)
            return nil
        }
        let forgotten = ring[next]
        ring[next] = key
        next = (next + 1) % capacity
        return forgotten
    }
}

/// Pending traces in arrival order (trace ID and slot); decisions always take the oldest first.
struct TailArrivalQueue {
    private var entries: [(key: TailTraceKey, slot: Int32)] = []
    private var head = 0

    var isEmpty: Bool { head == entries.count }
    var count: Int { entries.count - head }
    var first: (key: TailTraceKey, slot: Int32)? { isEmpty ? nil : entries[head] }

    mutating func append(_ key: TailTraceKey, slot: Int32) { entries.append((key, slot)) }

    mutating func removeFirst() -> (key: TailTraceKey, slot: Int32)? {
        guard !isEmpty else { return nil }
        let entry = entries[head]
        head += 1
        if head >= 4096 && head * 2 >= entries.count {
            entries.removeFirst(head)
            head = 0
        }
        return entry
    }

    /// Every entry still queued, oldest first.
    var remaining: ArraySlice<(key: TailTraceKey, slot: Int32)> { entries[head...] }

    mutating func removeAll() {
        entries.removeAll()
        head = 0
    }
}

/// Counters the processor keeps (read by tests and logs).
public struct TailSamplingStatistics: Sendable, Equatable {
    public var pendingTraces = 0
    public var bufferedBytes = 0
    public var tracesSampled = 0
    public var tracesNotSampled = 0
    /// Traces decided before `decision_wait` because `num_traces` or `max_buffered_bytes` was reached.
    public var tracesDecidedEarly = 0
    /// Spans arriving after their trace's decision: forwarded (sampled) or dropped (not sampled).
    public var lateSpansForwarded = 0
    public var lateSpansDropped = 0
    /// Spans of decided traces that the downstream consumer refused (they were already acknowledged, so lost).
    public var spansLostDownstream = 0
    public var pendingTracesDroppedOnShutdown = 0
}

/// The buffer of traces waiting for a decision, the decision caches and the policies. Not thread-safe: the
/// processor keeps it behind a mutex.
///
/// One table maps every trace ID the buffer knows to its state: pending (its slot in `slots`, where its spans
/// are) or remembered by a decision cache (sampled or not). An arriving fragment costs one lookup whatever its
/// trace's state, a decision one more (and one to forget the oldest cached ID when a cache is full); each of
/// these is a likely cache miss in a table of this size, so they are kept few. Pending traces and cached IDs are
/// disjoint: a trace is cached when it is decided, and a cached trace's spans never start a pending one.
struct TailTraceBuffer {
    let decisionWait: Duration
    let numTraces: Int
    let maxBytes: Int
    let decider: TailSamplingDecider
    var checks: TailSpanChecks { decider.checks }
    /// Trace ID → slot of a pending trace (≥ 0), or ``sampled`` / ``notSampled`` for IDs in a decision cache.
    private var traces: [TailTraceKey: Int32] = [:]
    /// Pending traces (nil: a free slot, listed in `freeSlots`).
    private var slots: [TailPendingTrace?] = []
    private var freeSlots: [Int32] = []
    private var pendingCount = 0
    private var order = TailArrivalQueue()
    /// The decision caches' IDs, in the order they are forgotten (their states are in `traces`).
    private var sampledRing: TailDecisionRing
    private var notSampledRing: TailDecisionRing
    private(set) var stats = TailSamplingStatistics()
    var shuttingDown = false

    static let sampled: Int32 = -1
    static let notSampled: Int32 = -2
    private static let absent: Int32 = -3

    init(config: TailSamplingConfig) {
        decisionWait = config.decisionWait
        numTraces = config.numTraces
        maxBytes = config.maxBufferedBytes
        decider = TailSamplingDecider(policies: config.policies, sampleOnFirstMatch: config.sampleOnFirstMatch)
        sampledRing = TailDecisionRing(capacity: config.sampledCacheSize)
        notSampledRing = TailDecisionRing(capacity: config.nonSampledCacheSize)
        let expected = config.expectedNewTracesPerSec * Int(config.decisionWait.components.seconds)
        traces.reserveCapacity(min(max(expected, 1024), config.numTraces))
    }

    /// One trace's spans from one request, with their estimated size and what the checks found in them (the
    /// latency fold starting from an empty trace).
    struct Arrival {
        var key: TailTraceKey
        var fragment: ResourceSpans
        var spanCount: Int
        var bytes: Int
        var facts: TailTraceFacts
    }

    /// Buffers `arrivals`, in order. Returns the spans of already-sampled traces (late spans, to forward now) and
    /// the spans of traces decided early to make room (sampled ones only). `arrivals` is emptied: each is moved
    /// out, not copied (a copy of a fragment retains its resource's attributes, often shared by many requests).
    mutating func add(_ arrivals: inout [Arrival], now: Duration) -> (late: [ResourceSpans], evicted: [ResourceSpans]) {
        var late: [ResourceSpans] = []
        arrivals.reverse()  // then taken from the end, in order
        while let a = arrivals.popLast() {
            let free = freeSlots.last ?? Int32(slots.count)
            // One lookup: the trace's state, with `free` recorded for it if it is new.
            let state = Self.claim(&traces[a.key, default: Self.absent], for: free)
            switch state {
            case Self.absent:
                order.append(a.key, slot: free)
                pendingCount += 1
                stats.bufferedBytes += a.bytes
                let trace = TailPendingTrace(first: a, now: now)
                if freeSlots.isEmpty { slots.append(trace) } else { slots[Int(freeSlots.removeLast())] = trace }
            case Self.sampled:
                late.append(a.fragment)
                stats.lateSpansForwarded += a.spanCount
            case Self.notSampled:
                stats.lateSpansDropped += a.spanCount
            default:
                stats.bufferedBytes += a.bytes
                slots[Int(state)]?.absorb(a, checks: decider.checks)
            }
        }
        var evicted: [ResourceSpans] = []
        while pendingCount > numTraces || stats.bufferedBytes > maxBytes, let next = order.removeFirst() {
            stats.tracesDecidedEarly += 1
            decide(next.key, slot: next.slot, now: now, into: &evicted)
        }
        stats.pendingTraces = pendingCount
        return (late, evicted)
    }

    /// The state in `entry`; when absent, `entry` becomes `slot`.
    @inline(__always)
    private static func claim(_ entry: inout Int32, for slot: Int32) -> Int32 {
        let state = entry
        if state == absent { entry = slot }
        return state
    }

    /// Decides up to `limit` traces whose first span arrived `decision_wait` ago or earlier. `more` is true when
    /// more are due.
    mutating func decideDue(now: Duration, limit: Int) -> (sampled: [ResourceSpans], more: Bool) {
        var out: [ResourceSpans] = []
        var decided = 0
        while decided < limit, let next = order.first {
            guard let arrival = slots[Int(next.slot)]?.arrival else {
                _ = order.removeFirst()
                continue
            }
            guard arrival + decisionWait <= now else { break }
            _ = order.removeFirst()
            decide(next.key, slot: next.slot, now: now, into: &out)
            decided += 1
        }
        stats.pendingTraces = pendingCount
        let more = order.first.map { (slots[Int($0.slot)]?.arrival ?? now) + decisionWait <= now } ?? false
        return (out, more)
    }

    /// Decides every pending trace, oldest first, up to `limit`.
    mutating func decideOldest(now: Duration, limit: Int) -> (sampled: [ResourceSpans], more: Bool) {
        var out: [ResourceSpans] = []
        var decided = 0
        while decided < limit, let next = order.removeFirst() {
            decide(next.key, slot: next.slot, now: now, into: &out)
            decided += 1
        }
        stats.pendingTraces = pendingCount
        return (out, !order.isEmpty)
    }

    /// Forgets every pending trace without a decision (`drop_pending_traces_on_shutdown`).
    mutating func dropAllPending() {
        stats.pendingTracesDroppedOnShutdown += pendingCount
        for entry in order.remaining { traces.removeValue(forKey: entry.key) }
        slots.removeAll()
        freeSlots.removeAll()
        pendingCount = 0
        order.removeAll()
        stats.bufferedBytes = 0
        stats.pendingTraces = 0
    }

    mutating func recordLostDownstream(_ spans: Int) { stats.spansLostDownstream += spans }

    private mutating func decide(_ key: TailTraceKey, slot: Int32, now: Duration, into out: inout [ResourceSpans]) {
        var taken: TailPendingTrace?
        swap(&taken, &slots[Int(slot)])
        guard let trace = taken else { return }
        freeSlots.append(slot)
        pendingCount -= 1
        stats.bufferedBytes -= trace.bytes
        if decider.decide(trace, traceID: key, now: now) {
            stats.tracesSampled += 1
            remember(key, as: Self.sampled)
            out.append(trace.firstFragment)
            out.append(contentsOf: trace.laterFragments)
        } else {
            stats.tracesNotSampled += 1
            remember(key, as: Self.notSampled)
        }
    }

    /// Records a decided trace in its decision cache (or forgets it when that cache is off), forgetting the
    /// cache's oldest ID when it is full.
    private mutating func remember(_ key: TailTraceKey, as decision: Int32) {
        guard let i = traces.index(forKey: key) else { return }
        let capacity = decision == Self.sampled ? sampledRing.capacity : notSampledRing.capacity
        guard capacity > 0 else {
            traces.remove(at: i)
            return
        }
        traces.values[i] = decision
        let forgotten = decision == Self.sampled ? sampledRing.insert(key) : notSampledRing.insert(key)
        if let forgotten, let j = traces.index(forKey: forgotten), traces.values[j] == decision {
            traces.remove(at: j)
        }
    }
}
