import CollectorCore
import CollectorService
import CollectorTesting
import Foundation
import Logging
import OTLP
import Testing

/// Rules every registered processor follows, checked over `ComponentRegistry.builtin` so a new processor is
/// covered the moment it is registered.
@Suite struct ProcessorConformanceTests {
    /// Settings under which a processor should keep every item (it may still edit them). Processors that keep
    /// everything with their defaults need no entry.
    static let keepEverything: [String: String] = [
        "probabilistic_sampler": "sampling_percentage: 100",
        "tail_sampling": """
        decision_wait: 10s
        policies:
          - name: everything
            type: always_sample
        """,
        "attributes": """
        actions:
          - key: conformance.checked
            value: true
            action: insert
        """,
        "transform": """
        trace_statements:
          - set(span.attributes["conformance.checked"], true)
        metric_statements:
          - set(datapoint.attributes["conformance.checked"], true)
        log_statements:
          - set(log.attributes["conformance.checked"], true)
        """,
        "resource": """
        attributes:
          - key: conformance.checked
            value: true
            action: insert
        """,
    ]

    static var processorTypes: [String] { ComponentRegistry.builtin.types(of: .processor) }

    private func context(_ type: String, clock: ManualClock) -> ComponentContext {
        var logger = Logger(label: "conformance")
        logger.logLevel = .critical
        return ComponentContext(id: ComponentID(type: type), logger: logger, clock: clock)
    }

    private func build(_ type: String, yaml: String, next: SignalConsumers, clock: ManualClock) throws -> any Processor {
        let factory = try #require(ComponentRegistry.builtin.processors[type])
        let (config, problems) = readComponentConfig(factory, yaml: yaml)
        #expect(problems.isEmpty, "\(type) with \(yaml): \(problems)")
        return try factory.makeProcessor(config: config, next: next, context: context(type, clock: clock))
    }

    @Test func everyProcessorIsRegistered() {
        for type in ["batch", "memory_limiter"] { #expect(Self.processorTypes.contains(type)) }
    }

    @Test(arguments: processorTypes)
    func defaultConfigValidates(type: String) throws {
        let factory = try #require(ComponentRegistry.builtin.processors[type])
        let (_, problems) = readComponentConfig(factory, yaml: "{}")
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test(arguments: processorTypes)
    func shutdownWithoutDataIsHarmlessAndPrompt(type: String) async throws {
        let sink = TracesSink()
        let p = try build(type, yaml: "{}", next: SignalConsumers(traces: sink, metrics: sink, logs: sink), clock: ManualClock())
        // Built and never run: nothing to undo.
        _ = try build(type, yaml: "{}", next: SignalConsumers(traces: sink), clock: ManualClock())
        // Run and stopped at once, with a clock that never moves: shutdown must not wait on time.
        let running = RunningService(p)
        try await running.stop()
        #expect(sink.spanCount == 0)
    }

    @Test(arguments: processorTypes)
    func everyAcknowledgedItemIsDeliveredByShutdown(type: String) async throws {
        let factory = try #require(ComponentRegistry.builtin.processors[type])
        let sink = TracesSink()
        let next = SignalConsumers(
            traces: factory.signals.contains(.traces) ? sink : nil,
            metrics: factory.signals.contains(.metrics) ? sink : nil,
            logs: factory.signals.contains(.logs) ? sink : nil)
        let p = try build(type, yaml: Self.keepEverything[type] ?? "{}", next: next, clock: ManualClock())
        let consumers = p.consumers
        let running = RunningService(p)

        let traceRequests = (0..<3).map { _ in SpanFactory.request(traces: 2, spansPerTrace: 3) }
        let finished = LockedValue(0)
        var tasks: [Task<Bool, Never>] = []
        func start(_ work: @escaping @Sendable () async throws -> Void) {
            tasks.append(
                Task {
                    defer { finished.withLock { $0 += 1 } }
                    return (try? await work()) != nil
                })
        }
        if let t = consumers.traces {
            for r in traceRequests { start { try await t.consume(r) } }
        }
        if let m = consumers.metrics { start { try await m.consume(Self.metrics()) } }
        if let l = consumers.logs { start { try await l.consume(Self.logs()) } }
        // Let whatever completes without help complete (buffering processors answer at once, batching ones
        // wait for their batch); then shut down, which must flush the rest.
        for _ in 0..<200 {
            if finished.withLock({ $0 }) == tasks.count { break }
            try await Task.sleep(for: .milliseconds(1))
        }
        try await running.stop()
        var acknowledged = 0
        for task in tasks where await task.value { acknowledged += 1 }
        #expect(acknowledged == tasks.count, "\(type) refused data under its keep-everything config")

        let sent = Set(traceRequests.flatMap { $0.spanIDs })
        let delivered = sink.receivedTraces.flatMap { $0.spanIDs }
        if consumers.traces != nil {
            #expect(Set(delivered) == sent, "\(type) lost or invented spans")
            #expect(delivered.count == sent.count, "\(type) delivered spans twice")
        }
        if consumers.metrics != nil { #expect(sink.receivedMetrics.reduce(0) { $0 + $1.dataPointCount } == 2) }
        if consumers.logs != nil { #expect(sink.receivedLogs.reduce(0) { $0 + $1.logRecordCount } == 2) }
    }

    static func metrics() -> ExportMetricsRequest {
        var request = ExportMetricsRequest()
        var rm = ResourceMetrics()
        var service = KeyValue()
        service.key = "service.name"
        service.value.stringValue = "conformance"
        rm.resource.attributes = [service]
        var sm = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
        var metric = Opentelemetry_Proto_Metrics_V1_Metric()
        metric.name = "queue.depth"
        var gauge = Opentelemetry_Proto_Metrics_V1_Gauge()
        gauge.dataPoints = (0..<2).map { i in
            var p = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
            p.asInt = Int64(i)
            p.timeUnixNano = UInt64(Date().timeIntervalSince1970 * 1e9)
            return p
        }
        metric.gauge = gauge
        sm.metrics = [metric]
        rm.scopeMetrics = [sm]
        request.resourceMetrics = [rm]
        return request
    }

    static func logs() -> ExportLogsRequest {
        var request = ExportLogsRequest()
        var rl = ResourceLogs()
        var sl = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        sl.logRecords = (0..<2).map { i in
            var r = Opentelemetry_Proto_Logs_V1_LogRecord()
            r.body.stringValue = "line \(i)"
            r.timeUnixNano = UInt64(Date().timeIntervalSince1970 * 1e9)
            return r
        }
        rl.scopeLogs = [sl]
        request.resourceLogs = [rl]
        return request
    }
}

extension ExportTraceRequest {
    fileprivate var spanIDs: [Data] { resourceSpans.flatMap { $0.scopeSpans.flatMap { $0.spans.map(\.spanID) } } }
}
