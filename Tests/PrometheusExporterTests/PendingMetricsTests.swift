import CollectorCore
import CollectorTesting
import Logging
import OTLP
import Testing

@testable import PrometheusExporter

/// Wire-form requests wait in ``PendingMetrics`` before they reach the store: what must hold while they wait.
@Suite struct PendingMetricsTests {
    let clock = ManualClock()

    func exporter(expiration: Duration = .seconds(300), endpoint: String = "127.0.0.1:0") -> PrometheusExporter {
        var config = PrometheusExporterConfig()
        config.metricExpiration = expiration
        config.endpoint = endpoint
        return PrometheusExporter(
            config: config, context: ComponentContext(id: ComponentID(type: "prometheus"), logger: Logger(label: "test"), clock: clock))
    }

    func wire(_ metrics: [OTLPMetric]) throws -> EncodedMetrics {
        try #require(EncodedMetrics(indexing: try Metrics.request(metrics).serializedBytes()))
    }

    func samples(_ e: PrometheusExporter) -> [String] {
        String(decoding: e.render(format: .text), as: UTF8.self).split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
    }

    @Test func aScrapeShowsEveryPointAcknowledgedBeforeIt() async throws {
        let e = exporter()
        for i in 0..<5 { try await e.consume(try wire([Metrics.gauge("depth", [Metrics.point(Double(i), [("q", "\(i)")])])])) }
        #expect(e.pending.count == 5)
        #expect(e.store.seriesCount == 0)
        #expect(samples(e).count == 5)
        #expect(e.pending.count == 0)
    }

    @Test func queuedPointsCountAsUpdatedWhenTheyArrivedNotWhenApplied() async throws {
        let e = exporter(expiration: .seconds(300))
        try await e.consume(try wire([Metrics.gauge("early", [Metrics.point(1)])]))
        clock.advance(by: .seconds(200))
        try await e.consume(try wire([Metrics.gauge("late", [Metrics.point(2)])]))
        clock.advance(by: .seconds(150))
        // Applied only now, 350 s after `early` arrived: it has expired, `late` (150 s) has not.
        let out = samples(e)
        #expect(!out.contains { $0.hasPrefix("early") })
        #expect(out.contains { $0.hasPrefix("late") })
    }

    @Test func aRequestInDecodedFormIsAppliedAfterTheQueuedOnesBeforeIt() async throws {
        let e = exporter()
        try await e.consume(try wire([Metrics.gauge("level", [Metrics.point(1, time: 10)])]))
        // Same series, same time: the later arrival wins, so order shows.
        try await e.consume(Metrics.request([Metrics.gauge("level", [Metrics.point(2, time: 10)])]))
        #expect(e.store.seriesCount == 1)
        #expect(samples(e).contains { $0.hasPrefix("level{") && $0.hasSuffix(" 2") })
    }

    @Test func pastItsHardLimitTheQueueIsAppliedByTheRequestThatCrossesIt() throws {
        let pending = PendingMetrics(softRequests: 2, hardRequests: 3)
        let applied = LockedValue<[Int]>([])
        func add(_ n: Int) throws -> PendingMetrics.Added {
            let request = PendingMetrics.Request(metrics: try wire([Metrics.gauge("g", [Metrics.point(Double(n))])]), received: .seconds(n))
            return pending.add(request) { r in applied.withLock { $0.append(Int(r.received.components.seconds)) } }
        }
        #expect(try add(1) == PendingMetrics.Added(first: true, drainSoon: false))
        #expect(try add(2) == PendingMetrics.Added(first: false, drainSoon: true))
        #expect(applied.withLock { $0 }.isEmpty)
        #expect(try add(3) == PendingMetrics.Added(first: false, drainSoon: false))  // asked once per fill
        #expect(applied.withLock { $0 } == [1, 2, 3])
        #expect(pending.count == 0)
        #expect(try add(4) == PendingMetrics.Added(first: true, drainSoon: false))
        // By bytes too: one request larger than the bound is applied at once.
        let small = PendingMetrics(softBytes: 10, hardBytes: 10)
        var count = 0
        let added = small.add(PendingMetrics.Request(metrics: try wire([Metrics.gauge("g", [Metrics.point(1)])]), received: .zero)) { _ in
            count += 1
        }
        #expect(added == PendingMetrics.Added(first: true, drainSoon: true))
        #expect(count == 1)
        #expect(small.count == 0)
    }

    @Test func concurrentRequestsAndDrainsApplyEachRequestOnceInArrivalOrderPerWriter() async throws {
        let pending = PendingMetrics(softRequests: 3, hardRequests: 7)
        let applied = LockedValue<[Int]>([])
        let metrics = try wire([Metrics.gauge("g", [Metrics.point(1)])])
        let writers = 4
        let perWriter = 500
        await withTaskGroup(of: Void.self) { group in
            for w in 0..<writers {
                group.addTask {
                    for i in 0..<perWriter {
                        let id = w * perWriter + i
                        pending.add(PendingMetrics.Request(metrics: metrics, received: .seconds(id))) { r in
                            applied.withLock { $0.append(Int(r.received.components.seconds)) }
                        }
                        if i % 50 == 0 { pending.drain { r in applied.withLock { $0.append(Int(r.received.components.seconds)) } } }
                    }
                }
            }
        }
        pending.drain { r in applied.withLock { $0.append(Int(r.received.components.seconds)) } }
        let all = applied.withLock { $0 }
        #expect(all.count == writers * perWriter)
        #expect(Set(all).count == writers * perWriter)
        for w in 0..<writers {
            let mine = all.filter { $0 / perWriter == w }
            #expect(mine == mine.sorted(), "writer \(w)'s requests applied out of order")
        }
    }

    @Test func theRunningExporterAppliesAFillingQueueAtOnceOffTheCallersThread() async throws {
        var configured = exporter()
        configured.pendingMaxAge = .seconds(3_600)  // so that only the soft limit can have it applied
        let e = configured
        let soft = e.pending.softRequests
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await e.run() }
            for i in 0..<soft { try await e.consume(try wire([Metrics.gauge("depth", [Metrics.point(Double(i), [("q", "\(i)")])])])) }
            // Not applied by the caller (the hard limit is far) nor by the timer, but by the exporter's task.
            let deadline = ContinuousClock.now + .seconds(30)
            while e.store.seriesCount < soft && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            #expect(e.store.seriesCount == soft)
            group.cancelAll()
        }
    }

    @Test func theRunningExporterAppliesQueuedRequestsWithoutAScrape() async throws {
        let e = exporter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await e.run() }
            try await e.consume(try wire([Metrics.gauge("depth", [Metrics.point(3)])]))
            // Within pendingMaxAge (1 s); allow a slow machine ample time.
            let deadline = ContinuousClock.now + .seconds(30)
            while e.store.seriesCount == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(e.store.seriesCount == 1)
            #expect(e.pending.count == 0)
            group.cancelAll()
        }
    }
}
