import Foundation
import GRDB

/// How an operation's recent latency compares with its baseline (``LatencyBaselines``): the p99 over the recent
/// window (`anomalies.recent_half_life`) against the p99 over the last days (`anomalies.baseline_half_life`).
public struct LatencyShift: Sendable, Equatable {
    public var service: String
    public var operation: String
    public var kind: Int
    public var baselineP99Nanos: Double
    public var recentP99Nanos: Double
    /// Decayed sample counts (a sample one half-life old counts half).
    public var baselineSamples: Double
    public var recentSamples: Double

    public init(
        service: String, operation: String, kind: Int, baselineP99Nanos: Double, recentP99Nanos: Double,
        baselineSamples: Double, recentSamples: Double
    ) {
        self.service = service
        self.operation = operation
        self.kind = kind
        self.baselineP99Nanos = baselineP99Nanos
        self.recentP99Nanos = recentP99Nanos
        self.baselineSamples = baselineSamples
        self.recentSamples = recentSamples
    }

    /// Recent p99 over baseline p99: above 1 slower than usual, below 1 faster.
    public var ratio: Double { recentP99Nanos / max(baselineP99Nanos, 1) }
}

extension TraceReader {
    /// The operations whose recent p99 moved most against their baseline's, either way (slower or faster), as of
    /// `now` (Unix nanoseconds). Operations with fewer than `minRecentSamples` recent or `minBaselineSamples`
    /// baseline samples are left out: their p99 says little. Empty for a database without baselines.
    public func latencyShifts(now: Int64, limit: Int, minBaselineSamples: Double = 100, minRecentSamples: Double = 10) throws -> [LatencyShift] {
        try reader.read { db in
            guard try db.tableExists("latency_baselines") else { return [] }
            func meta(_ key: String) throws -> Int64? {
                try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]).flatMap { Int64($0) }
            }
            guard let landmark = try meta(LatencyBaselines.landmarkKey),
                let baselineHalfLife = try meta(LatencyBaselines.baselineHalfLifeKey), baselineHalfLife > 0,
                let recentHalfLife = try meta(LatencyBaselines.recentHalfLifeKey), recentHalfLife > 0
            else { return [] }
            let elapsed = Double(max(0, now - landmark))
            let baselineWeight = exp2(elapsed / Double(baselineHalfLife))
            let recentWeight = exp2(elapsed / Double(recentHalfLife))
            var shifts: [LatencyShift] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT service, name, kind, baseline, recent FROM latency_baselines")
            while let row = try rows.next() {
                guard let baseline = LatencySketch(encoded: [UInt8](row[3] as Data)),
                    let recent = LatencySketch(encoded: [UInt8](row[4] as Data))
                else { continue }
                // Bounded, so that they convert to integers even from a file something else wrote.
                let baselineSamples = min(baseline.total / baselineWeight, 1e15)
                let recentSamples = min(recent.total / recentWeight, 1e15)
                guard baselineSamples >= minBaselineSamples, recentSamples >= minRecentSamples,
                    let b = baseline.quantile(0.99), let r = recent.quantile(0.99)
                else { continue }
                shifts.append(
                    LatencyShift(
                        service: row[0], operation: row[1], kind: row[2], baselineP99Nanos: b, recentP99Nanos: r,
                        baselineSamples: baselineSamples, recentSamples: recentSamples))
            }
            func magnitude(_ s: LatencyShift) -> Double { abs(log(max(s.ratio, 1e-9))) }
            shifts.sort {
                magnitude($0) != magnitude($1)
                    ? magnitude($0) > magnitude($1)
                    : ($0.service, $0.operation, $0.kind) < ($1.service, $1.operation, $1.kind)
            }
            return Array(shifts.prefix(max(0, limit)))
        }
    }
}
