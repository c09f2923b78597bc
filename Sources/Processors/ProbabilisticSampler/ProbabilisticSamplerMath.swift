import Foundation

/// The arithmetic of OpenTelemetry consistent probability sampling (56-bit randomness and rejection thresholds,
/// as in the OTel spec "TraceState: Probability Sampling") plus otelcol-contrib's legacy FNV hash, which
/// `probabilistic_sampler` uses in `hash_seed` mode.
///
/// Everything here follows otelcol-contrib's `pkg/sampling` and `processor/probabilisticsamplerprocessor`, so that
/// otelsink and otelcol make the same decision for the same trace ID, seed and percentage.
enum ConsistentSampling {
    /// 2^56: the number of distinct randomness values; a threshold of this value never samples.
    static let maxAdjustedCount: UInt64 = 1 << 56

    /// The legacy hash uses 14 bits of the FNV-1a hash: 0x4000 buckets.
    static let hashBucketBits = 14
    static let hashBuckets: UInt32 = 0x4000
    static let hashBucketMask: UInt32 = hashBuckets - 1

    /// `numHashBuckets / 100` as a float32, as Go converts the untyped constant (16384/100 correctly rounded;
    /// IEEE division of the two exactly representable operands gives exactly that).
    static let percentageScaleFactor: Float = Float(16384) / Float(100)

    /// The smallest non-zero sampling probability, 2^-56.
    static let minSamplingProbability: Double = 1.0 / Double(maxAdjustedCount)

    /// FNV-1a (32-bit) over the seed's four little-endian bytes followed by `bytes` (otelcol's `computeHash`).
    @inline(__always)
    static func fnv1a32(seed: UInt32, _ bytes: some Sequence<UInt8>) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for shift in stride(from: 0, to: 32, by: 8) {
            hash = (hash ^ UInt32((seed >> UInt32(shift)) & 0xFF)) &* 0x0100_0193
        }
        for byte in bytes {
            hash = (hash ^ UInt32(byte)) &* 0x0100_0193
        }
        return hash
    }

    /// The 56-bit randomness otelcol derives from the 32-bit FNV hash in `hash_seed` mode (`randomnessFromBytes`):
    /// the top 14 bits are `0x3fff - bucket`, so that "bucket < accepted" becomes the spec's "randomness ≥ threshold".
    @inline(__always)
    static func hashRandomness(_ hash32: UInt32) -> UInt64 {
        let bucket = UInt64(hash32 & hashBucketMask)
        let rPrime14 = UInt64(hashBucketMask) - bucket
        let unused18 = UInt64(hash32 >> UInt32(hashBucketBits))
        let mixed28 = unused18 ^ (unused18 << 10)
        return (rPrime14 << 42) | (mixed28 << 14) | bucket
    }

    /// Randomness from a trace ID as the W3C Trace Context level 2 defines it: its last 7 bytes, big-endian.
    /// `nil` for an empty (or all-zero) trace ID.
    static func traceIDRandomness(_ traceID: Data) -> UInt64? {
        guard traceID.count == 16, traceID.contains(where: { $0 != 0 }) else { return nil }
        var value: UInt64 = 0
        for byte in traceID.suffix(7) { value = (value << 8) | UInt64(byte) }
        return value
    }

    /// The accepted bucket count of the legacy hash for a percentage: `uint32(pct * scale)` computed in float32 and
    /// truncated, exactly as otelcol does (`pct` is capped at 100).
    static func scaledSamplingRate(percent: Float) -> UInt32 {
        let capped = min(percent, 100)
        guard capped > 0 else { return 0 }
        return UInt32(capped * percentageScaleFactor)
    }

    /// `ProbabilityToThresholdWithPrecision`: the rejection threshold for `probability` with `precision` significant
    /// hex digits (leading zeros of the rejection probability do not count). `nil` when the probability is outside
    /// [2^-56, 1]. When the precision cannot be honoured (too many leading zeros) the result is "always sample",
    /// as in otelcol.
    static func threshold(probability: Double, precision: Int) -> SamplingThreshold? {
        guard probability >= minSamplingProbability, probability <= 1 else { return nil }
        if probability == 1 { return .alwaysSample }
        var digits = precision
        var reject = 1 - probability
        while reject * 16 < 1 {
            reject *= 16
            digits += 1
        }
        if digits > 14 { return .alwaysSample }
        let scaled = UInt64((probability * Double(maxAdjustedCount)).rounded(.toNearestOrAwayFromZero))
        var rejected = maxAdjustedCount - scaled
        let shift = UInt64(4 * (14 - digits))
        if shift > 0 {
            rejected += UInt64(1) << (shift - 1)
            rejected = (rejected >> shift) << shift
        }
        return SamplingThreshold(rejection: rejected)
    }
}

/// A rejection threshold in [0, 2^56]: an item is sampled when its 56-bit randomness is ≥ the threshold.
struct SamplingThreshold: Equatable, Sendable {
    var rejection: UInt64

    static let alwaysSample = SamplingThreshold(rejection: 0)
    static let neverSample = SamplingThreshold(rejection: ConsistentSampling.maxAdjustedCount)

    @inline(__always)
    func shouldSample(_ randomness: UInt64) -> Bool { randomness >= rejection }

    /// The sampling probability this threshold stands for.
    var probability: Double {
        Double(ConsistentSampling.maxAdjustedCount - min(rejection, ConsistentSampling.maxAdjustedCount))
            / Double(ConsistentSampling.maxAdjustedCount)
    }

    /// The `th` encoding: 14 hex digits with trailing zeros removed; `"0"` for always; empty for never (which is
    /// never written).
    var tValue: String {
        if rejection == 0 { return "0" }
        guard rejection < ConsistentSampling.maxAdjustedCount else { return "" }
        var digits = Array(SamplingHex.fourteen(rejection).utf8)
        while digits.last == UInt8(ascii: "0") { digits.removeLast() }
        return String(decoding: digits, as: UTF8.self)
    }

    /// Parses a `th` value (1–14 hex digits, trailing zeros implied).
    init?(tValue: Substring) {
        guard (1...14).contains(tValue.utf8.count), let v = UInt64(tValue, radix: 16) else { return nil }
        guard tValue.utf8.allSatisfy({ SamplingHex.isHex($0) }) else { return nil }
        rejection = v << UInt64(4 * (14 - tValue.utf8.count))
    }

    init(rejection: UInt64) { self.rejection = rejection }
}

enum SamplingHex {
    private static let lower: [UInt8] = Array("0123456789abcdef".utf8)

    /// `value` (< 2^56) as exactly 14 lower-case hex digits.
    static func fourteen(_ value: UInt64) -> String {
        var out = [UInt8](repeating: 0, count: 14)
        var v = value
        for i in stride(from: 13, through: 0, by: -1) {
            out[i] = lower[Int(v & 0xF)]
            v >>= 4
        }
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)
    static func isHex(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46)
    }
}
