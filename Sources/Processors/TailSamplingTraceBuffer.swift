import Foundation
import OTLP

/// A 16-byte trace ID as two words: a cheap dictionary key (no `Data` hashing on the per-span path).
struct TailTraceKey: Hashable {
    var high: UInt64
    var low: UInt64

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
/// arrived in (otelcol's `ReceivedBatches`).
struct TailPendingTrace {
    var fragments: [ResourceSpans]
    var spanCount: Int
    var bytes: Int
    var arrival: Duration

    /// Whether any span satisfies `condition` (spans in arrival order).
    func hasSpan(_ condition: (Span) -> Bool) -> Bool {
        for rs in fragments {
            for ss in rs.scopeSpans {
                for span in ss.spans where condition(span) { return true }
            }
        }
        return false
    }

    /// otelcol's `hasResourceOrSpanWithCondition` (sampled when any resource or span matches) or, with `invert`,
    /// `invertHasResourceOrSpanWithCondition` (invert-not-sampled as soon as one matches, else invert-sampled).
    func decide(invert: Bool, resource: (Resource) -> Bool, span: (Span) -> Bool) -> TailPolicyDecision {
        for rs in fragments {
            if resource(rs.resource) { return invert ? .invertNotSampled : .sampled }
            for ss in rs.scopeSpans {
                for s in ss.spans where span(s) { return invert ? .invertNotSampled : .sampled }
            }
        }
        return invert ? .invertSampled : .notSampled
    }
}

/// Remembers up to `capacity` trace IDs; when full, the oldest remembered is forgotten first.
struct TailDecisionCache {
    let capacity: Int
    private var members: Set<TailTraceKey> = []
    private var ring: [TailTraceKey] = []
    private var next = 0

    init(capacity: Int) {
        self.capacity = capacity
        members.reserveCapacity(min(capacity, 1 << 16))
    }

    func contains(_ key: TailTraceKey) -> Bool { capacity > 0 && members.contains(key) }

    mutating func insert(_ key: TailTraceKey) {
        guard capacity > 0, !members.contains(key) else { return }
        if ring.count < capacity {
            ring.append(key)
        } else {
            members.remove(ring[next])
            ring[next] = key
            next = (next + 1) % capacity
        }
        members.insert(key)
    }

    var count: Int { members.count }
}

/// Trace IDs in arrival order; decisions always take the oldest first.
struct TailArrivalQueue {
    private var keys: [TailTraceKey] = []
    private var head = 0

    var isEmpty: Bool { head == keys.count }
    var count: Int { keys.count - head }
    var first: TailTraceKey? { isEmpty ? nil : keys[head] }

    mutating func append(_ key: TailTraceKey) { keys.append(key) }

    mutating func removeFirst() -> TailTraceKey? {
        guard !isEmpty else { return nil }
        let key = keys[head]
        head += 1
        if head >= 4096 && head * 2 >= keys.count {
            keys.removeFirst(head)
            head = 0
        }
        return key
    }

    mutating func removeAll() {
        keys.removeAll()
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
struct TailTraceBuffer {
    let decisionWait: Duration
    let numTraces: Int
    let maxBytes: Int
    let decider: TailSamplingDecider
    private var pending: [TailTraceKey: TailPendingTrace] = [:]
    private var order = TailArrivalQueue()
    private var sampledCache: TailDecisionCache
    private var notSampledCache: TailDecisionCache
    private(set) var stats = TailSamplingStatistics()
    var shuttingDown = false

    init(config: TailSamplingConfig) {
        decisionWait = config.decisionWait
        numTraces = config.numTraces
        maxBytes = config.maxBufferedBytes
        decider = TailSamplingDecider(policies: config.policies, sampleOnFirstMatch: config.sampleOnFirstMatch)
        sampledCache = TailDecisionCache(capacity: config.sampledCacheSize)
        notSampledCache = TailDecisionCache(capacity: config.nonSampledCacheSize)
        let expected = config.expectedNewTracesPerSec * Int(config.decisionWait.components.seconds)
        pending.reserveCapacity(min(max(expected, 1024), config.numTraces))
    }

    /// One trace's spans from one request.
    struct Arrival {
        var key: TailTraceKey
        var fragment: ResourceSpans
        var spanCount: Int
        var bytes: Int
    }

    /// Buffers `arrivals`. Returns the spans of already-sampled traces (late spans, to forward now) and the spans
    /// of traces decided early to make room (sampled ones only).
    mutating func add(_ arrivals: [Arrival], now: Duration) -> (late: [ResourceSpans], evicted: [ResourceSpans]) {
        var late: [ResourceSpans] = []
        for a in arrivals {
            if sampledCache.contains(a.key) {
                late.append(a.fragment)
                stats.lateSpansForwarded += a.spanCount
                continue
            }
            if notSampledCache.contains(a.key) {
                stats.lateSpansDropped += a.spanCount
                continue
            }
            if pending[a.key] != nil {
                pending[a.key]?.fragments.append(a.fragment)
                pending[a.key]?.spanCount += a.spanCount
                pending[a.key]?.bytes += a.bytes
            } else {
                pending[a.key] = TailPendingTrace(fragments: [a.fragment], spanCount: a.spanCount, bytes: a.bytes, arrival: now)
                order.append(a.key)
            }
            stats.bufferedBytes += a.bytes
        }
        var evicted: [ResourceSpans] = []
        while pending.count > numTraces || stats.bufferedBytes > maxBytes, let key = order.removeFirst() {
            stats.tracesDecidedEarly += 1
            decide(key, now: now, into: &evicted)
        }
        stats.pendingTraces = pending.count
        return (late, evicted)
    }

    /// Decides up to `limit` traces whose first span arrived `decision_wait` ago or earlier. `more` is true when
    /// more are due.
    mutating func decideDue(now: Duration, limit: Int) -> (sampled: [ResourceSpans], more: Bool) {
        var out: [ResourceSpans] = []
        var decided = 0
        while decided < limit, let key = order.first {
            guard let trace = pending[key] else {
                _ = order.removeFirst()
                continue
            }
            guard trace.arrival + decisionWait <= now else { break }
            _ = order.removeFirst()
            decide(key, now: now, into: &out)
            decided += 1
        }
        stats.pendingTraces = pending.count
        let more = order.first.map { (pending[$0]?.arrival ?? now) + decisionWait <= now } ?? false
        return (out, more)
    }

    /// Decides every pending trace, oldest first, up to `limit`.
    mutating func decideOldest(now: Duration, limit: Int) -> (sampled: [ResourceSpans], more: Bool) {
        var out: [ResourceSpans] = []
        var decided = 0
        while decided < limit, let key = order.removeFirst() {
            decide(key, now: now, into: &out)
            decided += 1
        }
        stats.pendingTraces = pending.count
        return (out, !order.isEmpty)
    }

    /// Forgets every pending trace without a decision (`drop_pending_traces_on_shutdown`).
    mutating func dropAllPending() {
        stats.pendingTracesDroppedOnShutdown += pending.count
        pending.removeAll()
        order.removeAll()
        stats.bufferedBytes = 0
        stats.pendingTraces = 0
    }

    mutating func recordLostDownstream(_ spans: Int) { stats.spansLostDownstream += spans }

    private mutating func decide(_ key: TailTraceKey, now: Duration, into out: inout [ResourceSpans]) {
        guard let trace = pending.removeValue(forKey: key) else { return }
        stats.bufferedBytes -= trace.bytes
        if decider.decide(trace, traceID: key, now: now) {
            stats.tracesSampled += 1
            sampledCache.insert(key)
            out.append(contentsOf: trace.fragments)
        } else {
            stats.tracesNotSampled += 1
            notSampledCache.insert(key)
        }
    }
}
