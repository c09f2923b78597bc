import Synchronization

/// A monotonic count, updated with one atomic add (safe on hot paths).
public final class TelemetryCounter: Sendable {
    private let count = Atomic<UInt64>(0)

    public init() {}

    public func add(_ n: Int) {
        guard n > 0 else { return }
        count.wrappingAdd(UInt64(n), ordering: .relaxed)
    }

    public func increment() { add(1) }

    public var value: UInt64 { count.load(ordering: .relaxed) }
}

/// A distribution of observations in fixed buckets. Observations take a short lock; meant for per-transaction or
/// per-request events (commit latency, request latency), not per item.
public final class TelemetryHistogram: Sendable {
    public let bounds: [Double]
    private let state: Mutex<State>

    struct State {
        var counts: [UInt64]
        var sum: Double = 0
        var count: UInt64 = 0
    }

    public init(bounds: [Double]) {
        let sorted = bounds.filter(\.isFinite).sorted()
        self.bounds = sorted
        state = Mutex(State(counts: Array(repeating: 0, count: sorted.count + 1)))
    }

    public func observe(_ value: Double) {
        var i = 0
        while i < bounds.count && value > bounds[i] { i += 1 }
        state.withLock { s in
            s.counts[i] += 1
            s.sum += value
            s.count += 1
        }
    }

    /// Observes a duration in seconds.
    public func observe(_ duration: Duration) {
        let (s, atto) = duration.components
        observe(Double(s) + Double(atto) * 1e-18)
    }

    var value: TelemetryValue {
        let s = state.withLock { $0 }
        return .histogram(bounds: bounds, counts: s.counts, sum: s.sum, count: s.count)
    }
}
