import CollectorCore
import CollectorTesting
import OTLP
import Processors
import Testing

@Suite struct MemoryLimiterProcessorTests {
    private static let mib = 1 << 20

    /// A limiter over a fake memory reading the test sets.
    private func limiter(
        hardMiB: Int, spikeMiB: Int, rss: LockedValue<Int>, released: LockedValue<Int> = LockedValue(0), sink: TracesSink = TracesSink()
    )
        -> MemoryLimiterProcessor
    {
        MemoryLimiterProcessor(
            config: MemoryLimiterConfig(checkInterval: .seconds(1), hardLimitBytes: hardMiB * Self.mib, spikeLimitBytes: spikeMiB * Self.mib),
            next: SignalConsumers(traces: sink, metrics: sink, logs: sink), clock: ManualClock(),
            residentBytes: { rss.withLock { $0 } }, releaseMemory: { released.withLock { $0 += 1 } })
    }

    @Test func passesDataThroughBelowTheSoftLimit() async throws {
        let rss = LockedValue(50 * Self.mib)
        let sink = TracesSink()
        let p = limiter(hardMiB: 100, spikeMiB: 20, rss: rss, sink: sink)
        p.checkMemory()
        try await p.consume(SpanFactory.request(spansPerTrace: 4))
        try await p.consume(ExportMetricsRequest())
        try await p.consume(ExportLogsRequest())
        #expect(sink.spanCount == 4)
        #expect(sink.receivedMetrics.count == 1 && sink.receivedLogs.count == 1)
    }

    @Test func refusesRetryablyAboveTheSoftLimitAndRecoversBelowIt() async throws {
        let rss = LockedValue(85 * Self.mib)
        let sink = TracesSink()
        let p = limiter(hardMiB: 100, spikeMiB: 20, rss: rss, sink: sink)  // soft limit 80 MiB
        p.checkMemory()
        #expect(p.isRefusing)
        do {
            try await p.consume(SpanFactory.request())
            Issue.record("expected a refusal")
        } catch let e as PipelineError {
            #expect(e.kind == .retryable(after: .seconds(1)))
            #expect(e.message == "data refused due to high memory usage")
        }
        #expect(sink.spanCount == 0)

        rss.withLock { $0 = 79 * Self.mib }
        p.checkMemory()
        #expect(!p.isRefusing)
        try await p.consume(SpanFactory.request(spansPerTrace: 2))
        #expect(sink.spanCount == 2)
    }

    @Test func aboveTheHardLimitItReleasesFreedMemoryAndMeasuresAgain() {
        let rss = LockedValue(120 * Self.mib)
        let released = LockedValue(0)
        let p = limiter(hardMiB: 100, spikeMiB: 20, rss: rss, released: released)
        p.checkMemory()
        #expect(released.withLock { $0 } == 1)
        #expect(p.isRefusing)
        rss.withLock { $0 = 90 * Self.mib }
        p.checkMemory()
        #expect(released.withLock { $0 } == 1)  // between soft and hard: refuse, but no release
        #expect(p.isRefusing)
    }

    @Test func memoryIsCheckedEveryIntervalOnTheClock() async throws {
        let rss = LockedValue(10 * Self.mib)
        let clock = ManualClock()
        let p = MemoryLimiterProcessor(
            config: MemoryLimiterConfig(checkInterval: .seconds(5), hardLimitBytes: 100 * Self.mib, spikeLimitBytes: 20 * Self.mib),
            next: SignalConsumers(traces: TracesSink()), clock: clock, residentBytes: { rss.withLock { $0 } })
        let running = RunningService(p)
        await clock.waitForSleepers(1)
        rss.withLock { $0 = 95 * Self.mib }
        clock.advance(by: .seconds(4))
        #expect(!p.isRefusing)
        clock.advance(by: .seconds(1))
        await clock.waitForSleepers(1)  // the loop measured and went back to sleep
        #expect(p.isRefusing)
        try await running.stop()
    }

    @Test func configReadsOtelcolKeysAndResolvesPercentages() throws {
        let factory = MemoryLimiterProcessorFactory()
        let mib = readComponentConfig(factory, yaml: "check_interval: 1s\nlimit_mib: 400\nspike_limit_mib: 100")
        #expect(mib.problems.isEmpty)
        let c = try mib.config.as(MemoryLimiterConfig.self, for: "memory_limiter")
        #expect(c.hardLimitBytes == 400 * Self.mib && c.softLimitBytes == 300 * Self.mib)

        let defaultSpike = readComponentConfig(factory, yaml: "check_interval: 2s\nlimit_mib: 500")
        let d = try defaultSpike.config.as(MemoryLimiterConfig.self, for: "memory_limiter")
        #expect(d.spikeLimitBytes == 100 * Self.mib)  // 20 % of the limit
        #expect(d.checkInterval == .seconds(2))

        let problems = ConfigProblems()
        let reader = ConfigReader(
            ConfigLoader.parse(yaml: "check_interval: 1s\nlimit_percentage: 50\nspike_limit_percentage: 10", environment: [:]).node,
            path: ["processors", "memory_limiter"], problems: problems)
        let pc = MemoryLimiterConfig(reading: reader, availableBytes: 1000 * Self.mib)
        #expect(problems.isEmpty)
        #expect(pc.hardLimitBytes == 500 * Self.mib && pc.spikeLimitBytes == 100 * Self.mib)
    }

    @Test func badConfigNamesTheKey() {
        let problems = readComponentConfig(
            MemoryLimiterProcessorFactory(),
            yaml: """
                check_interval: 0s
                limit_mib: 100
                spike_limit_mib: 100
                limit_percentage: 150
                """
        ).problems
        #expect(problems.contains("processors::memory_limiter::check_interval: must be greater than zero (otelcol recommends 1s)"))
        #expect(problems.contains("processors::memory_limiter::spike_limit_mib: must be smaller than limit_mib (100), got 100"))
        #expect(problems.contains("processors::memory_limiter::limit_percentage: must be between 0 and 100, got 150"))
    }

    @Test func defaultConfigLimitsToEightyPercentOfAvailableMemory() throws {
        let problems = ConfigProblems()
        let reader = ConfigReader(nil, path: ["processors", "memory_limiter"], problems: problems)
        let c = MemoryLimiterConfig(reading: reader, availableBytes: 1000 * Self.mib)
        #expect(problems.isEmpty)
        #expect(c.hardLimitBytes == 800 * Self.mib && c.checkInterval == .seconds(1))
    }

    @Test func realResidentMemoryIsReadable() throws {
        let rss = try #require(ProcessMemory.residentBytes())
        let available = try #require(ProcessMemory.availableBytes())
        #expect(rss > 1 << 20 && rss < available)
    }
}
