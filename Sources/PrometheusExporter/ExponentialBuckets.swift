import Foundation
import OTLP

/// Exponential histograms as explicit-bucket histograms, for the text formats (which have no native histograms).
///
/// With scale `s`, base `b = 2^(2^-s)`: positive bucket `i` holds values in `(b^i, b^(i+1)]` and becomes the bucket
/// with upper bound `b^(i+1)`; negative bucket `i` holds `[-b^(i+1), -b^i)` and becomes the bucket with upper bound
/// `-b^i`; the zero bucket becomes the bucket with upper bound `zero_threshold` (0 when unset). The cumulative
/// counts are exact at every bound, so `histogram_quantile` interpolates within the same ranges as the native
/// buckets would.
enum ExponentialBuckets {
    /// Most buckets (both signs) a point may have to be converted; larger ones are dropped as unsupported, since
    /// every bucket becomes a line of every scrape (the SDK default is 160 per sign).
    static let maxBuckets = 1000

    static func explicit(_ p: Opentelemetry_Proto_Metrics_V1_ExponentialHistogramDataPoint) -> HistogramValue {
        let base = pow(2.0, pow(2.0, -Double(p.scale)))
        var bounds: [Double] = []
        var counts: [UInt64] = []
        let neg = p.negative
        for k in stride(from: neg.bucketCounts.count - 1, through: 0, by: -1) {
            bounds.append(-pow(base, Double(Int(neg.offset) + k)))
            counts.append(neg.bucketCounts[k])
        }
        let zeroBound = max(0, p.zeroThreshold)
        if bounds.last.map({ $0 < zeroBound }) ?? true {
            bounds.append(zeroBound)
            counts.append(p.zeroCount)
        } else if !counts.isEmpty {
            counts[counts.count - 1] &+= p.zeroCount
        }
        let pos = p.positive
        for k in 0..<pos.bucketCounts.count {
            let bound = pow(base, Double(Int(pos.offset) + k + 1))
            if let last = bounds.last, bound <= last {
                counts[counts.count - 1] &+= pos.bucketCounts[k]
                continue
            }
            bounds.append(bound)
            counts.append(pos.bucketCounts[k])
        }
        // Values beyond the last finite bound (none for a well-formed point) land in +Inf.
        let total = counts.reduce(0, &+)
        counts.append(p.count > total ? p.count - total : 0)
        let finite = bounds.indices.filter { bounds[$0].isFinite }
        if finite.count != bounds.count {
            // Extreme scales overflow Double: drop infinite bounds, folding their counts into +Inf.
            var b: [Double] = []
            var c: [UInt64] = []
            var overflow: UInt64 = 0
            for i in bounds.indices {
                if bounds[i].isFinite {
                    b.append(bounds[i])
                    c.append(counts[i])
                } else {
                    overflow &+= counts[i]
                }
            }
            c.append(counts[counts.count - 1] &+ overflow)
            return HistogramValue(bounds: b, counts: c, sum: p.hasSum ? p.sum : 0, count: max(p.count, total))
        }
        return HistogramValue(bounds: bounds, counts: counts, sum: p.hasSum ? p.sum : 0, count: max(p.count, total))
    }
}
