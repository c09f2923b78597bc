import CollectorTesting
import QueryAPI
import Testing

/// Loki's JSON answers, compared as text. The examples are those of Loki's HTTP API reference
/// (grafana/loki docs/sources/reference/loki-http-api.md, "Query logs within a range of time" and "at a single point
/// in time", "Query labels", "Query streams"); the field order is that of pkg/util/marshal/query.go.
@Suite struct LokiResponseTests {
    func text(_ json: JSON) -> String { String(decoding: json.serialized(), as: UTF8.self) }

    static let emptyStats =
        #""stats":{"summary":{"bytesProcessedPerSecond":0,"linesProcessedPerSecond":0,"totalBytesProcessed":0,"totalLinesProcessed":0,"execTime":0,"queueTime":0,"subqueries":0,"totalEntriesReturned":0,"splits":0,"shards":0,"totalPostFilterLines":0,"totalStructuredMetadataBytesProcessed":0}}"#

    @Test func streamsAsInLokisExample() throws {
        // `{job="varlogs"}`, direction backward: the newest entry first.
        guard case .logs(let selector) = try LogQLParser.parse(#"{job="varlogs"}"#) else { return }
        var c = LokiStreamCollector(selector: selector, startNanos: 0, endNanos: .max, limit: 100, direction: .backward)
        let labels = ["filename": "/var/log/myproject.log", "job": "varlogs", "level": "info"]
        c.add(LogQLEntry(timestampNanos: 1_569_266_492_548_155_000, line: "bar", streamLabels: labels))
        c.add(LogQLEntry(timestampNanos: 1_569_266_497_240_578_000, line: "foo", streamLabels: labels))
        var stats = c.statistics
        stats.execTimeSeconds = 0.5
        #expect(
            text(LokiResponse.streams(c.streams(), statistics: stats))
                == #"{"status":"success","data":{"resultType":"streams","result":[{"stream":{"filename":"/var/log/myproject.log","job":"varlogs","level":"info"},"values":[["1569266497240578000","foo"],["1569266492548155000","bar"]]}],"stats":{"summary":{"bytesProcessedPerSecond":12,"linesProcessedPerSecond":4,"totalBytesProcessed":6,"totalLinesProcessed":2,"execTime":0.5,"queueTime":0,"subqueries":0,"totalEntriesReturned":2,"splits":0,"shards":0,"totalPostFilterLines":2,"totalStructuredMetadataBytesProcessed":0}}}}"#
        )
    }

    @Test func streamsOrderDirectionLimitAndLabels() throws {
        guard case .logs(let selector) = try LogQLParser.parse(#"{app="a"} != "skip""#) else { return }
        let entries = [
            LogQLEntry(timestampNanos: 5, line: "five", streamLabels: ["app": "a", "z": "1"]),
            LogQLEntry(timestampNanos: 1, line: "one", streamLabels: ["app": "a"], structuredMetadata: ["trace_id": "t"]),
            LogQLEntry(timestampNanos: 3, line: "three", streamLabels: ["app": "a"]),
            LogQLEntry(timestampNanos: 4, line: "skip", streamLabels: ["app": "a"]),
            LogQLEntry(timestampNanos: 2, line: "two", streamLabels: ["app": "a"]),
            LogQLEntry(timestampNanos: 9, line: "late", streamLabels: ["app": "a"]),
        ]
        // Forward, limit 3, end 9 exclusive: the three oldest; metadata names its own stream. Streams are sorted by
        // their text as Loki compares it: `{app="a", trace_id="t"}` < `{app="a"}` since "," < "}".
        var forward = LokiStreamCollector(selector: selector, startNanos: 1, endNanos: 9, limit: 3, direction: .forward)
        for e in entries { forward.add(e) }
        #expect(
            forward.streams() == [
                LokiStream(labels: ["app": "a", "trace_id": "t"], entries: [LokiStreamEntry(timestampNanos: 1, line: "one")]),
                LokiStream(
                    labels: ["app": "a"],
                    entries: [LokiStreamEntry(timestampNanos: 2, line: "two"), LokiStreamEntry(timestampNanos: 3, line: "three")]),
            ])
        #expect(forward.statistics.entriesReturned == 3)
        #expect(forward.statistics.linesProcessed == 6)
        #expect(forward.statistics.postFilterLines == 4)
        // Backward, limit 2: the two newest.
        var backward = LokiStreamCollector(selector: selector, startNanos: 0, endNanos: 100, limit: 2, direction: .backward)
        for e in entries { backward.add(e) }
        #expect(
            backward.streams() == [
                LokiStream(labels: ["app": "a", "z": "1"], entries: [LokiStreamEntry(timestampNanos: 5, line: "five")]),
                LokiStream(labels: ["app": "a"], entries: [LokiStreamEntry(timestampNanos: 9, line: "late")]),
            ])
        #expect(backward.cutoffNanos == 5)
        // Many entries: trimming while adding keeps the right ones.
        var many = LokiStreamCollector(selector: selector, startNanos: 0, endNanos: .max, limit: 5, direction: .backward)
        let seed = TestSeed.next()
        var random = SplitMix64(seed: seed)
        for t in (0..<5000).shuffled(using: &random) { many.add(LogQLEntry(timestampNanos: Int64(t), line: "l", streamLabels: ["app": "a"])) }
        #expect(many.streams().first?.entries.map(\.timestampNanos) == [4999, 4998, 4997, 4996, 4995], "seed \(seed)")
    }

    @Test func categorizedLabelsCarryMetadataPerEntry() throws {
        guard case .logs(let selector) = try LogQLParser.parse(#"{app="a"}"#) else { return }
        var c = LokiStreamCollector(selector: selector, startNanos: 0, endNanos: 10, limit: 10, direction: .forward, categorizeLabels: true)
        c.add(LogQLEntry(timestampNanos: 1, line: "one", streamLabels: ["app": "a"]))
        c.add(LogQLEntry(timestampNanos: 2, line: "two", streamLabels: ["app": "a"], structuredMetadata: ["trace_id": "t", "span_id": "s"]))
        #expect(
            text(LokiResponse.streams(c.streams(), statistics: LokiQueryStatistics(), categorizeLabels: true))
                == #"{"status":"success","data":{"resultType":"streams","encodingFlags":["categorize-labels"],"result":[{"stream":{"app":"a"},"values":[["1","one",{}],["2","two",{"structuredMetadata":{"span_id":"s","trace_id":"t"}}]]}],"#
                + Self.emptyStats + "}}")
    }

    @Test func matrixAsInLokisExample() {
        let series = [
            LogQLSeries(
                labels: ["level": "info"],
                points: [
                    LogQLPoint(timestampNanos: 1_588_889_221_000_000_000, value: 137.95),
                    LogQLPoint(timestampNanos: 1_588_889_221_500_999_999, value: 467.115),
                ]),
            LogQLSeries(labels: ["level": "warn"], points: [LogQLPoint(timestampNanos: 1_588_889_221_000_000_000, value: 137.27833333333334)]),
        ]
        #expect(
            text(LokiResponse.matrix(series, statistics: LokiQueryStatistics()))
                == #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"level":"info"},"values":[[1588889221,"137.95"],[1588889221.5,"467.115"]]},{"metric":{"level":"warn"},"values":[[1588889221,"137.27833333333334"]]}],"#
                + Self.emptyStats + "}}")
    }

    @Test func vectorAsInLokisExample() {
        let samples = [
            LogQLSample(labels: [:], timestampNanos: 1_588_889_221_000_000_000, value: 1267.1266666666666),
            LogQLSample(labels: ["level": "warn"], timestampNanos: 1_588_889_221_123_000_000, value: 37.77166666666667),
        ]
        #expect(
            text(LokiResponse.vector(samples, statistics: LokiQueryStatistics()))
                == #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1588889221,"1267.1266666666666"]},{"metric":{"level":"warn"},"value":[1588889221.123,"37.77166666666667"]}],"#
                + Self.emptyStats + "}}")
    }

    @Test func labelsValuesAndSeries() {
        #expect(text(LokiResponse.strings(["foo", "bar", "baz", "bar"])) == #"{"status":"success","data":["bar","baz","foo"]}"#)
        #expect(text(LokiResponse.strings([])) == #"{"status":"success","data":[]}"#)
        #expect(
            text(LokiResponse.series([["container_name": "loki", "app": "loki", "stream": "stderr"], ["app": "prometheus"]]))
                == #"{"status":"success","data":[{"app":"loki","container_name":"loki","stream":"stderr"},{"app":"prometheus"}]}"#)
    }

    static let formats: [(Double, String)] = [
        (1.0, "1"), (0.5, "0.5"), (1e6, "1000000"), (1e-5, "0.00001"), (1.0 / 3, "0.3333333333333333"), (2.0 / 30, "0.06666666666666667"),
        (1e21, "1000000000000000000000"), (1.5e20, "150000000000000000000"), (123456789.125, "123456789.125"), (-2.5, "-2.5"),
        (0, "0"), (-0.0, "-0"), (100, "100"), (0.001, "0.001"), (Double.leastNonzeroMagnitude, "0." + String(repeating: "0", count: 323) + "5"),
        (Double.nan, "NaN"), (Double.infinity, "+Inf"), (-Double.infinity, "-Inf"),
    ]

    @Test(arguments: formats)
    func valuesAreFormattedAsGoFormatFloatF(value: Double, expected: String) {
        #expect(PrometheusNumberText.value(value) == expected)
    }

    @Test func stepTimesAreMillisecondsAsSeconds() {
        #expect(text(PrometheusNumberText.seconds(fromNanos: 1_700_000_000_000_000_000)) == "1700000000")
        #expect(text(PrometheusNumberText.seconds(fromNanos: 1_700_000_000_500_000_000)) == "1700000000.5")
        #expect(text(PrometheusNumberText.seconds(fromNanos: 1_700_000_000_123_999_999)) == "1700000000.123")
        #expect(text(PrometheusNumberText.seconds(fromNanos: 1_000_000)) == "0.001")
    }
}
