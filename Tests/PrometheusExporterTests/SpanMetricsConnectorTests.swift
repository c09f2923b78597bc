import CollectorCore
import CollectorService
import CollectorTesting
import Foundation
import Logging
import OTLP
import Testing

@testable import Connectors

@Suite struct SpanMetricsConnectorTests {
    func connector(_ configure: (inout SpanMetricsConfig) -> Void = { _ in }) -> (SpanMetricsConnector, TracesSink) {
        var config = SpanMetricsConfig()
        configure(&config)
        let sink = TracesSink()
        let c = SpanMetricsConnector(
            config: config, next: sink,
            context: ComponentContext(id: ComponentID(type: "spanmetrics"), logger: Logger(label: "t"), clock: ManualClock()))
        return (c, sink)
    }

    func span(_ name: String, ms: UInt64, error: Bool = false, attributes: [(String, String)] = []) -> Span {
        var s = Span()
        s.traceID = Data(repeating: 1, count: 16)
        s.spanID = Data(repeating: 2, count: 8)
        s.name = name
        s.kind = .server
        s.startTimeUnixNano = 1_000_000_000
        s.endTimeUnixNano = 1_000_000_000 + ms * 1_000_000
        if error { s.status.code = .error }
        s.attributes = attributes.map { k, v in
            var kv = KeyValue()
            kv.key = k
            kv.value = .string(v)
            return kv
        }
        return s
    }

    func request(service: String = "api", _ spans: [Span]) -> ExportTraceRequest {
        var rs = ResourceSpans()
        var kv = KeyValue()
        kv.key = "service.name"
        kv.value = .string(service)
        rs.resource.attributes = [kv]
        var ss = ScopeSpans()
        ss.spans = spans
        rs.scopeSpans = [ss]
        var r = ExportTraceRequest()
        r.resourceSpans = [rs]
        return r
    }

    @Test func countsCallsAndDurationsPerServiceOperationKindAndStatus() async throws {
        let (c, _) = connector()
        try await c.consume(request([span("GET /a", ms: 3), span("GET /a", ms: 30), span("GET /a", ms: 5, error: true), span("GET /b", ms: 1)]))
        let m = c.metrics(nowNanos: 5)
        let metrics = m.resourceMetrics[0].scopeMetrics[0].metrics
        #expect(metrics.map(\.name) == ["traces.span.metrics.calls", "traces.span.metrics.duration"])
        #expect(metrics[1].unit == "ms")
        let calls = metrics[0].sum.dataPoints
        #expect(metrics[0].sum.isMonotonic && metrics[0].sum.aggregationTemporality == .cumulative)
        func value(_ name: String, _ status: String) -> Int64? {
            calls.first { p in p.attributes.stringValue("span.name") == name && p.attributes.stringValue("status.code") == status }?.asInt
        }
        #expect(value("GET /a", "STATUS_CODE_UNSET") == 2)
        #expect(value("GET /a", "STATUS_CODE_ERROR") == 1)
        #expect(value("GET /b", "STATUS_CODE_UNSET") == 1)
        #expect(
            calls.allSatisfy { $0.attributes.stringValue("service.name") == "api" && $0.attributes.stringValue("span.kind") == "SPAN_KIND_SERVER" })
        let h = try #require(
            metrics[1].histogram.dataPoints.first {
                $0.attributes.stringValue("span.name") == "GET /a" && $0.attributes.stringValue("status.code") == "STATUS_CODE_UNSET"
            })
        #expect(h.explicitBounds == SpanMetricsConfig.defaultBucketsMs)
        #expect(h.bucketCounts[1] == 1)  // 3 ms in (2, 4]
        #expect(h.bucketCounts[5] == 1)  // 30 ms in (10, 50]
        #expect(h.sum == 33)
    }

    @Test func configuredDimensionsComeFromSpanThenResourceThenDefault() async throws {
        let (c, _) = connector { $0.dimensions = [.init(name: "http.method", defaultValue: "GET"), .init(name: "region", defaultValue: nil)] }
        try await c.consume(request([span("x", ms: 1, attributes: [("http.method", "POST")]), span("x", ms: 1)]))
        let calls = c.metrics().resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints
        #expect(Set(calls.compactMap { $0.attributes.stringValue("http.method") }) == ["POST", "GET"])
        #expect(calls.allSatisfy { $0.attributes.stringValue("region") == nil })
    }

    @Test func dimensionsCacheSizeBoundsSeriesAndCountsOverflow() async throws {
        let (c, _) = connector { $0.dimensionsCacheSize = 2 }
        try await c.consume(request((0..<10).map { span("op\($0)", ms: 1) }))
        let calls = c.metrics().resourceMetrics.flatMap { $0.scopeMetrics[0].metrics[0].sum.dataPoints }
        #expect(calls.count == 3)
        let overflow = try #require(calls.first { $0.attributes.contains { $0.key == "otel.metric.overflow" } })
        #expect(overflow.asInt == 8)
        #expect(c.overflowSpans.value == 8)
    }

    @Test func exemplarsCarryTheSpanTraceID() async throws {
        let (c, _) = connector { $0.exemplars = true }
        try await c.consume(request([span("x", ms: 7)]))
        let h = c.metrics().resourceMetrics[0].scopeMetrics[0].metrics[1].histogram.dataPoints[0]
        #expect(h.exemplars.count == 1)
        #expect(h.exemplars[0].traceID == Data(repeating: 1, count: 16))
        #expect(h.exemplars[0].asDouble == 7)
    }

    @Test func flushSendsCumulativeMetricsDownstream() async throws {
        let (c, sink) = connector()
        try await c.consume(request([span("x", ms: 1)]))
        await c.flush()
        try await c.consume(request([span("x", ms: 1)]))
        await c.flush()
        let last = try #require(sink.receivedMetrics.last)
        #expect(last.resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].asInt == 2)
    }

    @Test func defaultConfigMatchesOtelcol() {
        let (config, problems) = readComponentConfig(SpanMetricsConnectorFactory(), yaml: "")
        #expect(problems.isEmpty)
        let c = config as? SpanMetricsConfig
        #expect(c?.dimensionsCacheSize == 1000)
        #expect(c?.flushInterval == .seconds(15))
        #expect(c?.namespace == "traces.span.metrics")
        let custom =
            readComponentConfig(SpanMetricsConnectorFactory(), yaml: "histogram:\n  explicit:\n    buckets: [100ms, 1s]\n").config
            as? SpanMetricsConfig
        #expect(custom?.buckets == [100, 1000])
        let bad = readComponentConfig(SpanMetricsConnectorFactory(), yaml: "histogram:\n  unit: h\n  explicit:\n    buckets: [1s, soon]\n").problems
        #expect(bad.contains { $0.contains("connectors::spanmetrics::histogram::unit") })
        #expect(bad.contains { $0.contains("connectors::spanmetrics::histogram::explicit::buckets::1") })
    }
}

@Suite struct ConnectorConfigTests {
    static let valid = """
        receivers:
          otlp:
            protocols:
              grpc:
                endpoint: 127.0.0.1:0
        exporters:
          prometheus:
            endpoint: 127.0.0.1:0
          nop:
        connectors:
          spanmetrics:
        service:
          pipelines:
            traces:
              receivers: [otlp]
              exporters: [nop, spanmetrics]
            metrics:
              receivers: [otlp, spanmetrics]
              exporters: [prometheus]
        """

    @Test func connectorEndsOnePipelineAndStartsAnother() throws {
        let config = try CollectorConfig.load(yaml: Self.valid, environment: [:], registry: .builtin)
        #expect(config.connectors.keys.map(\.description) == ["spanmetrics"])
        let collector = try Collector(config: config, logger: Logger(label: "t"))
        #expect(collector.pipelineEntries.count == 2)
    }

    @Test func connectorUsedOnOnlyOneSideIsReported() {
        let yaml = Self.valid.replacingOccurrences(of: "receivers: [otlp, spanmetrics]", with: "receivers: [otlp]")
        #expect(throws: ConfigErrors.self) { try CollectorConfig.load(yaml: yaml, environment: [:], registry: .builtin) }
        do { _ = try CollectorConfig.load(yaml: yaml, environment: [:], registry: .builtin) } catch {
            #expect("\(error)".contains("connectors::spanmetrics: connector is not used as a receiver in any pipeline"))
        }
    }

    @Test func connectorInTheWrongSignalIsReported() {
        let yaml = Self.valid.replacingOccurrences(of: "exporters: [nop, spanmetrics]", with: "exporters: [nop]")
            .replacingOccurrences(of: "exporters: [prometheus]", with: "exporters: [prometheus, spanmetrics]")
        do {
            _ = try CollectorConfig.load(yaml: yaml, environment: [:], registry: .builtin)
            Issue.record("expected errors")
        } catch {
            #expect("\(error)".contains("connector (as exporter) \"spanmetrics\" does not support metrics"))
        }
    }

    @Test func telemetryAddressDefaultsToOtelcolsAndLevelNoneDisablesIt() throws {
        #expect(try CollectorConfig.load(yaml: Self.valid, environment: [:], registry: .builtin).telemetryMetricsAddress == "localhost:8888")
        let off = Self.valid + "\n  telemetry:\n    metrics:\n      level: none\n"
        #expect(try CollectorConfig.load(yaml: off, environment: [:], registry: .builtin).telemetryMetricsAddress == nil)
        let bad = Self.valid + "\n  telemetry:\n    metrics:\n      address: nowhere\n"
        do {
            _ = try CollectorConfig.load(yaml: bad, environment: [:], registry: .builtin)
            Issue.record("expected errors")
        } catch {
            #expect("\(error)".contains("service::telemetry::metrics::address"))
        }
    }
}
