import CollectorCore
import CollectorService
import CollectorTesting
import OTLP
import QueryAPI
import Testing

@testable import PrometheusExporter

@Suite struct SelfTelemetryTests {
    static let yaml = """
        receivers:
          otlp:
            protocols:
              grpc:
                endpoint: 127.0.0.1:0
        processors:
          batch:
            timeout: 10ms
        exporters:
          nop:
        service:
          pipelines:
            traces:
              receivers: [otlp]
              processors: [batch]
              exporters: [nop]
        """

    func value(_ snapshot: [TelemetrySnapshot], _ name: String, _ labels: [String: String]) -> Double? {
        guard let family = snapshot.first(where: { $0.name == name }) else { return nil }
        for s in family.series where Dictionary(uniqueKeysWithValues: s.labels.map { ($0.name, $0.value) }) == labels {
            if case .number(let v) = s.value { return v }
        }
        return nil
    }

    @Test func processorAndExporterBoundariesAreCountedUnderOtelcolNames() async throws {
        let collector = try await TestCollector(yaml: Self.yaml)
        let entry = try #require(collector.collector.pipelineEntries[PipelineID(signal: .traces)]?.traces)
        try await entry.consume(SpanFactory.request(traces: 2, spansPerTrace: 3))
        let snapshot = collector.collector.telemetry.snapshot()
        #expect(value(snapshot, "otelcol_processor_incoming_items_total", ["processor": "batch", "otel_signal": "traces"]) == 6)
        #expect(value(snapshot, "otelcol_processor_outgoing_items_total", ["processor": "batch", "otel_signal": "traces"]) == 6)
        #expect(value(snapshot, "otelcol_exporter_sent_spans_total", ["exporter": "nop"]) == 6)
        // Counters exist only for the signals a component is used for.
        #expect(!snapshot.contains { $0.name == "otelcol_exporter_sent_metric_points_total" })
        // Receiver counters exist from the start, per transport.
        #expect(value(snapshot, "otelcol_receiver_accepted_spans_total", ["receiver": "otlp", "transport": "grpc"]) == 0)
        try await collector.stop()
    }

    @Test func registryRendersCountersGaugesAndHistogramsAsPrometheusText() {
        let registry = TelemetryRegistry()
        registry.counter("a_total", help: "A.", labels: ["x": "1"]).add(3)
        registry.counter("a_total", help: "A.", labels: ["x": "1"]).add(2)  // same instrument
        registry.gauge("g", help: "G.") { 7 }
        let h = registry.histogram("h_seconds", help: "H.", bounds: [0.1, 1])
        h.observe(0.0625)
        h.observe(0.5)
        h.observe(5)
        let server = SelfTelemetryServer(
            address: "127.0.0.1:0", registry: registry,
            context: ComponentContext(id: ComponentID(type: "telemetry"), logger: .init(label: "t")))
        let text = String(decoding: server.render(format: .text), as: UTF8.self)
        #expect(text.contains("# TYPE a_total counter\na_total{x=\"1\"} 5\n"))
        #expect(text.contains("g 7\n"))
        #expect(
            text.contains(
                "h_seconds_bucket{le=\"0.1\"} 1\nh_seconds_bucket{le=\"1\"} 2\nh_seconds_bucket{le=\"+Inf\"} 3\nh_seconds_sum 5.5625\nh_seconds_count 3\n"
            ))
    }

    @Test func queryAPILatencyHookRecordsPerRoute() {
        let registry = TelemetryRegistry()
        let latency = QueryAPILatency(registry: registry)
        latency.observe(route: "/api/traces", .milliseconds(3))
        let family = registry.snapshot().first { $0.name == "otelsink_query_request_duration_seconds" }
        guard case .histogram(_, _, _, let count)? = family?.series.first?.value else {
            Issue.record("no histogram")
            return
        }
        #expect(count == 1)
    }
}
