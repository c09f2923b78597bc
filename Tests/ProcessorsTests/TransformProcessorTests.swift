import CollectorCore
import CollectorTesting
import Logging
import OTLP
import OTTL
import Processors
import Testing

/// The `transform` processor: otelcol's config forms, statements in order, and each `error_mode`.
@Suite struct TransformProcessorTests {
    typealias B = OTLPBuild

    func processor(_ yaml: String, sink: TracesSink = TracesSink(), telemetry: TelemetryRegistry = TelemetryRegistry()) throws -> TransformProcessor {
        let config = try validProcessorConfig(yaml, factory: TransformProcessorFactory(), id: "transform", as: TransformProcessorConfig.self)
        var logger = Logger(label: "transform-test")
        logger.logLevel = .critical
        let context = ComponentContext(id: ComponentID(type: "transform"), logger: logger, telemetry: telemetry)
        return TransformProcessor(config: config, next: SignalConsumers(traces: sink, metrics: sink, logs: sink), context: context)
    }

    func problems(_ yaml: String) -> [String] {
        readProcessorConfig(yaml, factory: TransformProcessorFactory(), id: "transform", as: TransformProcessorConfig.self).problems
    }

    static func errors(_ telemetry: TelemetryRegistry) -> UInt64 {
        telemetry.counter("otelsink_ottl_errors_total", help: "", labels: ["component": "transform"]).value
    }

    static func request() -> ExportTraceRequest {
        B.traces([
            B.span("GET /a", kind: .server, attributes: [B.kv("http.method", B.str("GET")), B.kv("n", B.int(1))]),
            B.span("SELECT", kind: .client, attributes: [B.kv("db.system", B.str("postgres"))]),
        ])
    }

    @Test func flatAndGroupedStatementsRunInOrder() async throws {
        let sink = TracesSink()
        let p = try processor(
            """
            trace_statements:
              - set(span.attributes["step"], "flat")
              - context: span
                conditions:
                  - kind == SPAN_KIND_CLIENT
                statements:
                  - set(attributes["step"], Concat([attributes["step"], "grouped"], "+"))
              - context: resource
                statements:
                  - set(attributes["env"], "prod")
            """, sink: sink)
        #expect(p.mutatesData)
        try await p.consume(Self.request())
        let out = try #require(sink.receivedTraces.first)
        let spans = out.resourceSpans[0].scopeSpans[0].spans
        #expect(spans[0].attributes.stringValue("step") == "flat")
        #expect(spans[1].attributes.stringValue("step") == "flat+grouped")
        #expect(out.resourceSpans[0].resource.attributes.stringValue("env") == "prod")
    }

    @Test func configFormsAndDefaultsAreRead() throws {
        let config = try validProcessorConfig(
            """
            trace_statements:
              - set(span.name, "a")
              - set(span.attributes["b"], 1)
              - set(resource.attributes["c"], 1)
            log_statements:
              - context: log
                error_mode: silent
                statements: ['set(attributes["x"], 1)']
            """, factory: TransformProcessorFactory(), id: "transform", as: TransformProcessorConfig.self)
        #expect(config.errorMode == .propagate)
        // consecutive flat statements of one context share a group; a change of context starts a new one
        #expect(config.traces.map(\.context) == [.span, .resource])
        #expect(config.traces[0].statements.count == 2)
        #expect(config.logs[0].errorMode == .silent)
        #expect(config.metrics.isEmpty)
    }

    @Test func badSettingsAreReportedWithTheirPaths() {
        #expect(problems("error_mode: loud") == [#"processors::transform::error_mode: expected one of propagate, ignore, silent; got "loud""#])
        #expect(
            problems("trace_statements: [{context: log, statements: []}]").first?
                .hasPrefix("processors::transform::trace_statements::0::context: expected one of resource, scope, span, spanevent") == true)
        #expect(
            problems("trace_statements: [{context: span, statement: ['set(name, \"x\")']}]") == [
                "processors::transform::trace_statements::0::statements: a group needs its statements",
                "processors::transform::trace_statements::0::statement: unknown key",
            ])
        let bad = problems("metric_statements:\n  - context: datapoint\n    statements:\n      - set(attributes[\"a\"], 1\n")
        #expect(
            bad == [
                #"processors::transform::metric_statements::0::statements::0: statement "set(attributes["a"], 1": column 23: expected ')', found the end of the text"#
            ])
        #expect(problems("trace_statements: [flatten(span.attributes)]").first?.contains("unknown editor flatten") == true)
        #expect(problems("profile_statements: []") == ["processors::transform::profile_statements: not supported by otelsink's transform processor"])
        #expect(problems("trace_statements: {a: b}") == ["processors::transform::trace_statements: expected a list of statements, got a mapping"])
    }

    @Test func propagateRefusesTheRequestAsInvalidData() async throws {
        let sink = TracesSink()
        let telemetry = TelemetryRegistry()
        let p = try processor(
            """
            trace_statements:
              - set(span.attributes["x"], Substring(span.name, 0, 5))
            """, sink: sink, telemetry: telemetry)
        // "SELECT" has 6 bytes but "GET /a" has 6 too: make one span too short
        var request = Self.request()
        request.resourceSpans[0].scopeSpans[0].spans[0].name = "GET"
        await #expect {
            try await p.consume(request)
        } throws: { error in
            guard let e = error as? PipelineError, e.kind == .invalidData else { return false }
            return e.message.contains("Substring(span.name, 0, 5)") && e.message.contains("out of range")
        }
        #expect(sink.receivedTraces.isEmpty)
        #expect(Self.errors(telemetry) == 1)
    }

    @Test(arguments: [OTTLErrorMode.ignore, .silent])
    func ignoreAndSilentGoOnWithTheNextStatement(_ mode: OTTLErrorMode) async throws {
        let sink = TracesSink()
        let telemetry = TelemetryRegistry()
        let p = try processor(
            """
            error_mode: \(mode.rawValue)
            trace_statements:
              - set(span.attributes["n"], span.attributes["n"] / 0)
              - set(span.attributes["after"], true)
            """, sink: sink, telemetry: telemetry)
        try await p.consume(Self.request())
        let spans = try #require(sink.receivedTraces.first).resourceSpans[0].scopeSpans[0].spans
        #expect(spans.allSatisfy { $0.attributes.contains { $0.key == "after" } })
        // the first span's division fails; the second has no "n", so nil / 0 fails as well
        #expect(Self.errors(telemetry) == 2)
    }

    /// The walk holds a span's attributes out of the span while statements run (`OTTLTarget.spanAttributes`): the
    /// event context still reads and edits them, and they go back whole after a failed statement.
    @Test func spanAttributesAreReachableFromEventsAndGoBackAfterErrors() async throws {
        let sink = TracesSink()
        let p = try processor(
            """
            error_mode: ignore
            trace_statements:
              - context: spanevent
                statements:
                  - set(attributes["method"], span.attributes["http.method"])
                  - set(span.attributes["seen_event"], name)
              - context: span
                statements:
                  - set(attributes["n"], attributes["n"] / 0)
            """, sink: sink)
        var request = Self.request()
        var event = Span.Event()
        event.name = "ev"
        request.resourceSpans[0].scopeSpans[0].spans[0].events = [event]
        try await p.consume(request)
        let span = try #require(sink.receivedTraces.first).resourceSpans[0].scopeSpans[0].spans[0]
        #expect(span.events[0].attributes.stringValue("method") == "GET")
        #expect(span.attributes.stringValue("seen_event") == "ev")
        #expect(span.attributes.map(\.key) == ["http.method", "n", "seen_event"])
    }

    @Test func groupErrorModeOverridesTheProcessorsOne() async throws {
        let sink = TracesSink()
        let p = try processor(
            """
            error_mode: propagate
            trace_statements:
              - context: span
                error_mode: ignore
                statements:
                  - set(name, 1)
                  - set(attributes["after"], true)
            """, sink: sink)
        try await p.consume(Self.request())
        #expect(sink.receivedTraces.count == 1)
    }

    @Test func metricAndLogStatementsEditTheirSignals() async throws {
        let sink = TracesSink()
        let p = try processor(
            """
            metric_statements:
              - set(metric.name, ConvertCase(metric.name, "snake"))
            log_statements:
              - set(log.severity_text, "ERROR") where log.severity_number >= SEVERITY_NUMBER_ERROR
            """, sink: sink)
        var metric = Metric()
        metric.name = "httpRequests"
        metric.gauge.dataPoints = [.init()]
        var metrics = ExportMetricsRequest()
        metrics.resourceMetrics = [.init()]
        metrics.resourceMetrics[0].scopeMetrics = [.init()]
        metrics.resourceMetrics[0].scopeMetrics[0].metrics = [metric]
        try await p.consume(metrics)
        #expect(sink.receivedMetrics.first?.resourceMetrics[0].scopeMetrics[0].metrics[0].name == "http_requests")
        var logs = ExportLogsRequest()
        logs.resourceLogs = [.init()]
        logs.resourceLogs[0].scopeLogs = [.init()]
        logs.resourceLogs[0].scopeLogs[0].logRecords = [B.log("boom", severity: 17), B.log("fine", severity: 9)]
        try await p.consume(logs)
        let records = try #require(sink.receivedLogs.first).resourceLogs[0].scopeLogs[0].logRecords
        #expect(records.map(\.severityText) == ["ERROR", ""])
    }
}
