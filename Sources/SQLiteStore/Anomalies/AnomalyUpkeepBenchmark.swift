import CollectorCore
import Foundation

/// Measures what the latency baselines add per stored span (``LatencyBaselines/observe``: the lookup of the span's
/// operation, two sketch updates, the threshold check and its periodic refresh), on the writer's thread, without
/// SQLite. Used by `otelsink-pipeline-bench --anomaly-upkeep` (docs/performance.md).
public enum AnomalyUpkeepBenchmark {
    public struct Result: Sendable {
        public var nanosPerSpan: Double
        public var flagged: Int
    }

    /// Feeds `spans` durations (log-normal around 10 ms, seeded) spread over `operations` operations of 5 services,
    /// in transactions of 1,000 spans, and returns the thread CPU time per span.
    public static func run(operations: Int, spans: Int, seed: UInt64) -> Result {
        let baselines = LatencyBaselines(config: AnomalyDetectionConfig())
        var random = SeededRandom(seed: seed)
        let services = (0..<5).map { "service-\($0)" }
        let names = (0..<max(1, operations)).map { "GET /api/v1/resource-\($0)/items" }
        let keys = names.enumerated().map { i, name -> (service: String, name: [UInt8], hash: UInt64) in
            let service = services[i % services.count]
            let bytes = Array(name.utf8)
            let hash = bytes.withUnsafeBytes {
                SpanBatchWriter.OperationHash.of(serviceHash: SpanBatchWriter.OperationHash.of(service: service), name: $0, kind: 2)
            }
            return (service, bytes, hash)
        }
        // Durations and operations drawn up front, so the measured loop is the upkeep alone.
        let draws = (0..<spans).map { _ -> (Int, Int64) in
            let u1 = max(Double(random.next() >> 11) / Double(1 << 53), 1e-12)
            let u2 = Double(random.next() >> 11) / Double(1 << 53)
            let normal = (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
            return (Int(random.next() % UInt64(keys.count)), Int64(1e7 * exp(0.5 * normal)))
        }
        var now = Int64(Date().timeIntervalSince1970 * 1e9)
        var flagged = 0
        let began = threadCPUNanos()
        for (k, (op, duration)) in draws.enumerated() {
            if k % 1000 == 0 {
                now += 10_000_000
                baselines.begin(now: now)
            }
            let key = keys[op]
            let p99 = key.name.withUnsafeBytes {
                baselines.observe(hash: key.hash, service: key.service, name: $0, kind: 2, durationNanos: duration)
            }
            if p99 != nil { flagged += 1 }
        }
        let took = threadCPUNanos() - began
        return Result(nanosPerSpan: Double(took) / Double(max(1, spans)), flagged: flagged)
    }

    private static func threadCPUNanos() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }
}
