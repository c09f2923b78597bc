import CollectorCore
import Logging
import OTLP
import ServiceLifecycle

/// The `prometheus` exporter: keeps the latest value of every series it is sent and serves them at
/// `GET /metrics` (default `localhost:8889`) for Prometheus to scrape.
///
/// `consume` queues a wire-form request (``PendingMetrics``) and returns; queued requests are translated and applied
/// to the store in one pass within ``pendingMaxAge``, when the queue fills, or before a scrape. A scrape copies the
/// store (copy-on-write) and renders outside its lock, so ingest is not blocked by rendering.
public struct PrometheusExporter: Exporter, MetricsConsumer, MetricsSource {
    let config: PrometheusExporterConfig
    let translator: OTLPMetricsTranslator
    let store: SeriesStore
    let pending: PendingMetrics
    /// Rung when a request is queued into an empty ``pending``: the timer of ``run()`` applies it ``pendingMaxAge`` later.
    private let queued = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    /// Rung when ``pending`` passes its soft limits: ``run()`` applies it at once, off the event loops.
    private let filling = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    /// How long an accepted request may wait before its points are applied (a scrape applies them sooner).
    var pendingMaxAge = Duration.seconds(1)
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
        pending = PendingMetrics()
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
        applyPending()
        apply(translator.translate(request), now: context.clock.now)
    }

    /// Queues the wire form, read directly when applied (see ``OTLPMetricsTranslator/translate(_:)-(EncodedMetrics)``).
    public func consume(_ request: EncodedMetrics) async throws {
        let added = pending.add(PendingMetrics.Request(metrics: request, received: context.clock.now), apply: apply)
        if added.first { queued.continuation.yield() }
        if added.drainSoon { filling.continuation.yield() }
    }

    /// Applies every queued request now (a scrape does this first; benchmarks call it to include the work).
    public func applyPending() { pending.drain(apply) }

    private func apply(_ request: PendingMetrics.Request) {
        do {
            apply(try translator.translate(request.metrics), now: request.received)
        } catch {
            // The receiver's index vouched for these bytes: a failure here is a bug, not the client's.
            unsupported.add(request.metrics.dataPointCount)
            context.logger.error("cannot translate an accepted metrics request", metadata: ["error": "\(error)"])
        }
    }

    /// Series held, queued requests applied first.
    var seriesCount: Int {
        applyPending()
        return store.seriesCount
    }

    private func apply(_ out: OTLPMetricsTranslator.Output, now: Duration) {
        unsupported.add(out.unsupported)
        let dropped = store.apply(out.updates, targets: out.targets, now: now)
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
        applyPending()
        let families = store.snapshot(now: context.clock.now, includeTimestamps: config.sendTimestamps)
        var writer = ExpositionWriter(format: format)
        for f in families { writer.write(f) }
        writer.finish()
        return writer.bytes
    }

    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                // Idle until a request is queued, then apply the queue once it has gathered for `pendingMaxAge`.
                for await _ in queued.stream {
                    try? await Task.sleep(for: pendingMaxAge)
                    applyPending()
                }
            }
            group.addTask {
                for await _ in filling.stream { applyPending() }
            }
            try await MetricsHTTPServer.serve(
                address: config.endpoint, listener: config.listener, source: self, context: context, protocolName: "prometheus")
            group.cancelAll()
        }
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
