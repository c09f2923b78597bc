import CollectorCore
import OTLP
import ServiceLifecycle

/// Settings of the `nop` exporter: none.
public struct NopExporterConfig: ComponentConfig {
    public init() {}
}

/// The `nop` exporter, as in otelcol-contrib: accepts everything and keeps nothing. For pipelines whose output is
/// not wanted (a metrics pipeline fed only to keep a receiver quiet) and for measuring processors alone.
public struct NopExporter: Exporter, TracesConsumer, MetricsConsumer, LogsConsumer {
    public init() {}
    public var consumers: SignalConsumers { SignalConsumers(traces: self, metrics: self, logs: self) }
    public func run() async throws { try? await gracefulShutdown() }
    public func consume(_ traces: ExportTraceRequest) async throws {}
    public func consume(_ traces: EncodedTraces) async throws {}
    public func consume(_ metrics: ExportMetricsRequest) async throws {}
    public func consume(_ metrics: EncodedMetrics) async throws {}
    public func consume(_ logs: ExportLogsRequest) async throws {}
    public func consume(_ logs: EncodedLogs) async throws {}
}

public struct NopExporterFactory: ExporterFactory {
    public init() {}
    public var type: String { "nop" }
    public var kind: ComponentKind { .exporter }
    public var signals: Set<Signal> { [.traces, .metrics, .logs] }
    public var summary: String { "discards everything it receives" }
    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { NopExporterConfig() }
    public func makeExporter(config: any ComponentConfig, context: ComponentContext) throws -> any Exporter { NopExporter() }
}
