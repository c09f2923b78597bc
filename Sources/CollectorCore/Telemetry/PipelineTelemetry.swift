import OTLP

/// otelcol's names for what crosses component boundaries, so existing collector dashboards work unchanged.
///
/// otelcol ≥ 0.106 exposes its internal metrics through the OpenTelemetry Prometheus exporter, which appends
/// `_total` to counters: `otelcol_receiver_accepted_spans_total{receiver="otlp",transport="grpc"}`.
public enum PipelineTelemetry {
    /// The item noun otelcol uses per signal in metric names.
    public static func itemNoun(_ signal: Signal) -> String {
        switch signal {
        case .traces: "spans"
        case .metrics: "metric_points"
        case .logs: "log_records"
        }
    }

    /// Items in a request, as otelcol counts them (spans, data points, log records).
    public static func itemCount(_ request: ExportTraceRequest) -> Int { request.spanCount }
    public static func itemCount(_ request: ExportMetricsRequest) -> Int { request.dataPointCount }
    public static func itemCount(_ request: ExportLogsRequest) -> Int { request.logRecordCount }

    /// Counters of one receiver and transport for one signal.
    public struct ReceiverCounters: Sendable {
        public let accepted: TelemetryCounter
        public let refused: TelemetryCounter

        public init(registry: TelemetryRegistry, receiver: ComponentID, transport: ReceiverTransport, signal: Signal) {
            let labels: TelemetryLabels = ["receiver": receiver.description, "transport": transport.rawValue]
            let noun = itemNoun(signal)
            accepted = registry.counter(
                "otelcol_receiver_accepted_\(noun)_total",
                help: "Number of \(noun) successfully pushed into the pipeline.", labels: labels)
            refused = registry.counter(
                "otelcol_receiver_refused_\(noun)_total",
                help: "Number of \(noun) that could not be pushed into the pipeline.", labels: labels)
        }
    }

    /// Counters of one exporter for one signal.
    public struct ExporterCounters: Sendable {
        public let sent: TelemetryCounter
        public let failed: TelemetryCounter

        public init(registry: TelemetryRegistry, exporter: ComponentID, signal: Signal) {
            let labels: TelemetryLabels = ["exporter": exporter.description]
            let noun = itemNoun(signal)
            sent = registry.counter(
                "otelcol_exporter_sent_\(noun)_total",
                help: "Number of \(noun) successfully sent to destination.", labels: labels)
            failed = registry.counter(
                "otelcol_exporter_send_failed_\(noun)_total",
                help: "Number of \(noun) in failed attempts to send to destination.", labels: labels)
        }
    }

    /// Counters of one processor for one signal.
    public struct ProcessorCounters: Sendable {
        public let incoming: TelemetryCounter
        public let outgoing: TelemetryCounter

        public init(registry: TelemetryRegistry, processor: ComponentID, signal: Signal) {
            let labels: TelemetryLabels = ["processor": processor.description, "otel_signal": signal.rawValue]
            incoming = registry.counter(
                "otelcol_processor_incoming_items_total",
                help: "Number of items passed to the processor.", labels: labels)
            outgoing = registry.counter(
                "otelcol_processor_outgoing_items_total",
                help: "Number of items emitted from the processor.", labels: labels)
        }
    }
}
