import QueryAPI
import Testing

/// Metric queries over a hand-computed fixture. Windows are (t - range, t] as in Loki's
/// batchRangeVectorIterator (pkg/logql/range_vector.go); empty windows give no point.
@Suite struct LogQLMetricEvaluationTests {
    static let s: Int64 = 1_000_000_000

    /// Three streams: info (10s "a", 20s "bb", 60s "dddd"), error (30s "ccc", 61s "e"), info on host b (45s "ff");
    /// and an entry of another app, which no query selects.
    static let entries: [LogQLEntry] = [
        LogQLEntry(timestampNanos: 60 * s, line: "dddd", streamLabels: ["app": "api", "level": "info"]),
        LogQLEntry(timestampNanos: 30 * s, line: "ccc", streamLabels: ["app": "api", "level": "error"]),
        LogQLEntry(timestampNanos: 10 * s, line: "a", streamLabels: ["app": "api", "level": "info"]),
        LogQLEntry(timestampNanos: 45 * s, line: "ff", streamLabels: ["app": "api", "level": "info", "host": "b"]),
        LogQLEntry(timestampNanos: 61 * s, line: "e", streamLabels: ["app": "api", "level": "error"]),
        LogQLEntry(timestampNanos: 20 * s, line: "bb", streamLabels: ["app": "api", "level": "info"]),
        LogQLEntry(timestampNanos: 40 * s, line: "zzzz", streamLabels: ["app": "web", "level": "info"]),
    ]

    func metric(_ query: String) throws -> LogQLMetricQuery {
        guard case .metric(let m) = try LogQLParser.parse(query) else { throw LogQLError(.parse, "not a metric query: \(query)") }
        return m
    }

    /// Evaluated at 30s, 60s and 90s.
    func evaluate(_ query: String, entries: [LogQLEntry] = entries, maxSeries: Int = 500) throws -> [LogQLSeries] {
        var e = try LogQLMetricEvaluator(
            query: try metric(query), startNanos: 30 * Self.s, endNanos: 90 * Self.s, stepNanos: 30 * Self.s,
            maxSeries: maxSeries)
        for entry in entries { try e.add(entry) }
        return e.matrix()
    }

    func points(_ pairs: (Int64, Double)...) -> [LogQLPoint] {
        pairs.map { LogQLPoint(timestampNanos: $0.0 * Self.s, value: $0.1) }
    }

    @Test func countOverTimePerStream() throws {
        #expect(
            try evaluate(#"count_over_time({app="api"}[30s])"#) == [
                LogQLSeries(labels: ["app": "api", "host": "b", "level": "info"], points: points((60, 1))),
                LogQLSeries(labels: ["app": "api", "level": "error"], points: points((30, 1), (90, 1))),
                LogQLSeries(labels: ["app": "api", "level": "info"], points: points((30, 2), (60, 1))),
            ])
    }

    @Test func rateDividesByTheRangeInSeconds() throws {
        #expect(
            try evaluate(#"rate({app="api", level="info", host=""}[30s])"#) == [
                LogQLSeries(labels: ["app": "api", "level": "info"], points: points((30, 2.0 / 30), (60, 1.0 / 30)))
            ])
        #expect(
            try evaluate(#"sum(rate({app="api"}[1m]))"#) == [
                LogQLSeries(labels: [:], points: points((30, 3.0 / 60), (60, 5.0 / 60), (90, 3.0 / 60)))
            ])
    }

    @Test func bytesOverTimeSumsLineBytes() throws {
        #expect(
            try evaluate(#"bytes_over_time({app="api"}[30s])"#) == [
                LogQLSeries(labels: ["app": "api", "host": "b", "level": "info"], points: points((60, 2))),
                LogQLSeries(labels: ["app": "api", "level": "error"], points: points((30, 3), (90, 1))),
                LogQLSeries(labels: ["app": "api", "level": "info"], points: points((30, 3), (60, 4))),
            ])
        // UTF-8 bytes, not characters; an empty line counts as a sample of 0 bytes.
        let unicode = [
            LogQLEntry(timestampNanos: 30 * Self.s, line: "é😀", streamLabels: ["app": "api"]),
            LogQLEntry(timestampNanos: 60 * Self.s, line: "", streamLabels: ["app": "api"]),
        ]
        #expect(
            try evaluate(#"bytes_over_time({app="api"}[30s])"#, entries: unicode) == [
                LogQLSeries(labels: ["app": "api"], points: points((30, 6), (60, 0)))
            ])
    }

    @Test func sumGroupsByTheNamedLabels() throws {
        #expect(
            try evaluate(#"sum by (level) (count_over_time({app="api"}[30s]))"#) == [
                LogQLSeries(labels: ["level": "error"], points: points((30, 1), (90, 1))),
                LogQLSeries(labels: ["level": "info"], points: points((30, 2), (60, 2))),
            ])
        #expect(
            try evaluate(#"sum(count_over_time({app="api"}[30s])) by (host)"#) == [
                LogQLSeries(labels: [:], points: points((30, 3), (60, 1), (90, 1))),
                LogQLSeries(labels: ["host": "b"], points: points((60, 1))),
            ])
        #expect(
            try evaluate(#"sum(count_over_time({app="api"}[30s]))"#) == [
                LogQLSeries(labels: [:], points: points((30, 3), (60, 2), (90, 1)))
            ])
        #expect(
            try evaluate(#"sum by (level) (count_over_time({app="api"} |= "d" or "e" [30s]))"#) == [
                LogQLSeries(labels: ["level": "error"], points: points((90, 1))),
                LogQLSeries(labels: ["level": "info"], points: points((60, 1))),
            ])
    }

    @Test func windowsExcludeTheStartAndIncludeTheEnd() throws {
        // At 60s with [30s]: 30s is out, 60s is in; at 90s at 60s - 1ns, 60s is out.
        let at60 = try LogQLMetricEvaluator(query: try metric(#"sum(count_over_time({app="api"}[30s]))"#), timeNanos: 60 * Self.s)
        var e = at60
        for entry in Self.entries { try e.add(entry) }
        #expect(e.vector() == [LogQLSample(labels: [:], timestampNanos: 60 * Self.s, value: 2)])
        var edge = try LogQLMetricEvaluator(
            query: try metric(#"count_over_time({app="api", level="info", host=""}[30s])"#),
            timeNanos: 60 * Self.s - 1)
        for entry in Self.entries { try edge.add(entry) }
        // (30s - 1ns, 60s - 1ns]: neither 10s, 20s nor 60s.
        #expect(edge.vector() == [])
        #expect(edge.entryTimeRange == 30 * Self.s...(60 * Self.s - 1))
    }

    @Test func entriesOutsideEveryWindowMakeNoSeries() throws {
        // Step 30s, range 10s: windows (20,30], (50,60], (80,90]; 10s, 20s, 45s and 61s fall between them, and
        // host b's stream has no point at all.
        #expect(
            try evaluate(#"count_over_time({app="api"}[10s])"#) == [
                LogQLSeries(labels: ["app": "api", "level": "error"], points: points((30, 1))),
                LogQLSeries(labels: ["app": "api", "level": "info"], points: points((60, 1))),
            ])
    }

    @Test func withoutSumStructuredMetadataNamesTheSeries() throws {
        let entries = [
            LogQLEntry(timestampNanos: 30 * Self.s, line: "x", streamLabels: ["app": "api"], structuredMetadata: ["trace_id": "t1"]),
            LogQLEntry(timestampNanos: 30 * Self.s, line: "y", streamLabels: ["app": "api"], structuredMetadata: ["trace_id": "t2"]),
        ]
        #expect(
            try evaluate(#"count_over_time({app="api"}[30s])"#, entries: entries) == [
                LogQLSeries(labels: ["app": "api", "trace_id": "t1"], points: points((30, 1))),
                LogQLSeries(labels: ["app": "api", "trace_id": "t2"], points: points((30, 1))),
            ])
        #expect(
            try evaluate(#"sum by (app) (count_over_time({app="api"} | trace_id="t2" [30s]))"#, entries: entries) == [
                LogQLSeries(labels: ["app": "api"], points: points((30, 1)))
            ])
    }

    @Test func limits() throws {
        let q = try metric(#"count_over_time({app="api"}[1m])"#)
        _ = try LogQLMetricEvaluator(query: q, startNanos: 0, endNanos: 11_000 * Self.s, stepNanos: Self.s)
        #expect(throws: LogQLError.tooManyPoints) {
            _ = try LogQLMetricEvaluator(query: q, startNanos: 0, endNanos: 11_001 * Self.s, stepNanos: Self.s)
        }
        #expect(
            LogQLError.tooManyPoints.description
                == "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter")
        #expect(throws: LogQLError.self) { _ = try LogQLMetricEvaluator(query: q, startNanos: 0, endNanos: Self.s, stepNanos: 0) }
        #expect(throws: LogQLError.self) { _ = try LogQLMetricEvaluator(query: q, startNanos: Self.s, endNanos: 0, stepNanos: 1) }
        #expect(throws: LogQLError.tooManySeries(2)) { _ = try evaluate(#"count_over_time({app="api"}[30s])"#, maxSeries: 2) }
        #expect(try evaluate(#"sum by (level) (count_over_time({app="api"}[30s]))"#, maxSeries: 2).count == 2)
        // Extreme timestamps and ranges do not trap.
        let far = [
            LogQLEntry(timestampNanos: .max, line: "x", streamLabels: ["app": "api"]),
            LogQLEntry(timestampNanos: .min, line: "x", streamLabels: ["app": "api"]),
        ]
        var e = try LogQLMetricEvaluator(
            query: try metric(#"count_over_time({app="api"}[292y])"#), startNanos: .min, endNanos: .max,
            stepNanos: .max)
        for entry in far { try e.add(entry) }
        #expect(e.matrix().count == 1)
    }

    @Test func statisticsCountCandidatesAndMatches() throws {
        var e = try LogQLMetricEvaluator(query: try metric(#"count_over_time({app="api"}[30s])"#), timeNanos: 30 * Self.s)
        for entry in Self.entries { try e.add(entry) }
        #expect(e.statistics.linesProcessed == 7)
        #expect(e.statistics.bytesProcessed == 17)
        #expect(e.statistics.postFilterLines == 6)
    }
}
