import Foundation

/// A quantile sketch of durations with relative accuracy (DDSketch's logarithmic buckets): bucket `i` holds the
/// durations in (γ^(i-1), γ^i] nanoseconds, so any quantile is answered within ±2 % of the true value, whatever
/// the range. Counts are weights (`Float`), so the sketch can forget old samples by forward decay: a sample at
/// time `t` weighs `2^((t - landmark) / halfLife)` and every quantile is a ratio of weights, which the landmark
/// does not change (see ``LatencyBaselines``).
///
/// Buckets are stored densely between the lowest and highest seen; the span of one operation's durations is a few
/// hundred buckets at most (γ = 1.04: a factor 10 is 59 buckets).
struct LatencySketch: Equatable {
    /// (1 + α) / (1 - α) for α = 2 %.
    static let gamma = 1.02 / 0.98
    private static let inverseLogGamma = 1 / log(gamma)
    /// Durations this long or longer (about 35 days) share the last bucket, so the index fits comfortably.
    static let maxIndex: Int32 = 2_000

    /// Bucket index of `counts[0]`.
    private(set) var offset: Int32 = 0
    private(set) var counts: [Float] = []
    /// Weight of zero-length durations.
    private(set) var zero: Float = 0
    /// Sum of every weight added (zero included).
    private(set) var total: Float = 0

    var isEmpty: Bool { total == 0 }

    /// The bucket a duration of `nanos` (> 0) falls in.
    static func index(of nanos: Int64) -> Int32 {
        guard nanos > 1 else { return 0 }
        let i = (log(Double(nanos)) * inverseLogGamma).rounded(.up)
        return i >= Double(maxIndex) ? maxIndex : Int32(i)
    }

    /// The duration a bucket stands for: the middle of its range in relative terms.
    static func value(ofIndex i: Int32) -> Double {
        2 * pow(gamma, Double(i)) / (gamma + 1)
    }

    mutating func add(nanos: Int64, weight: Float) {
        add(nanos: nanos, index: nanos > 0 ? Self.index(of: nanos) : 0, weight: weight)
    }

    /// Adds a duration whose bucket ``index(of:)`` is already known (one logarithm for several sketches).
    mutating func add(nanos: Int64, index i: Int32, weight: Float) {
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
            counts.insert(contentsOf: repeatElement(0, count: Int(offset - i)), at: 0)
            offset = i
        } else if Int(i - offset) >= counts.count {
            counts.append(contentsOf: repeatElement(0, count: Int(i - offset) - counts.count + 1))
        }
        counts[Int(i - offset)] += weight
    }

    /// The `q` quantile (0…1) in nanoseconds; nil when empty.
    func quantile(_ q: Double) -> Double? {
        guard total > 0 else { return nil }
        let rank = Double(total) * min(max(q, 0), 1)
        var seen = Double(zero)
        if zero > 0 && seen >= rank { return 0 }
        for (k, c) in counts.enumerated() {
            seen += Double(c)
            if seen >= rank { return Self.value(ofIndex: offset + Int32(k)) }
        }
        return counts.isEmpty ? 0 : Self.value(ofIndex: offset + Int32(counts.count - 1))
    }

    /// Multiplies every weight by `factor` (moving the decay landmark).
    mutating func scale(by factor: Float) {
        zero *= factor
        total *= factor
        for k in counts.indices { counts[k] *= factor }
    }

    // MARK: - Stored form

    /// Little-endian: version (1 byte), offset (Int32), zero (Float32), then one Float32 per bucket.
    func encoded() -> [UInt8] {
        var out: [UInt8] = [1]
        out.reserveCapacity(9 + 4 * counts.count)
        func append<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        append(offset)
        append(zero.bitPattern)
        for c in counts { append(c.bitPattern) }
        return out
    }

    /// Reads ``encoded()``; nil for anything malformed (a database written by something else).
    init?(encoded bytes: [UInt8]) {
        guard bytes.count >= 9, bytes[0] == 1, (bytes.count - 9) % 4 == 0 else { return nil }
        func u32(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }
        let offset = Int32(bitPattern: u32(1))
        let n = (bytes.count - 9) / 4
        guard offset >= 0, offset <= Self.maxIndex, n <= Int(Self.maxIndex - offset) + 1 else { return nil }
        let zero = Float(bitPattern: u32(5))
        var counts: [Float] = []
        counts.reserveCapacity(n)
        var total = zero
        for k in 0..<n {
            let c = Float(bitPattern: u32(9 + 4 * k))
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
