import CollectorCore

/// Settings of the `probabilistic_sampler` processor, with otelcol-contrib's keys and defaults (traces only).
public struct ProbabilisticSamplerConfig: ComponentConfig, Equatable {
    /// How the decision is made, as otelcol's `mode`.
    public enum Mode: String, Sendable, CaseIterable {
        /// FNV-1a hash of the seed and trace ID, 14 bits: otelcol's legacy (and default) algorithm.
        case hashSeed = "hash_seed"
        /// OTel consistent sampling: multiplies the span's incoming sampling probability (`ot=th`) by the
        /// configured one; randomness from `ot=rv` or the trace ID's last 7 bytes.
        case proportional
        /// OTel consistent sampling: raises the threshold to the configured one (never lowers an incoming one).
        case equalizing
    }

    /// Percentage of traces sampled; 0 samples none (except `sampling.priority` > 0), ≥ 100 all. Held as float32,
    /// as otelcol holds it, so the hash threshold is computed identically.
    public var samplingPercentage: Float = 0
    public var hashSeed: UInt32 = 0
    public var mode: Mode = .hashSeed
    /// Drop items whose sampling information cannot be read (bad `tracestate`, missing randomness); otherwise
    /// sample them.
    public var failClosed = true
    /// Hex digits of the threshold written to `ot=th` in the consistent modes (1–14).
    public var samplingPrecision = 4

    public init(samplingPercentage: Float = 0, hashSeed: UInt32 = 0, mode: Mode = .hashSeed, failClosed: Bool = true, samplingPrecision: Int = 4) {
        self.samplingPercentage = samplingPercentage
        self.hashSeed = hashSeed
        self.mode = mode
        self.failClosed = failClosed
        self.samplingPrecision = samplingPrecision
    }

    public init(reading r: ConfigReader) {
        let percent = r.double("sampling_percentage", default: 0)
        let asFloat = Float(percent)
        if percent < 0 {
            r.report("sampling_percentage", "must not be negative, got \(percent)")
        } else if !asFloat.isFinite {
            r.report("sampling_percentage", "is not a valid percentage: \(percent)")
        } else if asFloat > 0, Double(asFloat) / 100 < ConsistentSampling.minSamplingProbability {
            r.report("sampling_percentage", "is too small (the smallest non-zero rate is 2^-56), got \(percent)")
        } else {
            samplingPercentage = asFloat
        }
        hashSeed = UInt32(r.int("hash_seed", default: 0, range: 0...Int(UInt32.max)))
        // otelcol: an unset mode means hash_seed (its default since v0.10x).
        let modeText = r.string("mode", default: Mode.hashSeed.rawValue)
        if let m = Mode(rawValue: modeText) {
            mode = m
        } else {
            r.report("mode", "expected one of hash_seed, proportional, equalizing; got \"\(modeText)\"")
        }
        failClosed = r.bool("fail_closed", default: true)
        samplingPrecision = r.int("sampling_precision", default: 4, range: 1...14)
        for key in ["attribute_source", "from_attribute", "sampling_priority"] where r.contains(key) {
            _ = r.raw(key)
            r.report(key, "is a logs-only setting; otelsink's probabilistic_sampler handles traces only")
        }
    }
}
