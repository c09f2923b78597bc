import CollectorCore
import OTLP
import ServiceLifecycle

/// Collects everything it is given; tests read it back.
public final class TracesSink: TracesConsumer, MetricsConsumer, LogsConsumer, Sendable {
    private let traces = LockedValue<[ExportTraceRequest]>([])
    private let metrics = LockedValue<[ExportMetricsRequest]>([])
    private let logs = LockedValue<[ExportLogsRequest]>([])

    public init() {}

    public func consume(_ t: ExportTraceRequest) async throws { traces.withLock { $0.append(t) } }
    public func consume(_ m: ExportMetricsRequest) async throws { metrics.withLock { $0.append(m) } }
    public func consume(_ l: ExportLogsRequest) async throws { logs.withLock { $0.append(l) } }

    public var receivedTraces: [ExportTraceRequest] { traces.withLock { $0 } }
    public var receivedMetrics: [ExportMetricsRequest] { metrics.withLock { $0 } }
    public var receivedLogs: [ExportLogsRequest] { logs.withLock { $0 } }
    public var spanCount: Int { receivedTraces.reduce(0) { $0 + $1.spanCount } }
}

/// An exporter that answers every export with a fixed error (to test how receivers map refusals), or stores into a
/// shared sink. Registered in test registries as `test`; config key `refuse: retryable|permanent|none`.
public struct TestExporterFactory: ExporterFactory {
    public let sink: TracesSink
    public init(sink: TracesSink = TracesSink()) { self.sink = sink }
    public var type: String { "test" }
    public var kind: ComponentKind { .exporter }
    public var signals: Set<Signal> { [.traces, .metrics, .logs] }
    public var summary: String { "test exporter" }

    struct Config: ComponentConfig { var refuse: String }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig {
        Config(refuse: reader.string("refuse", default: "none"))
    }

    public func makeExporter(config: any ComponentConfig, context: ComponentContext) throws -> any Exporter {
        let c = try config.as(Config.self, for: "test")
        return TestExporter(sink: sink, refuse: c.refuse)
    }
}

struct TestExporter: Exporter, TracesConsumer, MetricsConsumer, LogsConsumer {
    let sink: TracesSink
    let refuse: String
    var consumers: SignalConsumers { SignalConsumers(traces: self, metrics: self, logs: self) }

    func run() async throws { try? await gracefulShutdown() }

    private func check() throws {
        switch refuse {
        case "retryable": throw PipelineError.retryable("test exporter is full", after: .seconds(3))
        case "permanent": throw PipelineError.permanent("test exporter is broken")
        default: break
        }
    }

    func consume(_ t: ExportTraceRequest) async throws {
        try check()
        try await sink.consume(t)
    }
    func consume(_ m: ExportMetricsRequest) async throws {
        try check()
        try await sink.consume(m)
    }
    func consume(_ l: ExportLogsRequest) async throws {
        try check()
        try await sink.consume(l)
    }
}
