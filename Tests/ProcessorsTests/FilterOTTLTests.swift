import CollectorCore
import CollectorTesting
import Logging
import OTLP
import OTTL
import Processors
import Testing

/// The `filter` processor's OTTL form: an item for which a condition of its context holds is dropped; emptied
/// metrics, scopes and resources go too; evaluation failures follow `error_mode`.
@Suite struct FilterOTTLTests {
    typealias B = OTLPBuild

    func filter(_ yaml: String, sink: TracesSink, telemetry: TelemetryRegistry = TelemetryRegistry()) throws -> FilterProcessor {
        let config = try validProcessorConfig(yaml, factory: FilterProcessorFactory(), id: "filter", as: FilterProcessorConfig.self)
        var logger = Logger(label: "filter-test")
        logger.logLevel = .critical
        return FilterProcessor(
            config: config, next: SignalConsumers(traces: sink, metrics: sink, logs: sink),
            context: ComponentContext(id: ComponentID(type: "filter"), logger: logger, telemetry: telemetry))
    }

    static func spans() -> ExportTraceRequest {
        var r = B.traces(
            service: "checkout",
            [
                B.span("GET /health", kind: .server, attributes: [B.kv("http.route", B.str("/health"))]),
                B.span("GET /orders", kind: .server, events: [B.event("cache.miss"), B.event("exception")]),
                B.span("SELECT", kind: .client, attributes: [B.kv("n", B.int(3))]),
            ])
        r.resourceSpans += B.traces(service: "load-generator", [B.span("tick")]).resourceSpans
        return r
    }

    static func names(_ r: ExportTraceRequest?) -> [String] {
        (r?.resourceSpans ?? []).flatMap {
            $0.scopeSpans.flatMap { $0.spans.map { s in ([s.name] + s.events.map { "\(s.name)#\($0.name)" }).joined(separator: ",") } }
        }
    }

    @Test func spansEventsAndResourcesMatchingAConditionAreDropped() async throws {
        let sink = TracesSink()
        let p = try filter(
            """
            traces:
              resource:
                - attributes["service.name"] == "load-generator"
              span:
                - attributes["http.route"] == "/health"
                - kind == SPAN_KIND_CLIENT and attributes["n"] > 2
              spanevent:
                - name == "cache.miss"
            """, sink: sink)
        try await p.consume(Self.spans())
        #expect(Self.names(sink.receivedTraces.first) == ["GET /orders,GET /orders#exception"])
        #expect(sink.receivedTraces.first?.resourceSpans.count == 1)
    }

    @Test func flatConditionsInferTheirContextAndAnEmptiedBatchIsNotForwarded() async throws {
        let sink = TracesSink()
        let p = try filter("trace_conditions:\n  - span.name != \"nothing\"\n", sink: sink)
        try await p.consume(Self.spans())
        #expect(sink.receivedTraces.isEmpty)
    }

    @Test func dataPointsAndMetricsAreDroppedAndEmptiedMetricsGo() async throws {
        let sink = TracesSink()
        let p = try filter(
            """
            metrics:
              metric:
                - name == "debug.counter"
              datapoint:
                - attributes["route"] == "/health"
            """, sink: sink)
        func metric(_ name: String, routes: [String]) -> Metric {
            var m = Metric()
            m.name = name
            m.sum.dataPoints = routes.map { r in
                var p = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
                p.attributes = [B.kv("route", B.str(r))]
                return p
            }
            return m
        }
        var request = ExportMetricsRequest()
        request.resourceMetrics = [.init()]
        request.resourceMetrics[0].scopeMetrics = [.init()]
        request.resourceMetrics[0].scopeMetrics[0].metrics = [
            metric("http.requests", routes: ["/a", "/health"]), metric("health.only", routes: ["/health"]), metric("debug.counter", routes: ["/a"]),
        ]
        try await p.consume(request)
        let metrics = try #require(sink.receivedMetrics.first).resourceMetrics[0].scopeMetrics[0].metrics
        #expect(metrics.map(\.name) == ["http.requests"])
        #expect(metrics[0].sum.dataPoints.count == 1)
    }

    @Test func logRecordsAreDroppedBySeverityAndBody() async throws {
        let sink = TracesSink()
        let p = try filter(
            """
            logs:
              log_record:
                - severity_number < SEVERITY_NUMBER_WARN
                - IsMatch(body, "password")
            """, sink: sink)
        var logs = ExportLogsRequest()
        logs.resourceLogs = [.init()]
        logs.resourceLogs[0].scopeLogs = [.init()]
        logs.resourceLogs[0].scopeLogs[0].logRecords = [
            B.log("debug noise", severity: 5), B.log("password=x", severity: 17), B.log("disk full", severity: 17),
        ]
        try await p.consume(logs)
        #expect(sink.receivedLogs.first?.resourceLogs[0].scopeLogs[0].logRecords.map(\.body.stringValue) == ["disk full"])
    }

    @Test func aConditionThatFailsRefusesUnderPropagateAndKeepsTheItemOtherwise() async throws {
        let yaml = "traces:\n  span:\n    - attributes[\"n\"] / 0 > 1\n"
        let sink = TracesSink()
        let propagate = try filter(yaml, sink: sink)
        await #expect(throws: PipelineError.self) { try await propagate.consume(Self.spans()) }
        #expect(sink.receivedTraces.isEmpty)
        let telemetry = TelemetryRegistry()
        let ignore = try filter("error_mode: ignore\n" + yaml, sink: sink, telemetry: telemetry)
        try await ignore.consume(Self.spans())
        #expect(Self.names(sink.receivedTraces.first).count == 4)
        #expect(telemetry.counter("otelsink_ottl_errors_total", help: "", labels: ["component": "filter"]).value == 4)
    }
}
