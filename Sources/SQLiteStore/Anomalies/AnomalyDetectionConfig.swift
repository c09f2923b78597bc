import CollectorCore

/// The `sqlite` exporter's `anomalies` settings: a latency baseline per (service, operation, span kind), learned
/// from the spans it stores, and the rule that flags a span as unusually slow.
public struct AnomalyDetectionConfig: Equatable, Sendable {
    public var enabled = true
    /// A span is flagged when its duration exceeds the baseline's p99 times this.
    public var factor = 2.0
    /// Samples (decayed: recent ones count fully, older ones less) a baseline needs before it flags anything.
    public var minSamples = 200
    /// How fast the baseline forgets: a sample this old weighs half of a new one.
    public var baselineHalfLife: Duration = .seconds(24 * 3600)
    /// The same for the recent window that ``TraceReader/latencyShifts(now:limit:minSamples:)`` compares.
    public var recentHalfLife: Duration = .seconds(3600)
    /// Operations with a baseline at most; past it, new operations get none (and are never flagged).
    public var maxOperations = 10_000

    public init() {}

    init(reading r: ConfigReader) {
        enabled = r.bool("enabled", default: enabled)
        factor = r.double("factor", default: factor, range: 1...1000)
        minSamples = r.int("min_samples", default: minSamples, range: 1...100_000_000)
        baselineHalfLife = r.duration("baseline_half_life", default: baselineHalfLife, minimum: .seconds(60))
        recentHalfLife = r.duration("recent_half_life", default: recentHalfLife, minimum: .seconds(10))
        if recentHalfLife > baselineHalfLife {
            r.report("recent_half_life", "must not be longer than baseline_half_life (\(DurationText.format(baselineHalfLife)))")
        }
        maxOperations = r.int("max_operations", default: maxOperations, range: 1...1_000_000)
    }
}
