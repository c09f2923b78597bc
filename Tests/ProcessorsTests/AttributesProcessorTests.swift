import CollectorCore
import CollectorTesting
import OTLP
import Processors
import Testing

/// The `attributes` processor over traces, logs and metrics, with include/exclude selection.
@Suite struct AttributesProcessorTests {
    typealias B = OTLPBuild
    static let mark = "actions: [{key: touched, value: true, action: upsert}]\n"

    /// The processor as built for a pipeline of `signal` (match properties are checked against that signal).
    func processor(_ yaml: String, for signal: Signal = .traces, sourceLocation: SourceLocation = #_sourceLocation) throws -> AttributesProcessor {
        let config = try validProcessorConfig(
            Self.mark + yaml, factory: AttributesProcessorFactory(), id: "attributes/x", as: AttributesProcessorConfig.self,
            sourceLocation: sourceLocation)
        let sink = TracesSinkForBuild()
        switch signal {
        case .traces: return try AttributesProcessor(config: config, next: SignalConsumers(traces: sink))
        case .metrics: return try AttributesProcessor(config: config, next: SignalConsumers(metrics: sink))
        case .logs: return try AttributesProcessor(config: config, next: SignalConsumers(logs: sink))
        }
    }

    /// Whether the processor touched a span built from the given pieces.
    func touches(
        _ yaml: String, span: Span = B.span("GET /"), service: String? = "checkout", resource: [KeyValue] = [],
        scope: String = "lib", version: String = "", sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Bool {
        var request = B.traces(service: service, resource: resource, scope: scope, version: version, [span])
        try processor(yaml, sourceLocation: sourceLocation).process(&request)
        return request.allSpans[0].attributes[attribute: "touched"] != nil
    }

    @Test func withoutIncludeOrExcludeEverySpanIsEdited() throws {
        #expect(try touches(""))
    }

    @Test func servicesStrictAndRegexp() throws {
        let strict = "include: {match_type: strict, services: [checkout, cart]}\n"
        #expect(try touches(strict, service: "cart"))
        #expect(try !touches(strict, service: "payments"))
        #expect(try !touches(strict, service: nil))
        // regexp is an unanchored search, as Go's MatchString
        let regexp = "include: {match_type: regexp, services: ['check']}\n"
        #expect(try touches(regexp, service: "checkout"))
        #expect(try !touches("include: {match_type: regexp, services: ['^out']}\n", service: "checkout"))
        // a resource without service.name is matched as otelcol names it
        #expect(try touches("include: {match_type: strict, services: ['<nil-service-name>']}\n", service: nil))
    }

    @Test func spanNamesStrictAndRegexp() throws {
        #expect(try touches("include: {match_type: strict, span_names: ['GET /']}\n"))
        #expect(try !touches("include: {match_type: strict, span_names: ['GET']}\n"))
        #expect(try touches("include: {match_type: regexp, span_names: ['^GET ']}\n"))
        #expect(try !touches("include: {match_type: regexp, span_names: ['^POST']}\n"))
    }

    @Test func spanKinds() throws {
        let server = B.span("s", kind: .server)
        #expect(try touches("include: {match_type: strict, span_kinds: [SPAN_KIND_SERVER]}\n", span: server))
        #expect(try !touches("include: {match_type: strict, span_kinds: [SPAN_KIND_CLIENT]}\n", span: server))
        #expect(try touches("include: {match_type: regexp, span_kinds: ['SERVER|CLIENT']}\n", span: server))
    }

    @Test func attributesByPresenceTypedValueAndRegexp() throws {
        let span = B.span("s", attributes: [B.kv("http.status_code", B.int(500)), B.kv("route", B.str("/a/1"))])
        #expect(try touches("include: {match_type: strict, attributes: [{key: route}]}\n", span: span))
        #expect(try !touches("include: {match_type: strict, attributes: [{key: missing}]}\n", span: span))
        #expect(try touches("include: {match_type: strict, attributes: [{key: http.status_code, value: 500}]}\n", span: span))
        // strict compares type and value: the string route is not the int 500
        #expect(try !touches("include: {match_type: strict, attributes: [{key: route, value: 500}]}\n", span: span))
        // every listed attribute must match
        #expect(try !touches("include: {match_type: strict, attributes: [{key: route}, {key: http.status_code, value: 404}]}\n", span: span))
        // regexp runs against the text of strings and numbers
        #expect(try touches("include: {match_type: regexp, attributes: [{key: http.status_code, value: '^5..$'}]}\n", span: span))
        #expect(try !touches("include: {match_type: regexp, attributes: [{key: route, value: '^/b/'}]}\n", span: span))
        // an item without attributes never matches a non-empty attribute list
        #expect(try !touches("include: {match_type: strict, attributes: [{key: route}]}\n", span: B.span("s")))
    }

    @Test func resources() throws {
        let resource = [B.kv("deployment.environment", B.str("prod"))]
        #expect(try touches("include: {match_type: strict, resources: [{key: deployment.environment, value: prod}]}\n", resource: resource))
        #expect(try !touches("include: {match_type: strict, resources: [{key: deployment.environment, value: dev}]}\n", resource: resource))
        #expect(try touches("include: {match_type: regexp, resources: [{key: deployment.environment, value: 'pro'}]}\n", resource: resource))
    }

    @Test func librariesByNameAndOptionalVersion() throws {
        #expect(try touches("include: {match_type: strict, libraries: [{name: io.otel.http}]}\n", scope: "io.otel.http", version: "1.2"))
        #expect(try !touches("include: {match_type: strict, libraries: [{name: other}]}\n", scope: "io.otel.http"))
        #expect(
            try touches("include: {match_type: strict, libraries: [{name: io.otel.http, version: '1.2'}]}\n", scope: "io.otel.http", version: "1.2"))
        #expect(
            try !touches("include: {match_type: strict, libraries: [{name: io.otel.http, version: '1.3'}]}\n", scope: "io.otel.http", version: "1.2"))
        // an empty version matches only an empty version
        #expect(
            try !touches("include: {match_type: strict, libraries: [{name: io.otel.http, version: ''}]}\n", scope: "io.otel.http", version: "1.2"))
        #expect(try touches("include: {match_type: regexp, libraries: [{name: '^io\\.otel'}]}\n", scope: "io.otel.http"))
    }

    @Test func excludeWinsOverIncludeAndWorksAlone() throws {
        let both = "include: {match_type: strict, services: [checkout]}\nexclude: {match_type: strict, span_names: ['GET /health']}\n"
        #expect(try touches(both, span: B.span("GET /")))
        #expect(try !touches(both, span: B.span("GET /health")))
        #expect(try !touches("exclude: {match_type: regexp, span_names: [health]}\n", span: B.span("GET /health")))
        #expect(try touches("exclude: {match_type: regexp, span_names: [health]}\n", span: B.span("GET /")))
    }

    @Test func propertiesAreAndedWithinABlock() throws {
        let yaml = "include: {match_type: strict, services: [checkout], span_names: ['GET /']}\n"
        #expect(try touches(yaml, span: B.span("GET /"), service: "checkout"))
        #expect(try !touches(yaml, span: B.span("GET /"), service: "cart"))
        #expect(try !touches(yaml, span: B.span("POST /"), service: "checkout"))
    }

    // MARK: - Logs

    func touchesLog(_ yaml: String, _ record: Opentelemetry_Proto_Logs_V1_LogRecord, sourceLocation: SourceLocation = #_sourceLocation) throws -> Bool
    {
        var request = B.logs([record])
        try processor(yaml, for: .logs, sourceLocation: sourceLocation).process(&request)
        return request.resourceLogs[0].scopeLogs[0].logRecords[0].attributes[attribute: "touched"] != nil
    }

    @Test func logsByBodySeverityAndAttributes() throws {
        let record = B.log("user logged in", severityText: "INFO", severity: 9, attributes: [B.kv("user", B.str("u1"))])
        #expect(try touchesLog("", record))
        #expect(try touchesLog("include: {match_type: regexp, log_bodies: ['logged in']}\n", record))
        #expect(try !touchesLog("include: {match_type: strict, log_bodies: ['logged in']}\n", record))
        #expect(try touchesLog("include: {match_type: strict, log_severity_texts: [INFO]}\n", record))
        #expect(try !touchesLog("include: {match_type: strict, log_severity_texts: [ERROR]}\n", record))
        #expect(try touchesLog("include: {match_type: strict, log_severity_number: {min: INFO}}\n", record))
        #expect(try !touchesLog("include: {match_type: strict, log_severity_number: {min: WARN}}\n", record))
        #expect(try touchesLog("include: {match_type: strict, log_severity_number: {min: 13, match_undefined: true}}\n", B.log("x")))
        #expect(try !touchesLog("include: {match_type: strict, log_severity_number: {min: 13}}\n", B.log("x")))
        #expect(try touchesLog("include: {match_type: strict, attributes: [{key: user, value: u1}]}\n", record))
        #expect(try !touchesLog("exclude: {match_type: strict, attributes: [{key: user}]}\n", record))
        #expect(try touchesLog("include: {match_type: strict, resources: [{key: service.name, value: checkout}]}\n", record))
    }

    // MARK: - Metrics

    @Test func metricsEditEveryDataPointAndSelectByMetricNameOnly() throws {
        var request = B.metrics([
            B.gauge("http.requests", points: [[B.kv("a", B.int(1))], []]),
            B.histogram("http.duration", points: [[]]),
            B.gauge("db.calls", points: [[]]),
        ])
        try processor(
            "include: {match_type: regexp, metric_names: ['^http\\.']}\nexclude: {match_type: strict, metric_names: [http.duration]}\n", for: .metrics
        ).process(&request)
        let metrics = request.resourceMetrics[0].scopeMetrics[0].metrics
        #expect(metrics[0].gauge.dataPoints.allSatisfy { $0.attributes[attribute: "touched"] != nil })
        #expect(metrics[0].gauge.dataPoints[0].attributes[attribute: "a"] == B.int(1))
        #expect(metrics[1].histogram.dataPoints[0].attributes.isEmpty)
        #expect(metrics[2].gauge.dataPoints[0].attributes.isEmpty)
    }

    @Test func metricsIgnoreSpanOnlyPropertiesAsOtelcolDoes() throws {
        var request = B.metrics([B.gauge("m", points: [[]])])
        try processor("include: {match_type: strict, services: [nobody]}\n", for: .metrics).process(&request)
        #expect(request.resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].attributes[attribute: "touched"] != nil)
    }

    // MARK: - Pipeline behaviour

    @Test func consumeForwardsTheEditedBatchAndLeavesTheCallersCopyAlone() async throws {
        let config = try validProcessorConfig(
            "actions: [{key: secret, action: delete}]\n", factory: AttributesProcessorFactory(), id: "attributes/x",
            as: AttributesProcessorConfig.self)
        let sink = TracesSink()
        let processor = try AttributesProcessor(config: config, next: SignalConsumers(traces: sink, metrics: sink, logs: sink))
        #expect(processor.mutatesData)
        let original = B.traces([B.span("s", attributes: [B.kv("secret", B.str("x")), B.kv("keep", B.int(1))])])
        try await processor.consume(original)
        #expect(sink.receivedTraces.count == 1)
        #expect(sink.receivedTraces[0].allSpans[0].attributes.keys == ["keep"])
        #expect(original.allSpans[0].attributes.keys == ["secret", "keep"])
        try await processor.consume(B.logs([B.log("x", attributes: [B.kv("secret", B.str("x"))])]))
        #expect(sink.receivedLogs[0].resourceLogs[0].scopeLogs[0].logRecords[0].attributes.isEmpty)
        try await processor.consume(B.metrics([B.gauge("m", points: [[B.kv("secret", B.str("x"))]])]))
        #expect(sink.receivedMetrics[0].resourceMetrics[0].scopeMetrics[0].metrics[0].gauge.dataPoints[0].attributes.isEmpty)
    }

    @Test func exposesConsumersOnlyForSignalsItCanForward() throws {
        let config = try validProcessorConfig(
            Self.mark, factory: AttributesProcessorFactory(), id: "attributes/x", as: AttributesProcessorConfig.self)
        let p = try AttributesProcessor(config: config, next: SignalConsumers(traces: TracesSinkForBuild()))
        #expect(p.consumers.traces != nil)
        #expect(p.consumers.metrics == nil)
        #expect(p.consumers.logs == nil)
    }
}
