import CollectorCore
import CollectorTesting
import Foundation
import GzipCompression
import Logging
import OTLP
import Testing

@testable import PrometheusExporter

@Suite struct PrometheusExporterTests {
    let clock = ManualClock()

    func exporter(_ configure: (inout PrometheusExporterConfig) -> Void = { _ in }) -> PrometheusExporter {
        var config = PrometheusExporterConfig()
        configure(&config)
        return PrometheusExporter(
            config: config, context: ComponentContext(id: ComponentID(type: "prometheus"), logger: Logger(label: "test"), clock: clock))
    }

    func text(_ e: PrometheusExporter, _ format: ExpositionFormat = .text) -> String {
        String(decoding: e.render(format: format), as: UTF8.self)
    }

    /// Sample lines (not comments).
    func samples(_ e: PrometheusExporter, _ format: ExpositionFormat = .text) -> [String] {
        text(e, format).split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
    }

    @Test func gaugeIsExposedWithJobInstanceAndScopeLabels() async throws {
        let e = exporter()
        try await e.consume(
            Metrics.request(
                resource: [("service.name", "checkout"), ("service.namespace", "shop"), ("service.instance.id", "i-1")],
                [Metrics.gauge("queue.depth", unit: "{items}", description: "Items queued.", [Metrics.point(3, [("queue.name", "a")])])]))
        let out = text(e)
        #expect(out.contains("# HELP queue_depth Items queued.\n# TYPE queue_depth gauge\n"))
        #expect(out.contains(#"queue_depth{instance="i-1",job="shop/checkout",otel_scope_name="demo",otel_scope_version="1.0",queue_name="a"} 3"#))
    }

    @Test func monotonicSumIsACounterWithTotalAndUnitSuffix() async throws {
        let e = exporter()
        try await e.consume(Metrics.request([Metrics.sum("http.server.requests", unit: "1", [Metrics.point(7)])]))
        #expect(text(e).contains("# TYPE http_server_requests_total counter"))
        #expect(samples(e).contains { $0.hasPrefix("http_server_requests_total{") && $0.hasSuffix(" 7") })
    }

    @Test func nonMonotonicCumulativeSumIsAGauge() async throws {
        let e = exporter()
        try await e.consume(Metrics.request([Metrics.sum("process.threads", monotonic: false, [Metrics.point(12)])]))
        #expect(text(e).contains("# TYPE process_threads gauge"))
    }

    @Test func deltaMonotonicSumsAccumulateIntoACumulativeCounter() async throws {
        let e = exporter()
        try await e.consume(Metrics.request([Metrics.sum("jobs", temporality: .delta, [Metrics.point(2, start: 10, time: 20)])]))
        try await e.consume(Metrics.request([Metrics.sum("jobs", temporality: .delta, [Metrics.point(3, start: 20, time: 30)])]))
        #expect(samples(e).contains { $0.hasPrefix("jobs_total{") && $0.hasSuffix(" 5") })
    }

    @Test func aCumulativePointOlderThanTheStoredOneIsIgnored() async throws {
        let e = exporter()
        try await e.consume(Metrics.request([Metrics.sum("jobs", [Metrics.point(9, start: 10, time: 30)])]))
        try await e.consume(Metrics.request([Metrics.sum("jobs", [Metrics.point(4, start: 10, time: 20)])]))
        #expect(samples(e).contains { $0.hasPrefix("jobs_total{") && $0.hasSuffix(" 9") })
        try await e.consume(Metrics.request([Metrics.sum("jobs", [Metrics.point(11, start: 10, time: 30)])]))
        #expect(samples(e).contains { $0.hasPrefix("jobs_total{") && $0.hasSuffix(" 11") }, "a point of the same time replaces it")
    }

    @Test func deltaNonMonotonicAndUnspecifiedSumsAreDroppedAndCounted() async throws {
        let e = exporter()
        try await e.consume(
            Metrics.request([
                Metrics.sum("delta.updown", monotonic: false, temporality: .delta, [Metrics.point(1)]),
                Metrics.sum("unspecified", temporality: .unspecified, [Metrics.point(1)]),
            ]))
        #expect(samples(e).isEmpty)
        #expect(e.unsupported.value == 2)
    }

    @Test func histogramHasCumulativeBucketsInfSumAndCount() async throws {
        let e = exporter()
        try await e.consume(
            Metrics.request([Metrics.histogram("http.server.duration", unit: "s", bounds: [0.1, 0.5], counts: [1, 2, 3], sum: 4.2)]))
        let lines = samples(e)
        #expect(lines.contains { $0.contains(#"http_server_duration_seconds_bucket{"#) && $0.contains(#"le="0.1"} 1"#) })
        #expect(lines.contains { $0.contains(#"le="0.5"} 3"#) })
        #expect(lines.contains { $0.contains(#"le="+Inf"} 6"#) })
        #expect(lines.contains { $0.hasPrefix("http_server_duration_seconds_sum{") && $0.hasSuffix(" 4.2") })
        #expect(lines.contains { $0.hasPrefix("http_server_duration_seconds_count{") && $0.hasSuffix(" 6") })
    }

    @Test func deltaHistogramsWithAlignedStartsAccumulate() async throws {
        let e = exporter()
        try await e.consume(
            Metrics.request([Metrics.histogram("lat", temporality: .delta, bounds: [1], counts: [1, 1], sum: 3, start: 10, time: 20)]))
        try await e.consume(
            Metrics.request([Metrics.histogram("lat", temporality: .delta, bounds: [1], counts: [2, 0], sum: 1, start: 20, time: 30)]))
        let lines = samples(e)
        #expect(lines.contains { $0.contains(#"le="1"} 3"#) })
        #expect(lines.contains { $0.contains(#"le="+Inf"} 4"#) })
        #expect(lines.contains { $0.hasPrefix("lat_sum") && $0.hasSuffix(" 4") })
    }

    @Test func summaryHasQuantilesSumAndCount() async throws {
        var m = OTLPMetric()
        m.name = "rpc.latency"
        m.unit = "ms"
        var p = Opentelemetry_Proto_Metrics_V1_SummaryDataPoint()
        p.count = 10
        p.sum = 55
        var q = Opentelemetry_Proto_Metrics_V1_SummaryDataPoint.ValueAtQuantile()
        q.quantile = 0.5
        q.value = 4
        p.quantileValues = [q]
        var s = Opentelemetry_Proto_Metrics_V1_Summary()
        s.dataPoints = [p]
        m.summary = s
        let e = exporter()
        try await e.consume(Metrics.request([m]))
        let lines = samples(e)
        #expect(text(e).contains("# TYPE rpc_latency_milliseconds summary"))
        #expect(lines.contains { $0.contains(#"quantile="0.5"} 4"#) })
        #expect(lines.contains { $0.hasPrefix("rpc_latency_milliseconds_count") && $0.hasSuffix(" 10") })
    }

    @Test func exponentialHistogramBecomesExplicitBuckets() async throws {
        var p = Opentelemetry_Proto_Metrics_V1_ExponentialHistogramDataPoint()
        p.scale = 0  // base 2
        p.zeroCount = 1
        p.positive.offset = 0  // buckets (1,2], (2,4]
        p.positive.bucketCounts = [2, 3]
        p.count = 6
        p.sum = 12
        var h = Opentelemetry_Proto_Metrics_V1_ExponentialHistogram()
        h.aggregationTemporality = .cumulative
        h.dataPoints = [p]
        var m = OTLPMetric()
        m.name = "size"
        m.exponentialHistogram = h
        let e = exporter()
        try await e.consume(Metrics.request([m]))
        let lines = samples(e)
        #expect(lines.contains { $0.contains(#"le="0"} 1"#) })
        #expect(lines.contains { $0.contains(#"le="2"} 3"#) })
        #expect(lines.contains { $0.contains(#"le="4"} 6"#) })
        #expect(lines.contains { $0.contains(#"le="+Inf"} 6"#) })
    }

    @Test func conflictingTypeUnderOneNameIsDroppedAndCountedNeverEmittedTwice() async throws {
        let e = exporter()
        try await e.consume(Metrics.request([Metrics.gauge("thing", [Metrics.point(1)])]))
        // Also a gauge: same family, fine.
        try await e.consume(Metrics.request([Metrics.sum("thing", monotonic: false, temporality: .cumulative, [Metrics.point(2, [("a", "b")])])]))
        try await e.consume(Metrics.request([Metrics.histogram("thing", bounds: [1], counts: [1, 0], sum: 1)]))  // conflicts
        let out = text(e)
        #expect(out.components(separatedBy: "# TYPE thing ").count == 2)
        #expect(e.conflicts.value == 1)
        // A gauge named like a histogram's _count sample collides too.
        try await e.consume(Metrics.request([Metrics.histogram("req", bounds: [1], counts: [1, 0], sum: 1)]))
        try await e.consume(Metrics.request([Metrics.gauge("req_count", [Metrics.point(9)])]))
        #expect(!samples(e).contains { $0.hasPrefix("req_count{") && $0.hasSuffix(" 9") })
        #expect(e.conflicts.value == 2)
    }

    @Test func seriesNotUpdatedWithinExpirationDisappear() async throws {
        let e = exporter { $0.metricExpiration = .seconds(300) }
        try await e.consume(Metrics.request([Metrics.gauge("old", [Metrics.point(1)])]))
        clock.advance(by: .seconds(200))
        try await e.consume(Metrics.request([Metrics.gauge("fresh", [Metrics.point(1)])]))
        clock.advance(by: .seconds(150))
        let out = text(e)
        #expect(!out.contains("old"))
        #expect(out.contains("fresh"))
        // The expired family's name is free again.
        try await e.consume(Metrics.request([Metrics.sum("old", monotonic: false, [Metrics.point(2)])]))
        #expect(text(e).contains("old 2") || samples(e).contains { $0.hasPrefix("old{") })
    }

    @Test func maxSeriesBoundsTheStoreAndCountsWhatItDrops() async throws {
        let e = exporter {
            $0.maxSeries = 2
            $0.metricExpiration = .seconds(60)
        }
        try await e.consume(
            Metrics.request([Metrics.gauge("g", [Metrics.point(1, [("k", "a")]), Metrics.point(2, [("k", "b")]), Metrics.point(3, [("k", "c")])])]))
        #expect(samples(e).count == 2)
        #expect(e.overLimit.value == 1)
        // Existing series keep updating at the limit.
        try await e.consume(Metrics.request([Metrics.gauge("g", [Metrics.point(9, [("k", "a")], time: 3)])]))
        #expect(samples(e).contains { $0.contains(#"k="a""#) && $0.hasSuffix(" 9") })
        // Once series expire there is room again.
        clock.advance(by: .seconds(61))
        _ = text(e)
        try await e.consume(Metrics.request([Metrics.gauge("g", [Metrics.point(3, [("k", "c")])])]))
        #expect(samples(e).count == 1)
        #expect(e.seriesCount == 1)
    }

    @Test func noRecordedValueFlagRemovesTheSeries() async throws {
        let e = exporter()
        try await e.consume(Metrics.request([Metrics.gauge("g", [Metrics.point(1, time: 2)])]))
        try await e.consume(Metrics.request([Metrics.gauge("g", [Metrics.point(0, time: 3, flags: 1)])]))
        #expect(samples(e).isEmpty)
    }

    @Test func otherResourceAttributesGoOnTargetInfo() async throws {
        let e = exporter()
        try await e.consume(
            Metrics.request(
                resource: [("service.name", "api"), ("host.name", "h1"), ("k8s.pod.name", "p")],
                [Metrics.gauge("g", [Metrics.point(1)])]))
        let lines = samples(e)
        #expect(lines.contains(#"target_info{host_name="h1",job="api",k8s_pod_name="p"} 1"#))
        #expect(lines.contains { $0.hasPrefix("g{") && !$0.contains("host_name") })
    }

    @Test func resourceToTelemetryConversionCopiesResourceAttributes() async throws {
        let e = exporter {
            $0.resourceToTelemetry = true
            $0.namespace = "app"
            $0.constLabels = ["env": "prod"]
        }
        try await e.consume(Metrics.request(resource: [("service.name", "api"), ("host.name", "h1")], [Metrics.gauge("g", [Metrics.point(1)])]))
        #expect(samples(e).contains { $0.hasPrefix("app_g{") && $0.contains(#"host_name="h1""#) && $0.contains(#"env="prod""#) })
    }

    @Test func openMetricsCarriesExemplarsOnCountersAndBuckets() async throws {
        let e = exporter { $0.enableOpenMetrics = true }
        let trace = Data(repeating: 0xab, count: 16)
        let span = Data(repeating: 0xcd, count: 8)
        try await e.consume(
            Metrics.request([
                Metrics.histogram(
                    "lat", unit: "s", bounds: [0.1, 1], counts: [0, 1, 0], sum: 0.5,
                    exemplar: (0.5, trace, span))
            ]))
        let om = text(e, .openMetrics)
        #expect(om.hasSuffix("# EOF\n"))
        #expect(om.contains(#"le="1"} 1 # {trace_id="abababababababababababababababab",span_id="cdcdcdcdcdcdcdcd"} 0.5 1700000000"#))
        // Exemplars never appear in the 0.0.4 text format.
        #expect(!text(e).contains("trace_id"))
    }

    @Test func openMetricsNamesCounterFamiliesWithoutTotal() async throws {
        let e = exporter { $0.enableOpenMetrics = true }
        try await e.consume(Metrics.request([Metrics.sum("jobs", [Metrics.point(4)])]))
        let om = text(e, .openMetrics)
        #expect(om.contains("# TYPE jobs counter\n"))
        #expect(om.contains("jobs_total{"))
    }

    @Test func acceptHeaderSelectsTheFormat() {
        #expect(
            ExpositionFormat.negotiate(accept: "application/openmetrics-text;version=1.0.0,text/plain;q=0.5", allowOpenMetrics: true) == .openMetrics)
        #expect(ExpositionFormat.negotiate(accept: "application/openmetrics-text;version=1.0.0", allowOpenMetrics: false) == .text)
        #expect(ExpositionFormat.negotiate(accept: nil, allowOpenMetrics: true) == .text)
    }

    @Test func gzipRoundTripsThroughZlib() throws {
        let body = Array(String(repeating: "metric_a 1\n", count: 1000).utf8)
        let compressed = try #require(Gzip.compress(body))
        #expect(compressed.count < body.count / 10)
        #expect(compressed.prefix(2) == [0x1f, 0x8b])
    }

    @Test func configDefaultsAndErrors() {
        let (config, problems) = readComponentConfig(PrometheusExporterFactory(), yaml: "")
        #expect(problems.isEmpty)
        let c = config as? PrometheusExporterConfig
        #expect(c?.endpoint == "localhost:8889")
        #expect(c?.metricExpiration == .seconds(300))
        #expect(c?.enableOpenMetrics == false)
        let bad = readComponentConfig(PrometheusExporterFactory(), yaml: "endpoint: nowhere\nnamespace: 9x\nmetric_expiration: soon\nbogus: 1\n")
            .problems
        #expect(bad.contains { $0.contains("exporters::prometheus::endpoint") })
        #expect(bad.contains { $0.contains("exporters::prometheus::namespace") })
        #expect(bad.contains { $0.contains("exporters::prometheus::metric_expiration") })
        #expect(bad.contains { $0.contains("exporters::prometheus::bogus: unknown key") })
        // A listen address is an IP literal or localhost, as for the receivers: a name is reported at validation.
        let named = readComponentConfig(PrometheusExporterFactory(), yaml: "endpoint: metrics.example.com:8889\n").problems
        #expect(
            named == [
                #"exporters::prometheus::endpoint: expected host:port with an IP address or localhost (e.g. "localhost:8889"), got "metrics.example.com:8889""#
            ])
        #expect(readComponentConfig(PrometheusExporterFactory(), yaml: "endpoint: \"[::1]:0\"\n").problems.isEmpty)
    }
}
