/// The parameters of `/loki/api/v1/query_range`.
public struct LokiRangeParameters: Sendable, Equatable {
    public var query: String
    public var startNanos: Int64
    public var endNanos: Int64
    /// Positive; at most 11,000 steps between start and end.
    public var stepNanos: Int64
    public var limit: Int
    public var direction: LokiDirection

    public init(query: String, startNanos: Int64, endNanos: Int64, stepNanos: Int64, limit: Int, direction: LokiDirection) {
        self.query = query
        self.startNanos = startNanos
        self.endNanos = endNanos
        self.stepNanos = stepNanos
        self.limit = limit
        self.direction = direction
    }
}

/// The parameters of `/loki/api/v1/query`.
public struct LokiInstantParameters: Sendable, Equatable {
    public var query: String
    public var timeNanos: Int64
    public var limit: Int
    public var direction: LokiDirection

    public init(query: String, timeNanos: Int64, limit: Int, direction: LokiDirection) {
        self.query = query
        self.timeNanos = timeNanos
        self.limit = limit
        self.direction = direction
    }
}

/// Loki's request parameters (pkg/loghttp/params.go), with its defaults and, where it has them, its messages.
public enum LokiParameters {
    /// Loki's `limit` default.
    public static let defaultLimit = 100
    /// Loki's default `max_entries_limit_per_query`.
    public static let defaultMaxLimit = 5000
    /// Loki's default for `since`: start is an hour before end.
    public static let defaultSinceNanos: Int64 = 3_600_000_000_000

    /// `query`, `start`, `end`, `since`, `step` (default: the range / 250, at least 1s), `limit`, `direction`.
    /// `interval` (sampling of log lines) is not supported and rejected unless 0.
    public static func range(_ p: QueryParameters, nowNanos: Int64, maxLimit: Int = defaultMaxLimit) throws(LogQLError) -> LokiRangeParameters {
        let (start, end) = try bounds(p, nowNanos: nowNanos)
        guard end >= start else { throw LogQLError(.parameter, "end timestamp must not be before or equal to start time") }
        let limit = try limit(p, maxLimit: maxLimit)
        let direction = try direction(p)
        let step: Int64
        if let text = p.first("step") {
            guard let s = secondsOrDuration(text) else {
                throw LogQLError(.parameter, "cannot parse \(PrometheusDuration.goQuoted(text)) to a valid duration")
            }
            step = s
        } else {
            // Loki: max(floor((end - start) in seconds / 250), 1) seconds.
            let seconds = max((Int128(end) - Int128(start)) / 1_000_000_000 / 250, 1)
            step = Int64(clamping: seconds * 1_000_000_000)
        }
        guard step > 0 else {
            throw LogQLError(.parameter, "zero or negative query resolution step widths are not accepted. Try a positive integer")
        }
        guard (Int128(end) - Int128(start)) / Int128(step) <= Int128(LogQLMetricEvaluator.maxPointsPerSeries) else {
            throw LogQLError.tooManyPoints
        }
        if let text = p.first("interval") {
            guard let interval = secondsOrDuration(text) else {
                throw LogQLError(.parameter, "cannot parse \(PrometheusDuration.goQuoted(text)) to a valid duration")
            }
            guard interval >= 0 else { throw LogQLError(.parameter, "interval must be >= 0") }
            if interval > 0 { throw LogQLError.unsupported("the 'interval' parameter (sampling log lines)") }
        }
        return LokiRangeParameters(
            query: p.first("query") ?? "", startNanos: start, endNanos: end, stepNanos: step,
            limit: limit, direction: direction)
    }

    /// `query`, `time` (default now), `limit`, `direction`.
    public static func instant(_ p: QueryParameters, nowNanos: Int64, maxLimit: Int = defaultMaxLimit) throws(LogQLError) -> LokiInstantParameters {
        var time = nowNanos
        if let text = p.first("time") {
            guard let t = timestamp(text) else { throw badTimestamp("time", text) }
            time = t
        }
        return LokiInstantParameters(
            query: p.first("query") ?? "", timeNanos: time, limit: try limit(p, maxLimit: maxLimit),
            direction: try direction(p))
    }

    /// `start`, `end` and `since`, as Loki reads them for every query endpoint: `end` defaults to now; `start` to
    /// `since` (default 1h) before `end`, or before now when `end` is in the future.
    public static func bounds(_ p: QueryParameters, nowNanos: Int64) throws(LogQLError) -> (startNanos: Int64, endNanos: Int64) {
        var since = defaultSinceNanos
        if let text = p.first("since") {
            switch PrometheusDuration.parse(text) {
            case .success(let d): since = d
            case .failure(let e): throw LogQLError(.parameter, "could not parse 'since' parameter: \(e.description)")
            }
        }
        var end = nowNanos
        if let text = p.first("end") {
            guard let t = timestamp(text) else { throw badTimestamp("end", text) }
            end = t
        }
        let (sinceEnd, overflow) = min(end, nowNanos).subtractingReportingOverflow(since)
        var start = overflow ? Int64.min : sinceEnd
        if let text = p.first("start") {
            guard let t = timestamp(text) else { throw badTimestamp("start", text) }
            start = t
        }
        return (start, end)
    }

    /// `limit`: a positive integer, default 100, at most `maxLimit` (Loki's `max_entries_limit_per_query`).
    public static func limit(_ p: QueryParameters, maxLimit: Int = defaultMaxLimit) throws(LogQLError) -> Int {
        guard let text = p.first("limit") else { return defaultLimit }
        guard let n = Int(text) else {
            throw LogQLError(.parameter, "could not parse 'limit' parameter: \(PrometheusDuration.goQuoted(text)) is not an integer")
        }
        guard n > 0 else { throw LogQLError(.parameter, "limit must be a positive value") }
        guard n <= maxLimit else {
            throw LogQLError(.limit, "max entries limit per query exceeded, limit > max_entries_limit_per_query (\(n) > \(maxLimit))")
        }
        return n
    }

    /// `direction`: `backward` (default) or `forward`, in any case.
    public static func direction(_ p: QueryParameters) throws(LogQLError) -> LokiDirection {
        guard let text = p.first("direction") else { return .backward }
        guard let d = LokiDirection(rawValue: text.lowercased()) else { throw LogQLError(.parameter, "invalid direction '\(text)'") }
        return d
    }

    /// A Loki timestamp in nanoseconds: an integer of up to 10 digits is seconds, a longer one nanoseconds; a
    /// number with a `.` is seconds (to the millisecond, as Loki rounds); else RFC 3339 (with up to 9 fraction
    /// digits). Nil when none of these.
    public static func timestamp(_ text: String) -> Int64? {
        if text.contains("."), let seconds = Double(text), seconds.isFinite, seconds.magnitude < 9.2e9 {
            let whole = seconds.rounded(.towardZero)
            let millis = ((seconds - whole) * 1000).rounded()
            guard let s = Int64(exactly: whole), let ms = Int64(exactly: millis) else { return nil }
            return s &* 1_000_000_000 &+ ms &* 1_000_000  // |s| < 9.2e9 and |ms| <= 1000: no overflow
        }
        if let n = Int64(text) {
            guard text.count <= 10 else { return n }
            let (nanos, overflow) = n.multipliedReportingOverflow(by: 1_000_000_000)
            return overflow ? nil : nanos
        }
        return QueryValues.rfc3339(text)
    }

    /// `step` and `interval`: a number of seconds (`15`, `0.5`) or a Prometheus duration (`15s`, `1m30s`), in
    /// nanoseconds. Nil when neither or out of range.
    public static func secondsOrDuration(_ text: String) -> Int64? {
        if let seconds = Double(text), seconds.isFinite {
            let nanos = (seconds * 1e9).rounded(.towardZero)
            guard nanos.magnitude < 9.2e18 else { return nil }
            return Int64(exactly: nanos)
        }
        if case .success(let d) = PrometheusDuration.parse(text) { return d }
        return nil
    }

    private static func badTimestamp(_ name: String, _ text: String) -> LogQLError {
        LogQLError(
            .parameter,
            "could not parse '\(name)' parameter: \(PrometheusDuration.goQuoted(text)) is not a timestamp (Unix nanoseconds, Unix seconds with a fraction, or RFC 3339)"
        )
    }
}
