import Foundation

/// A quantile sketch of durations with relative accuracy (DDSketch's logarithmic buckets): bucket `i` holds the
/// durations in (γ^(i-1), γ^i] nanoseconds, so any quantile is answered within ±2 % of the true value while the
/// durations span less than the bucket bound below (past it, the low quantiles lose that). Counts are weights, so the sketch can forget old samples by forward decay: a sample at time `t`
/// weighs `2^((t - landmark) / halfLife)` and every quantile is a ratio of weights, which the landmark does not
/// change (see ``LatencyBaselines``). Weights are `Double`: a busy operation's baseline holds the equivalent of
/// billions of samples, where a `Float` count would stop growing.
///
/// Buckets are stored densely, at most ``maxBuckets`` of them (a factor of about 26,000 between the shortest and
/// the longest duration kept apart; γ = 1.04, so a factor 10 is 59 buckets). Past that the lowest buckets are
/// folded into one, as DDSketch's collapsing-lowest store does: the high quantiles anomalies are judged by stay
/// exact, and a sketch never takes more than ~2 KiB whatever durations a client sends.
struct LatencySketch: Equatable {
    /// (1 + α) / (1 - α) for α = 2 %.
    static let gamma = 1.02 / 0.98
    private static let inverseLogGamma = 1 / log(gamma)
    /// Durations this long or longer (about 35 days) share the last bucket, so the index fits comfortably.
    static let maxIndex: Int32 = 2_000
    static let maxBuckets = 256

    /// Bucket index of `counts[0]`; when buckets were folded, `counts[0]` also holds every shorter duration.
    private(set) var offset: Int32 = 0
    private(set) var counts: [Double] = []
    /// Weight of zero-length durations.
    private(set) var zero: Double = 0
    /// Sum of every weight added (zero included).
    private(set) var total: Double = 0

    /// The bucket a duration of `nanos` (> 0) falls in.
    static func index(of nanos: Int64) -> Int32 {
        guard nanos > 1 else { return 0 }
        let i = (log(Double(nanos)) * inverseLogGamma).rounded(.up)
        return i >= Double(maxIndex) ? maxIndex : Int32(i)
    }

    /// The duration a bucket stands for: the middle of its range in relative terms; at most 9.2e18 ns, so that it
    /// converts to `Int64` whatever bucket a stored sketch names.
    static func value(ofIndex i: Int32) -> Double {
        min(2 * pow(gamma, Double(i)) / (gamma + 1), 9.2e18)
    }

    mutating func add(nanos: Int64, weight: Double) {
        add(nanos: nanos, index: nanos > 0 ? Self.index(of: nanos) : 0, weight: weight)
    }

    /// Adds a duration whose bucket ``index(of:)`` is already known (one logarithm for several sketches).
    mutating func add(nanos: Int64, index i: Int32, weight: Double) {
        total += weight
        guard nanos > 0 else {
            zero += weight
            return
        }
        if counts.isEmpty {
            offset = i
            counts = [weight]
            return
        }
        if i < offset {
            // Below the window: widen it down as far as the bound allows, else count it in the lowest bucket.
            let room = Self.maxBuckets - counts.count
            let grow = min(Int(offset - i), room)
            if grow > 0 {
                counts.insert(contentsOf: repeatElement(0, count: grow), at: 0)
                offset -= Int32(grow)
            }
            counts[max(0, Int(i - offset))] += weight
            return
        }
        let k = Int(i - offset)
        if k >= counts.count {
            if k >= Self.maxBuckets {
                // Above the window: fold the lowest buckets into one so that `i` is the top bucket.
                let fold = k - Self.maxBuckets + 1
                let folded = counts.prefix(min(fold + 1, counts.count)).reduce(0, +)
                counts.removeFirst(min(fold, counts.count))
                if counts.isEmpty { counts = [0] }
                counts[0] = folded
                offset += Int32(fold)
            }
            counts.append(contentsOf: repeatElement(0, count: Int(i - offset) - counts.count + 1))
        }
        counts[Int(i - offset)] += weight
    }

    /// The `q` quantile (0…1) in nanoseconds; nil when empty.
    func quantile(_ q: Double) -> Double? {
        guard total > 0 else { return nil }
        let rank = total * min(max(q, 0), 1)
        var seen = zero
        if zero > 0 && seen >= rank { return 0 }
        for (k, c) in counts.enumerated() {
            seen += c
            if seen >= rank { return Self.value(ofIndex: offset + Int32(k)) }
        }
        return counts.isEmpty ? 0 : Self.value(ofIndex: offset + Int32(counts.count - 1))
    }

    /// Multiplies every weight by `factor` (moving the decay landmark).
    mutating func scale(by factor: Double) {
        zero *= factor
        total *= factor
        for k in counts.indices { counts[k] *= factor }
    }

    // MARK: - Stored form

    /// Little-endian: version (1 byte, 2), offset (Int32), zero (Float64), then one Float64 per bucket.
    func encoded() -> [UInt8] {
        var out: [UInt8] = [2]
        out.reserveCapacity(13 + 8 * counts.count)
        func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        append(offset)
        append(zero.bitPattern)
        for c in counts { append(c.bitPattern) }
        return out
    }

    /// Reads ``encoded()``; nil for anything malformed (a database written by something else).
    init?(encoded bytes: [UInt8]) {
        guard bytes.count >= 13, bytes[0] == 2, (bytes.count - 13) % 8 == 0 else { return nil }
        func u64(_ at: Int) -> UInt64 {
            (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[at + $1]) << (8 * UInt64($1)) }
        }
        let offset = Int32(truncatingIfNeeded: u64(1) & 0xFFFF_FFFF)
        let n = (bytes.count - 13) / 8
        guard offset >= 0, offset <= Self.maxIndex, n <= Self.maxBuckets, n <= Int(Self.maxIndex - offset) + 1 else { return nil }
        let zero = Double(bitPattern: u64(5))
        var counts: [Double] = []
        counts.reserveCapacity(n)
        var total = zero
        for k in 0..<n {
            let c = Double(bitPattern: u64(13 + 8 * k))
            guard c.isFinite, c >= 0 else { return nil }
            counts.append(c)
            total += c
        }
        guard zero.isFinite, zero >= 0, total.isFinite else { return nil }
        self.offset = offset
        self.counts = counts
        self.zero = zero
        self.total = total
    }

    init() {}
}
