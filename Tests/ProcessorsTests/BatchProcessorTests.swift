import CollectorCore
import CollectorTesting
import OTLP
import Processors
import Testing

/// A downstream consumer that records what it gets and can be told to fail.
private final class RecordingConsumer: TracesConsumer, MetricsConsumer, LogsConsumer, Sendable {
    let traces = LockedValue<[ExportTraceRequest]>([])
    let metrics = LockedValue<[ExportMetricsRequest]>([])
    let logs = LockedValue<[ExportLogsRequest]>([])
    let failure = LockedValue<PipelineError?>(nil)

    func consume(_ t: ExportTraceRequest) async throws {
        if let f = failure.withLock({ $0 }) { throw f }
        traces.withLock { $0.append(t) }
    }
    func consume(_ m: ExportMetricsRequest) async throws { metrics.withLock { $0.append(m) } }
    func consume(_ l: ExportLogsRequest) async throws { logs.withLock { $0.append(l) } }

    var batchSizes: [Int] { traces.withLock { $0.map(\.spanCount) } }
    var spanIDs: [[UInt8]] {
        traces.withLock { $0.flatMap { $0.resourceSpans.flatMap { $0.scopeSpans.flatMap { $0.spans.map { [UInt8]($0.spanID) } } } } }
    }
}

private func spans(_ n: Int) -> ExportTraceRequest { SpanFactory.request(traces: 1, spansPerTrace: n) }

/// Waits until `condition` holds (polling; nothing here depends on real time passing).
private func eventually(_ condition: () -> Bool) async {
    for _ in 0..<5000 where !condition() {
        await Task.yield()
        try? await Task.sleep(for: .milliseconds(1))
    }
}

@Suite struct BatchProcessorTests {
    @Test func callersWaitUntilTheBatchFillsThenAllCompleteTogether() async throws {
        let clock = ManualClock()
        let sink = RecordingConsumer()
        let p = BatchProcessor(config: .init(sendBatchSize: 10, timeout: .seconds(10)), next: .init(traces: sink), clock: clock)
        let running = RunningService(p)
        let first = Task { try await p.consume(spans(4)) }
        let second = Task { try await p.consume(spans(4)) }
        await eventually { p.pendingItemCount == 8 }
        #expect(sink.batchSizes.isEmpty)
        try await p.consume(spans(4))  // 12 >= 10: the batch goes now, without a cap all 12 together
        try await first.value
        try await second.value
        #expect(sink.batchSizes == [12])
        try await running.stop()
    }

    @Test func aPartialBatchGoesWhenTheTimeoutPassesAndNotBefore() async throws {
        let clock = ManualClock()
        let sink = RecordingConsumer()
        let p = BatchProcessor(config: .init(sendBatchSize: 100, timeout: .milliseconds(200)), next: .init(traces: sink), clock: clock)
        let running = RunningService(p)
        let caller = Task { try await p.consume(spans(5)) }
        await eventually { p.pendingItemCount == 5 }
        await clock.waitForSleepers(1)
        clock.advance(by: .milliseconds(199))
        #expect(sink.batchSizes.isEmpty)
        clock.advance(by: .milliseconds(1))
        try await caller.value
        #expect(sink.batchSizes == [5])
        try await running.stop()
    }

    @Test func batchesAreCappedAtTheMaxSizeAndACallerWaitsForEveryPartOfItsRequest() async throws {
        let clock = ManualClock()
        let sink = RecordingConsumer()
        let p = BatchProcessor(config: .init(sendBatchSize: 10, timeout: .seconds(1), sendBatchMaxSize: 10), next: .init(traces: sink), clock: clock)
        let running = RunningService(p)
        let request = spans(25)
        let done = LockedValue(false)
        let caller = Task {
            try await p.consume(request)
            done.withLock { $0 = true }
        }
        await eventually { sink.batchSizes == [10, 10] }
        #expect(p.pendingItemCount == 5)
        #expect(!done.withLock { $0 })
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(1))
        try await caller.value
        #expect(sink.batchSizes == [10, 10, 5])
        // Every span arrives once, in order.
        #expect(sink.spanIDs == request.resourceSpans[0].scopeSpans[0].spans.map { [UInt8]($0.spanID) })
        try await running.stop()
    }

    @Test func aDownstreamRefusalReachesEveryCallerInTheBatch() async throws {
        let clock = ManualClock()
        let sink = RecordingConsumer()
        sink.failure.withLock { $0 = .retryable("store is full", after: .seconds(2)) }
        let p = BatchProcessor(config: .init(sendBatchSize: 6, timeout: .seconds(10)), next: .init(traces: sink), clock: clock)
        let running = RunningService(p)
        let first = Task { try await p.consume(spans(3)) }
        await eventually { p.pendingItemCount == 3 }
        let second = Task { try await p.consume(spans(3)) }
        for task in [first, second] {
            do {
                try await task.value
                Issue.record("expected a refusal")
            } catch let e as PipelineError {
                #expect(e.kind == .retryable(after: .seconds(2)))
            }
        }
        try await running.stop()
    }

    @Test func gracefulShutdownSendsWhatIsPendingAndLaterRequestsPassStraightThrough() async throws {
        let clock = ManualClock()
        let sink = RecordingConsumer()
        let p = BatchProcessor(config: .init(sendBatchSize: 100, timeout: .seconds(60)), next: .init(traces: sink), clock: clock)
        let running = RunningService(p)
        let caller = Task { try await p.consume(spans(7)) }
        await eventually { p.pendingItemCount == 7 }
        try await running.stop()
        try await caller.value
        #expect(sink.batchSizes == [7])
        try await p.consume(spans(2))
        #expect(sink.batchSizes == [7, 2])
    }

    @Test func zeroTimeoutSendsEachRequestAtOnceSplitByTheCap() async throws {
        let sink = RecordingConsumer()
        let p = BatchProcessor(
            config: .init(sendBatchSize: 8192, timeout: .zero, sendBatchMaxSize: 8192), next: .init(traces: sink), clock: ManualClock())
        let running = RunningService(p)
        try await p.consume(spans(3))
        #expect(sink.batchSizes == [3])
        try await running.stop()

        let capped = BatchProcessor(
            config: .init(sendBatchSize: 4, timeout: .zero, sendBatchMaxSize: 4), next: .init(traces: sink), clock: ManualClock())
        let running2 = RunningService(capped)
        try await capped.consume(spans(9))
        #expect(sink.batchSizes == [3, 4, 4, 1])
        try await running2.stop()
    }

    @Test func emptyRequestsCompleteWithoutBeingSent() async throws {
        let sink = RecordingConsumer()
        let p = BatchProcessor(config: .init(), next: .init(traces: sink), clock: ManualClock())
        try await p.consume(ExportTraceRequest())
        #expect(sink.batchSizes.isEmpty)
    }

    @Test func metricsSplitAtDataPointsKeepingMetricIdentity() {
        var request = ExportMetricsRequest()
        var rm = ResourceMetrics()
        var sm = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
        var metric = Opentelemetry_Proto_Metrics_V1_Metric()
        metric.name = "http.requests"
        metric.unit = "1"
        var sum = Opentelemetry_Proto_Metrics_V1_Sum()
        sum.isMonotonic = true
        sum.aggregationTemporality = .cumulative
        sum.dataPoints = (0..<5).map { i in
            var p = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
            p.asInt = Int64(i)
            return p
        }
        metric.sum = sum
        sm.metrics = [metric]
        rm.scopeMetrics = [sm]
        request.resourceMetrics = [rm]

        let head = request.removeFirst(items: 2)
        #expect(head.dataPointCount == 2)
        #expect(request.dataPointCount == 3)
        let headMetric = head.resourceMetrics[0].scopeMetrics[0].metrics[0]
        let restMetric = request.resourceMetrics[0].scopeMetrics[0].metrics[0]
        for m in [headMetric, restMetric] {
            #expect(m.name == "http.requests")
            #expect(m.sum.isMonotonic)
            #expect(m.sum.aggregationTemporality == .cumulative)
        }
        #expect(headMetric.sum.dataPoints.map(\.asInt) == [0, 1])
        #expect(restMetric.sum.dataPoints.map(\.asInt) == [2, 3, 4])
    }

    @Test func logsAndTracesSplitKeepResourceAndScopeOnBothSides() {
        var traces = SpanFactory.request(service: "cart", traces: 2, spansPerTrace: 3)
        let head = traces.removeFirst(items: 4)
        #expect(head.spanCount == 4 && traces.spanCount == 2)
        #expect(head.resourceSpans[0].resource.attributes.stringValue("service.name") == "cart")
        #expect(traces.resourceSpans[0].resource.attributes.stringValue("service.name") == "cart")
        #expect(traces.resourceSpans[0].scopeSpans[0].scope.name == "test-scope")

        var logs = ExportLogsRequest()
        var rl = ResourceLogs()
        var sl = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        sl.scope.name = "logger"
        sl.logRecords = (0..<3).map { i in
            var r = Opentelemetry_Proto_Logs_V1_LogRecord()
            r.severityText = "INFO\(i)"
            return r
        }
        rl.scopeLogs = [sl, sl]
        logs.resourceLogs = [rl]
        let first = logs.removeFirst(items: 4)
        #expect(first.logRecordCount == 4 && logs.logRecordCount == 2)
        #expect(first.resourceLogs[0].scopeLogs.count == 2)
        #expect(logs.resourceLogs[0].scopeLogs[0].scope.name == "logger")
        #expect(logs.resourceLogs[0].scopeLogs[0].logRecords.map(\.severityText) == ["INFO1", "INFO2"])
    }

    @Test func configDefaultsMatchOtelcolAndBadValuesNameTheKey() throws {
        let factory = BatchProcessorFactory()
        let (config, problems) = readComponentConfig(factory, yaml: "{}")
        #expect(problems.isEmpty)
        let c = try config.as(BatchProcessorConfig.self, for: "batch")
        #expect(c == BatchProcessorConfig(sendBatchSize: 8192, timeout: .milliseconds(200), sendBatchMaxSize: 0))

        let bad = readComponentConfig(
            factory,
            yaml: """
                send_batch_size: 1000
                send_batch_max_size: 500
                timeout: soon
                metadata_keys: [tenant]
                colour: blue
                """
        ).problems
        #expect(bad.contains("processors::batch::send_batch_max_size: must be 0 (no cap) or at least send_batch_size (1000), got 500"))
        #expect(bad.contains { $0.hasPrefix("processors::batch::timeout: expected a duration") })
        #expect(bad.contains { $0.hasPrefix("processors::batch::metadata_keys: batching by request metadata is not supported") })
        #expect(bad.contains("processors::batch::colour: unknown key"))
        #expect(bad.count == 4)
    }
}
