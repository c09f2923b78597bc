import CollectorCore
import Connectors
import Foundation
import Logging
import OTLP
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `--servicegraph-direct`: the `servicegraph` connector's own CPU per span, on one thread, without a pipeline,
/// feeders or the scheduler around it. The standard workload (fresh IDs per request) is handed to `consume` at a
/// simulated 50,000 spans/s (a stepped clock advances 2 ms per 100-span request) and `expire()` runs every 2
/// simulated seconds, as its timer would, so the store holds what it holds in the pipeline scenario
/// (`bench/pipelines/servicegraph.yaml`: `max_items: 200000`, `ttl: 2s`; every span waits and expires). The
/// thread's CPU time (CLOCK_THREAD_CPUTIME_ID) is read around each call; generating requests is not counted.
enum ServiceGraphDirect {
    /// A clock that moves only when told.
    final class SteppedClock: MonotonicClock {
        private let time = Mutex(Duration.zero)
        var now: Duration { time.withLock { $0 } }
        func advance(by d: Duration) { time.withLock { $0 += d } }
        func sleep(until deadline: Duration) async throws {
            while now < deadline {
                try Task.checkCancellation()
                try await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    struct Discard: MetricsConsumer {
        func consume(_ metrics: consuming ExportMetricsRequest) async throws {}
    }

    static func threadCPUNanos() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// Measures `requests` requests after `warmup` unmeasured ones; returns CPU nanoseconds per span and the edges
    /// waiting at the end.
    static func run(requests: Int, warmup: Int = 2_000, seed: UInt64) async throws -> (nanosPerSpan: Double, pending: Int) {
        var config = ServiceGraphConfig()
        config.storeMaxItems = 200_000
        config.storeTTL = .seconds(2)
        var logger = Logger(label: "servicegraph-direct")
        logger.logLevel = .warning
        let clock = SteppedClock()
        let connector = ServiceGraphConnector(
            config: config, next: Discard(), context: ComponentContext(id: ComponentID(type: "servicegraph"), logger: logger, clock: clock))
        let workload = Workload()
        var rng = SplitMix64(seed: seed)
        let step = Duration.milliseconds(2)
        let expiryEvery = 1_000  // requests: 2 simulated seconds
        var measured: Int64 = 0
        for i in 0..<(warmup + requests) {
            let request = workload.next(using: &rng, nowNanos: 1_700_000_000_000_000_000 &+ UInt64(i) &* 2_000_000)
            clock.advance(by: step)
            let t0 = threadCPUNanos()
            try await connector.consume(request)
            if i % expiryEvery == expiryEvery - 1 { connector.expire() }
            let t1 = threadCPUNanos()
            if i >= warmup { measured += t1 - t0 }
        }
        return (Double(measured) / Double(requests * Workload.spansPerRequest), connector.pendingEdges)
    }
}
