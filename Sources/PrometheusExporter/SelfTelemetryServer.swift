import CollectorCore
import ServiceLifecycle

/// otelsink's own metrics endpoint (`service.telemetry.metrics.address`, default `localhost:8888`): the
/// ``TelemetryRegistry`` rendered in the Prometheus text format (OpenMetrics when asked for).
public struct SelfTelemetryServer: Service, MetricsSource {
    let address: String
    let listener: ListenerSettings
    let registry: TelemetryRegistry
    let context: ComponentContext

    public init(
        address: String, listener: ListenerSettings = ListenerSettings(maxConnections: 64), registry: TelemetryRegistry, context: ComponentContext
    ) {
        self.address = address
        self.listener = listener
        self.registry = registry
        self.context = context
    }

    public var allowsOpenMetrics: Bool { true }

    public func render(format: ExpositionFormat) -> [UInt8] {
        var writer = ExpositionWriter(format: format, capacity: 16 << 10)
        for family in registry.snapshot() { writer.write(Self.exposed(family)) }
        writer.finish()
        return writer.bytes
    }

    static func exposed(_ f: TelemetrySnapshot) -> ExposedFamily {
        let type: ExpositionType =
            switch f.type {
            case .counter: .counter
            case .gauge: .gauge
            case .histogram: .histogram
            }
        return ExposedFamily(
            name: f.name, type: type, help: f.help,
            series: f.series.map { s in
                let labels = PrometheusLabels.render(s.labels)
                switch s.value {
                case .number(let v): return ExposedSeries(labels: labels, value: .number(v))
                case .histogram(let bounds, let counts, let sum, let count):
                    return ExposedSeries(labels: labels, value: .histogram(HistogramValue(bounds: bounds, counts: counts, sum: sum, count: count)))
                }
            })
    }

    public func run() async throws {
        try await MetricsHTTPServer.serve(address: address, listener: listener, source: self, context: context, protocolName: "telemetry")
    }
}
