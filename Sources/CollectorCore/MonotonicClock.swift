/// Monotonic time for components driven by time (batch timeouts, tail-sampling decision windows, memory checks).
///
/// Instants are durations since the clock's own origin, which keeps arithmetic plain. Production code uses
/// ``SystemClock``; tests use a manual clock they advance by hand, so no test sleeps.
public protocol MonotonicClock: Sendable {
    /// Time elapsed since the clock's origin.
    var now: Duration { get }
    /// Suspends until ``now`` reaches `deadline`; throws `CancellationError` when the task is cancelled.
    func sleep(until deadline: Duration) async throws
}

extension MonotonicClock {
    /// Suspends for `duration` from now.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now + duration)
    }
}

/// The real monotonic clock (`ContinuousClock`), with its origin at first use.
public struct SystemClock: MonotonicClock {
    private static let origin = ContinuousClock.now

    public init() {}

    public var now: Duration { ContinuousClock.now - Self.origin }

    public func sleep(until deadline: Duration) async throws {
        try await ContinuousClock().sleep(until: Self.origin + deadline, tolerance: nil)
    }
}
