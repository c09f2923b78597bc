import CollectorCore
import CollectorTesting
import Logging
import OTLP
import Testing

@testable import PrometheusExporter

/// The store holds series by label set and then by family, and the wire path reuses the label set of the point at
/// the same position in the metric before: what must not leak from one family or metric into another.
@Suite struct SeriesByLabelSetTests {
    let clock = ManualClock()

    func exporter(expiration: Duration = .seconds(300)) -> PrometheusExporter {
        var config = PrometheusExporterConfig()
        config.metricExpiration = expiration
        return PrometheusExporter(
            config: config, context: ComponentContext(id: ComponentID(type: "prometheus"), logger: Logger(label: "test"), clock: clock))
    }

    /// Fed in wire form, as the OTLP receivers feed it.
    func consume(_ e: PrometheusExporter, _ metrics: [OTLPMetric]) async throws {
        try await e.consume(try #require(EncodedMetrics(indexing: try Metrics.request(metrics).serializedBytes())))
    }

    func samples(_ e: PrometheusExporter) -> Set<String> {
        Set(String(decoding: e.render(format: .text), as: UTF8.self).split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") })
    }

    /// The label set of a point with attribute `key`=`value` (a key sorting between `job` and `otel_scope_name`).
    static func labels(_ key: String, _ value: String) -> String {
        #"job="checkout",\#(key)="\#(value)",otel_scope_name="demo",otel_scope_version="1.0""#
    }

    @Test func familiesSharingALabelSetKeepTheirOwnSeries() async throws {
        let e = exporter()
        let a = [("k", "a")]
        let b = [("k", "b")]
        try await consume(
            e,
            [
                Metrics.gauge("temp", [Metrics.point(1, a), Metrics.point(2, b)]),
                Metrics.sum("hits", [Metrics.point(10, a), Metrics.point(20, b)]),
            ])
        #expect(e.seriesCount == 4)
        // One family's series changes or goes; the other family's series of the same label set stays as it was.
        try await consume(
            e,
            [
                Metrics.sum("hits", [Metrics.point(11, a, time: 3)]),
                Metrics.gauge("temp", [Metrics.point(0, b, time: 3, flags: 1)]),
            ])
        #expect(e.seriesCount == 3)
        #expect(
            samples(e) == [
                #"temp{\#(Self.labels("k", "a"))} 1"#, #"hits_total{\#(Self.labels("k", "a"))} 11"#, #"hits_total{\#(Self.labels("k", "b"))} 20"#,
            ])
    }

    @Test func aFamilyGoneWithItsLastSeriesFreesItsNameForAnotherType() async throws {
        let e = exporter(expiration: .seconds(300))
        try await consume(e, [Metrics.gauge("old", [Metrics.point(1, [("k", "a")])])])
        clock.advance(by: .seconds(200))
        try await consume(e, [Metrics.gauge("fresh", [Metrics.point(5, [("k", "a")])])])
        clock.advance(by: .seconds(150))
        #expect(samples(e) == [#"fresh{\#(Self.labels("k", "a"))} 5"#])
        // `old` left with its last series: its name (and its place) go to a histogram now, whose samples render.
        try await consume(e, [Metrics.histogram("old", bounds: [1], counts: [1, 1], sum: 3, labels: [("k", "a")])])
        #expect(e.seriesCount == 2)
        let out = samples(e)
        #expect(out.contains(#"old_bucket{\#(Self.labels("k", "a")),le="1"} 1"#))
        #expect(out.contains(#"old_count{\#(Self.labels("k", "a"))} 2"#))
        #expect(out.contains(#"fresh{\#(Self.labels("k", "a"))} 5"#))
        #expect(e.conflicts.value == 0)
    }

    @Test func aPointGetsItsOwnLabelsWhateverTheMetricBeforeHad() async throws {
        let e = exporter()
        try await consume(
            e,
            [
                Metrics.gauge("first", [Metrics.point(1, [("k", "a")]), Metrics.point(2, [("k", "b")])]),
                // Same first point, different second one, then one more than before.
                Metrics.gauge("second", [Metrics.point(3, [("k", "a")]), Metrics.point(4, [("k", "c")]), Metrics.point(5, [("k", "d")])]),
                // A gauge may have an attribute `le`; a histogram with the same attributes may not.
                Metrics.gauge("bounds", [Metrics.point(6, [("le", "1")])]),
                Metrics.histogram("latency", bounds: [1], counts: [1, 0], sum: 1, labels: [("le", "1")]),
                Metrics.gauge("bounds_again", [Metrics.point(7, [("le", "1")])]),
            ])
        #expect(
            samples(e) == [
                #"first{\#(Self.labels("k", "a"))} 1"#, #"first{\#(Self.labels("k", "b"))} 2"#,
                #"second{\#(Self.labels("k", "a"))} 3"#, #"second{\#(Self.labels("k", "c"))} 4"#, #"second{\#(Self.labels("k", "d"))} 5"#,
                #"bounds{\#(Self.labels("le", "1"))} 6"#, #"bounds_again{\#(Self.labels("le", "1"))} 7"#,
            ])
        #expect(e.conflicts.value == 1)
    }

    @Test func manyLabelSetsExpireAndGoOneByOneWhileScrapesShareTheTables() async throws {
        let e = exporter(expiration: .seconds(300))
        let all = (0..<1_000).map { [("k", "v\($0)")] }
        try await consume(e, [Metrics.gauge("g", all.map { Metrics.point(1, $0) }), Metrics.sum("c", all.map { Metrics.point(1, $0) })])
        #expect(e.seriesCount == 2_000)
        _ = samples(e)  // a scrape: the next writes find their tables shared
        clock.advance(by: .seconds(200))
        // Every other label set is written again; of those, every fourth gauge series ends.
        let even = all.indices.filter { $0 % 2 == 0 }
        try await consume(
            e,
            [
                Metrics.gauge("g", even.map { Metrics.point(2, all[$0], time: 3, flags: $0 % 4 == 0 ? 1 : 0) }),
                Metrics.sum("c", even.map { Metrics.point(2, all[$0], time: 3) }),
            ])
        #expect(e.seriesCount == 2_000 - 250)
        clock.advance(by: .seconds(150))
        let out = samples(e)
        #expect(e.seriesCount == 750)
        #expect(out.count == 750)
        #expect(out.contains(#"g{\#(Self.labels("k", "v2"))} 2"#))
        #expect(!out.contains { $0.hasPrefix(#"g{\#(Self.labels("k", "v4"))}"#) })
        #expect(out.contains(#"c_total{\#(Self.labels("k", "v4"))} 2"#))
        #expect(!out.contains { $0.contains(#"k="v1""#) })
    }
}
