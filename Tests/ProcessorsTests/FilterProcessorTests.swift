import CollectorCore
import CollectorTesting
import OTLP
import Processors
import Testing

/// The `filter` processor: what is kept and dropped for spans, span events, metrics, data points and logs.
@Suite struct FilterProcessorTests {
    typealias B = OTLPBuild

    func filter(_ yaml: String, sink: TracesSink = TracesSink(), sourceLocation: SourceLocation = #_sourceLocation) throws -> FilterProcessor {
        let config = try validProcessorConfig(
            yaml, factory: FilterProcessorFactory(), id: "filter/x", as: FilterProcessorConfig.self, sourceLocation: sourceLocation)
        return FilterProcessor(config: config, next: SignalConsumers(traces: sink, metrics: sink, logs: sink))
    }

    /// Names of the spans kept from `spans` under one resource.
    func keptSpans(
        _ yaml: String, _ spans: [Span], service: String = "checkout", resource: [KeyValue] = [], scope: String = "lib",
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> [String] {
        var request = B.traces(service: service, resource: resource, scope: scope, spans)
        try filter(yaml, sourceLocation: sourceLocation).process(&request)
        return request.allSpans.map(\.name)
    }

    static let mixed = [
        B.span("GET /health", kind: .server),
        B.span("GET /cart", kind: .server, status: .error, attributes: [B.kv("http.response.status_code", B.int(500))]),
        B.span("SELECT", kind: .client, attributes: [B.kv("db.system", B.str("postgresql"))]),
    ]

    @Test func excludeDropsMatchingSpans() throws {
        #expect(try keptSpans("spans: {exclude: {match_type: strict, span_names: ['GET /health']}}\n", Self.mixed) == ["GET /cart", "SELECT"])
        #expect(try keptSpans("spans: {exclude: {match_type: regexp, span_names: ['^GET ']}}\n", Self.mixed) == ["SELECT"])
    }

    @Test func includeKeepsOnlyMatchingSpans() throws {
        #expect(try keptSpans("spans: {include: {match_type: strict, span_kinds: [SPAN_KIND_CLIENT]}}\n", Self.mixed) == ["SELECT"])
        #expect(try keptSpans("spans: {include: {match_type: regexp, span_kinds: [SERVER]}}\n", Self.mixed) == ["GET /health", "GET /cart"])
    }

    @Test func byServiceStrictAndRegexp() throws {
        #expect(try keptSpans("spans: {exclude: {match_type: strict, services: [checkout]}}\n", Self.mixed) == [])
        #expect(try keptSpans("spans: {exclude: {match_type: strict, services: [cart]}}\n", Self.mixed).count == 3)
        #expect(try keptSpans("spans: {include: {match_type: regexp, services: ['^check']}}\n", Self.mixed).count == 3)
        #expect(try keptSpans("spans: {include: {match_type: regexp, services: ['^cart']}}\n", Self.mixed) == [])
    }

    @Test func byStatusCode() throws {
        #expect(try keptSpans("spans: {include: {match_type: strict, status_codes: [STATUS_CODE_ERROR]}}\n", Self.mixed) == ["GET /cart"])
        #expect(try keptSpans("spans: {exclude: {match_type: regexp, status_codes: [UNSET]}}\n", Self.mixed) == ["GET /cart"])
    }

    @Test func bySpanAndResourceAttributesAndLibrary() throws {
        #expect(
            try keptSpans("spans: {exclude: {match_type: strict, attributes: [{key: db.system, value: postgresql}]}}\n", Self.mixed) == [
                "GET /health", "GET /cart",
            ])
        #expect(
            try keptSpans("spans: {include: {match_type: regexp, attributes: [{key: http.response.status_code, value: '^5'}]}}\n", Self.mixed) == [
                "GET /cart"
            ])
        let resource = [B.kv("deployment.environment", B.str("test"))]
        #expect(
            try keptSpans(
                "spans: {exclude: {match_type: strict, resources: [{key: deployment.environment, value: test}]}}\n", Self.mixed, resource: resource)
                == [])
        #expect(
            try keptSpans(
                "spans: {exclude: {match_type: strict, resources: [{key: deployment.environment, value: prod}]}}\n", Self.mixed, resource: resource
            ).count == 3)
        #expect(
            try keptSpans(
                "spans: {include: {match_type: strict, libraries: [{name: io.opentelemetry.jdbc}]}}\n", Self.mixed, scope: "io.opentelemetry.jdbc"
            ).count == 3)
        #expect(
            try keptSpans("spans: {include: {match_type: strict, libraries: [{name: io.opentelemetry.jdbc}]}}\n", Self.mixed, scope: "other") == [])
    }

    @Test func emptiedScopesAndResourcesAreRemovedAndAnEmptyBatchIsNotForwarded() async throws {
        let sink = TracesSink()
        let p = try filter("spans: {exclude: {match_type: strict, services: [noisy]}}\n", sink: sink)
        var request = B.traces(service: "noisy", [B.span("a")])
        request.resourceSpans.append(B.traces(service: "kept", [B.span("b")]).resourceSpans[0])
        try await p.consume(request)
        #expect(sink.receivedTraces.count == 1)
        #expect(sink.receivedTraces[0].resourceSpans.count == 1)
        #expect(sink.receivedTraces[0].allSpans.map(\.name) == ["b"])
        try await p.consume(B.traces(service: "noisy", [B.span("c")]))
        #expect(sink.receivedTraces.count == 1)
    }

    @Test func spanEventsAreDroppedByNameAndAttributesKeepingTheSpan() throws {
        let span = B.span(
            "s",
            events: [
                B.event("exception", attributes: [B.kv("exception.type", B.str("Timeout"))]),
                B.event("cache.miss"),
                B.event("exception", attributes: [B.kv("exception.type", B.str("NullPointer"))]),
            ])
        var request = B.traces([span])
        try filter("span_events: {exclude: {match_type: strict, event_names: [cache.miss]}}\n").process(&request)
        #expect(request.allSpans[0].events.map(\.name) == ["exception", "exception"])
        request = B.traces([span])
        try filter("span_events: {exclude: {match_type: regexp, attributes: [{key: exception.type, value: '^Time'}]}}\n").process(&request)
        #expect(request.allSpans[0].events.map(\.name) == ["cache.miss", "exception"])
        request = B.traces([span])
        try filter("span_events: {include: {match_type: strict, event_names: [exception]}}\n").process(&request)
        #expect(request.allSpans[0].events.count == 2)
        // span-level properties select the events of matching spans only
        request = B.traces([span])
        try filter("span_events: {exclude: {match_type: strict, span_names: [other]}}\n").process(&request)
        #expect(request.allSpans[0].events.count == 3)
        request = B.traces([span])
        try filter("span_events: {exclude: {match_type: strict, span_names: [s]}}\n").process(&request)
        #expect(request.allSpans.count == 1)
        #expect(request.allSpans[0].events.isEmpty)
    }

    // MARK: - Metrics

    func keptMetrics(_ yaml: String, _ request: ExportMetricsRequest, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
        var r = request
        try filter(yaml, sourceLocation: sourceLocation).process(&r)
        return r.resourceMetrics.flatMap { $0.scopeMetrics.flatMap { $0.metrics.map(\.name) } }
    }

    static let metrics = B.metrics([
        B.gauge("http.server.duration", points: [[]]),
        B.gauge("http.client.duration", points: [[]]),
        B.histogram("db.duration", points: [[]]),
    ])

    @Test func metricsByNameStrictAndRegexp() throws {
        #expect(
            try keptMetrics("metrics: {exclude: {match_type: strict, metric_names: [db.duration]}}\n", Self.metrics) == [
                "http.server.duration", "http.client.duration",
            ])
        #expect(
            try keptMetrics("metrics: {include: {match_type: regexp, metric_names: ['^http\\.']}}\n", Self.metrics) == [
                "http.server.duration", "http.client.duration",
            ])
        #expect(
            try keptMetrics(
                "metrics: {include: {match_type: regexp, metric_names: [client]}, exclude: {match_type: strict, metric_names: [db.duration]}}\n",
                Self.metrics) == ["http.client.duration"])
    }

    @Test func metricsByResourceAttributesDropWholeResources() throws {
        var request = Self.metrics
        request.resourceMetrics.append(B.metrics(service: "batch-job", [B.gauge("jobs", points: [[]])]).resourceMetrics[0])
        #expect(
            try keptMetrics("metrics: {exclude: {match_type: strict, resource_attributes: [{key: service.name, value: batch-job}]}}\n", request) == [
                "http.server.duration", "http.client.duration", "db.duration",
            ])
        #expect(
            try keptMetrics("metrics: {include: {match_type: regexp, resource_attributes: [{key: service.name, value: '^batch'}]}}\n", request) == [
                "jobs"
            ])
        // as otelcol: within one include block, resource and name tests both have to pass
        #expect(
            try keptMetrics(
                "metrics: {include: {match_type: strict, metric_names: [jobs, db.duration], resource_attributes: [{key: service.name, value: checkout}]}}\n",
                request) == ["db.duration"])
    }

    @Test func dataPointsAreDroppedByAttributesAndAnEmptiedMetricIsDropped() throws {
        let request = B.metrics([
            B.gauge("http.requests", points: [[B.kv("http.route", B.str("/health"))], [B.kv("http.route", B.str("/cart"))]]),
            B.histogram("health.checks", points: [[B.kv("http.route", B.str("/health"))]]),
        ])
        var r = request
        try filter("data_points: {exclude: {match_type: strict, attributes: [{key: http.route, value: /health}]}}\n").process(&r)
        let metrics = r.resourceMetrics[0].scopeMetrics[0].metrics
        #expect(metrics.map(\.name) == ["http.requests"])
        #expect(metrics[0].gauge.dataPoints.map { $0.attributes[attribute: "http.route"] } == [B.str("/cart")])
        // restricted to one metric by name
        #expect(
            try keptMetrics(
                "data_points: {exclude: {match_type: strict, metric_names: [http.requests], attributes: [{key: http.route, value: /health}]}}\n",
                request) == ["http.requests", "health.checks"])
        // everything dropped: nothing left, nothing forwarded
        var all = request
        #expect(try !filter("data_points: {exclude: {match_type: regexp, metric_names: ['.']}}\n").process(&all))
        #expect(all.resourceMetrics.isEmpty)
    }

    // MARK: - Logs

    func keptLogs(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
        var request = B.logs(
            resource: [B.kv("env", B.str("prod"))],
            [
                B.log("user logged in", severityText: "INFO", severity: 9, attributes: [B.kv("user", B.str("u1"))]),
                B.log("disk almost full", severityText: "WARN", severity: 13),
                B.log("debug detail", severityText: "DEBUG", severity: 5),
                B.log("no severity"),
            ])
        try filter(yaml, sourceLocation: sourceLocation).process(&request)
        return request.resourceLogs.flatMap { $0.scopeLogs.flatMap { $0.logRecords.map { AttributeBodyText.of($0.body) } } }
    }

    @Test func logsBySeverityBodyAndAttributes() throws {
        #expect(
            try keptLogs("logs: {exclude: {match_type: strict, severity_texts: [DEBUG]}}\n") == ["user logged in", "disk almost full", "no severity"])
        #expect(try keptLogs("logs: {include: {match_type: strict, severity_number: {min: WARN}}}\n") == ["disk almost full"])
        #expect(
            try keptLogs("logs: {include: {match_type: strict, severity_number: {min: info, match_undefined: true}}}\n") == [
                "user logged in", "disk almost full", "no severity",
            ])
        #expect(try keptLogs("logs: {exclude: {match_type: regexp, bodies: ['^debug']}}\n") == ["user logged in", "disk almost full", "no severity"])
        #expect(try keptLogs("logs: {include: {match_type: strict, record_attributes: [{key: user}]}}\n") == ["user logged in"])
        #expect(try keptLogs("logs: {exclude: {match_type: strict, resource_attributes: [{key: env, value: prod}]}}\n") == [])
        #expect(try keptLogs("logs: {exclude: {match_type: strict, resource_attributes: [{key: env, value: dev}]}}\n").count == 4)
    }

    @Test func withNothingConfiguredEverythingPasses() async throws {
        let sink = TracesSink()
        let p = try filter("", sink: sink)
        try await p.consume(B.traces(Self.mixed))
        try await p.consume(Self.metrics)
        try await p.consume(B.logs([B.log("x")]))
        #expect(sink.spanCount == 3)
        #expect(sink.receivedMetrics.count == 1)
        #expect(sink.receivedLogs.count == 1)
    }
}

/// The string body of a log record, for assertions.
enum AttributeBodyText {
    static func of(_ body: AnyValue) -> String {
        if case .stringValue(let s)? = body.value { return s }
        return ""
    }
}
