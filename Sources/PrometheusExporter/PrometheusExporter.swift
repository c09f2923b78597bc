import CollectorCore
import Logging
import OTLP
import ServiceLifecycle

/// The `prometheus` exporter: keeps the latest value of every series it is sent and serves them at
/// `GET /metrics` (default `localhost:8889`) for Prometheus to scrape.
///
/// `consume` translates a request and applies it under a short lock; a scrape copies the store (copy-on-write) and
/// renders outside the lock, so ingest is not blocked by rendering.
public struct PrometheusExporter: Exporter, MetricsConsumer, MetricsSource {
    let config: PrometheusExporterConfig
    let translator: OTLPMetricsTranslator
    let store: SeriesStore
    let context: ComponentContext
    let conflicts: TelemetryCounter
    let unsupported: TelemetryCounter
    let overLimit: TelemetryCounter

    public init(config: PrometheusExporterConfig, context: ComponentContext) {
        self.config = config
        var t = OTLPMetricsTranslator()
        t.namespace = config.namespace
        t.constLabels = config.constLabels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        t.resourceToTelemetry = config.resourceToTelemetry
        t.addMetricSuffixes = config.addMetricSuffixes
        t.withoutScopeInfo = config.withoutScopeInfo
        translator = t
        store = SeriesStore(expiration: config.metricExpiration, maxSeries: config.maxSeries)
        self.context = context
        let id = context.id.description
        conflicts = context.telemetry.counter(
            "otelsink_prometheus_dropped_points_total",
            help: "Data points the prometheus exporter dropped: identity conflicts with another metric, or what Prometheus cannot represent.",
            labels: ["exporter": id, "reason": "conflict"])
        unsupported = context.telemetry.counter(
            "otelsink_prometheus_dropped_points_total",
            help: "Data points the prometheus exporter dropped: identity conflicts with another metric, or what Prometheus cannot represent.",
            labels: ["exporter": id, "reason": "unsupported"])
        overLimit = context.telemetry.counter(
            "otelsink_prometheus_dropped_points_total",
            help: "Data points the prometheus exporter dropped: identity conflicts with another metric, or what Prometheus cannot represent.",
            labels: ["exporter": id, "reason": "max_series"])
        let store = self.store
        context.telemetry.gauge("otelsink_prometheus_series", help: "Series the prometheus exporter holds.", labels: ["exporter": id]) {
            Double(store.seriesCount)
        }
    }

    public var consumers: SignalConsumers { SignalConsumers(metrics: self) }

    public func consume(_ request: ExportMetricsRequest) async throws {
        apply(translator.translate(request))
    }

    /// Reads the wire form directly (see ``OTLPMetricsTranslator/translate(_:)-(EncodedMetrics)``).
    public func consume(_ request: EncodedMetrics) async throws {
        let out: OTLPMetricsTranslator.Output
        do { out = try translator.translate(request) } catch {
            throw PipelineError(.invalidData, "cannot decode the metrics request: \(error)")
        }
        apply(out)
    }

    private func apply(_ out: OTLPMetricsTranslator.Output) {
        unsupported.add(out.unsupported)
        let dropped = store.apply(out.updates, targets: out.targets, now: context.clock.now)
        let conflicting = dropped.conflicts + out.conflicts
        if conflicting > 0 {
            conflicts.add(conflicting)
            context.logger.debug("dropped points whose metric identity conflicts with another metric", metadata: ["points": "\(conflicting)"])
        }
        if dropped.overLimit > 0 {
            overLimit.add(dropped.overLimit)
            context.logger.debug("dropped points that would exceed max_series", metadata: ["points": "\(dropped.overLimit)"])
        }
    }

    public var allowsOpenMetrics: Bool { config.enableOpenMetrics }

    public func render(format: ExpositionFormat) -> [UInt8] {
        let families = store.snapshot(now: context.clock.now, includeTimestamps: config.sendTimestamps)
        var writer = ExpositionWriter(format: format)
        for f in families { writer.write(f) }
        writer.finish()
        return writer.bytes
    }

    public func run() async throws {
        try await MetricsHTTPServer.serve(
            address: config.endpoint, listener: config.listener, source: self, context: context, protocolName: "prometheus")
    }
}

/// Registers the `prometheus` exporter.
public struct PrometheusExporterFactory: ExporterFactory {
    public init() {}
    public var type: String { "prometheus" }
    public var kind: ComponentKind { .exporter }
    public var signals: Set<Signal> { [.metrics] }
    public var summary: String { "serves metrics for Prometheus to scrape at GET /metrics (8889), text 0.0.4 or OpenMetrics" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { PrometheusExporterConfig(reading: reader) }

    public func makeExporter(config: any ComponentConfig, context: ComponentContext) throws -> any Exporter {
        PrometheusExporter(config: try config.as(PrometheusExporterConfig.self, for: type), context: context)
    }
}
