import QueryAPI
import Testing

/// Loki's request parameters (grafana/loki pkg/loghttp/params.go and its tests).
@Suite struct LogQLParametersTests {
    static let now: Int64 = 10_000 * 1_000_000_000

    func range(_ query: String) throws(LogQLError) -> LokiRangeParameters {
        try LokiParameters.range(QueryParameters(query: Substring(query)), nowNanos: Self.now)
    }

    func message(_ query: String) -> String? {
        do {
            _ = try range(query)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func timestampsInLokisFormats() {
        #expect(LokiParameters.timestamp("1571332130") == 1_571_332_130_000_000_000)
        #expect(LokiParameters.timestamp("1571334162051000000") == 1_571_334_162_051_000_000)
        #expect(LokiParameters.timestamp("1571332130.934") == 1_571_332_130_934_000_000)
        #expect(LokiParameters.timestamp("1700000000.5") == 1_700_000_000_500_000_000)
        #expect(LokiParameters.timestamp("2002-10-02T15:00:00Z") == 1_033_570_800_000_000_000)
        #expect(LokiParameters.timestamp("2009-11-10T23:00:00.000000001Z") == 1_257_894_000_000_000_001)
        #expect(LokiParameters.timestamp("we") == nil)
        #expect(LokiParameters.timestamp("1e400.5") == nil)
        #expect(LokiParameters.timestamp("99999999999.5") == nil)
        #expect(LokiParameters.timestamp("9999999999") == nil)  // seconds past Int64 nanoseconds
        #expect(LokiParameters.timestamp("9000000000") == 9_000_000_000_000_000_000)
    }

    @Test func stepsInSecondsOrDurations() {
        #expect(LokiParameters.secondsOrDuration("15") == 15_000_000_000)
        #expect(LokiParameters.secondsOrDuration("0.5") == 500_000_000)
        #expect(LokiParameters.secondsOrDuration("1m30s") == 90_000_000_000)
        #expect(LokiParameters.secondsOrDuration("1d") == 86_400_000_000_000)
        #expect(LokiParameters.secondsOrDuration("1e20") == nil)
        #expect(LokiParameters.secondsOrDuration("fast") == nil)
    }

    @Test func rangeDefaults() throws {
        let p = try range("query=%7Bapp%3D%22a%22%7D")
        #expect(
            p
                == LokiRangeParameters(
                    query: #"{app="a"}"#, startNanos: Self.now - 3_600_000_000_000, endNanos: Self.now,
                    stepNanos: 14_000_000_000, limit: 100, direction: .backward))
        let q = try range("query=x&start=1000&end=2000&step=10s&limit=5&direction=FORWARD")
        #expect(
            q
                == LokiRangeParameters(
                    query: "x", startNanos: 1_000_000_000_000, endNanos: 2_000_000_000_000, stepNanos: 10_000_000_000,
                    limit: 5, direction: .forward))
        // `since` counts back from end, or from now when end is in the future.
        #expect(try range("since=5m&end=9000").startNanos == 9000 * 1_000_000_000 - 300_000_000_000)
        #expect(try range("since=5m&end=20000").startNanos == Self.now - 300_000_000_000)
        #expect(try range("start=1&end=1&step=1").stepNanos == 1_000_000_000)
    }

    @Test func badParametersAreNamed() {
        #expect(message("start=yesterday")?.hasPrefix(#"could not parse 'start' parameter: "yesterday""#) == true)
        #expect(message("end=x")?.hasPrefix("could not parse 'end' parameter") == true)
        #expect(message("since=5minutes") == #"could not parse 'since' parameter: unknown unit "minutes" in duration "5minutes""#)
        #expect(message("start=2000&end=1000") == "end timestamp must not be before or equal to start time")
        #expect(message("step=0") == "zero or negative query resolution step widths are not accepted. Try a positive integer")
        #expect(message("step=-5") == "zero or negative query resolution step widths are not accepted. Try a positive integer")
        #expect(message("step=soon") == #"cannot parse "soon" to a valid duration"#)
        #expect(
            message("start=0&end=11001&step=1")
                == "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter")
        #expect(message("start=0&end=11000&step=1") == nil)
        #expect(message("limit=0") == "limit must be a positive value")
        #expect(message("limit=many") == #"could not parse 'limit' parameter: "many" is not an integer"#)
        #expect(message("limit=10000") == "max entries limit per query exceeded, limit > max_entries_limit_per_query (10000 > 5000)")
        #expect(message("direction=sideways") == "invalid direction 'sideways'")
        #expect(message("interval=10s") == "LogQL feature not supported by otelsink: the 'interval' parameter (sampling log lines)")
        #expect(message("interval=0") == nil)
    }

    @Test func instantParameters() throws {
        let p = try LokiParameters.instant(QueryParameters(query: "query=q&time=1700000000.5"), nowNanos: Self.now)
        #expect(p == LokiInstantParameters(query: "q", timeNanos: 1_700_000_000_500_000_000, limit: 100, direction: .backward))
        #expect(try LokiParameters.instant(QueryParameters(query: "query=q"), nowNanos: Self.now).timeNanos == Self.now)
        #expect(throws: LogQLError.self) { try LokiParameters.instant(QueryParameters(query: "time=noon"), nowNanos: Self.now) }
    }
}
