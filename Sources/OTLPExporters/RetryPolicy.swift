import CollectorCore

/// `retry_on_failure`, with otelcol's keys and defaults (configretry): exponential backoff with jitter, bounded by
/// `max_elapsed_time` (0: retry forever).
public struct RetryPolicy: Sendable, Equatable {
    public var enabled = true
    public var initialInterval: Duration = .seconds(5)
    public var maxInterval: Duration = .seconds(30)
    public var maxElapsedTime: Duration = .seconds(300)
    public var multiplier = 1.5
    public var randomizationFactor = 0.5

    public init() {}

    public init(reading r: ConfigReader) {
        enabled = r.bool("enabled", default: enabled)
        initialInterval = r.duration("initial_interval", default: initialInterval, minimum: .milliseconds(1))
        maxInterval = r.duration("max_interval", default: maxInterval, minimum: .milliseconds(1))
        maxElapsedTime = r.duration("max_elapsed_time", default: maxElapsedTime)
        multiplier = r.double("multiplier", default: multiplier, range: 1...100)
        randomizationFactor = r.double("randomization_factor", default: randomizationFactor, range: 0...1)
        if maxElapsedTime != .zero {
            if maxElapsedTime < initialInterval { r.report("max_elapsed_time", "must not be below initial_interval") }
            if maxElapsedTime < maxInterval { r.report("max_elapsed_time", "must not be below max_interval (or 0 to retry forever)") }
        }
    }

    /// The wait before retry number `attempt` (0 for the first retry): `initial × multiplier^attempt`, capped at
    /// `max_interval`, then spread by ±`randomization_factor`; never below the server's own delay.
    public func delay(attempt: Int, serverDelay: Duration?, random: inout some RandomNumberGenerator) -> Duration {
        var base = Double(initialInterval.nanoseconds)
        for _ in 0..<min(attempt, 200) {
            base *= multiplier
            if base >= Double(maxInterval.nanoseconds) { break }
        }
        base = min(base, Double(maxInterval.nanoseconds))
        let spread = base * randomizationFactor
        let jittered = spread > 0 ? Double.random(in: (base - spread)...(base + spread), using: &random) : base
        let backoff = Duration.nanoseconds(Int64(max(0, min(jittered, 9e18))))
        guard let serverDelay else { return backoff }
        return max(backoff, serverDelay)
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to `Int64`.
    var nanoseconds: Int64 {
        let (s, atto) = components
        let (n, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? (s < 0 ? .min : .max) : n &+ atto / 1_000_000_000
    }
}
