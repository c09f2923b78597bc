/// A LogQL query otelsink answers: a log query (`{service_name="api"} |= "timeout"`, answered with streams) or a
/// metric query over one (`sum by (level) (count_over_time({service_name="api"}[1m]))`, a matrix or a vector).
///
/// The subset: stream selectors, line filters (`|=`, `!=`, `|~`, `!~`, with `or`), string label filters
/// (`| trace_id="…"`, with `and`, `,`, `or` and parentheses), `| drop __error__, __error_details__` (a no-op here),
/// and `count_over_time`, `rate` or `bytes_over_time`, optionally inside `sum` with `by`. Everything else is
/// rejected with ``LogQLError/Kind/unsupported`` naming it. Parse with ``LogQLParser/parse(_:)``.
public enum LogQLQuery: Sendable, Equatable {
    case logs(LogSelector)
    case metric(LogQLMetricQuery)

    /// The log query a metric query aggregates, or the log query itself.
    public var selector: LogSelector {
        switch self {
        case .logs(let s): s
        case .metric(let m): m.selector
        }
    }
}

/// A stream selector and the pipeline after it: `{service_name="api", level!="debug"} |= "timeout" | trace_id="…"`.
public struct LogSelector: Sendable, Equatable {
    /// The stream matchers, at least one of them not matching the empty string.
    public var matchers: [LabelMatcher]
    /// The stages in order: each entry must pass all of them.
    public var pipeline: [LogQLStage]

    public init(matchers: [LabelMatcher], pipeline: [LogQLStage] = []) {
        self.matchers = matchers
        self.pipeline = pipeline
    }
}

/// One stage of a log pipeline.
public enum LogQLStage: Sendable, Equatable {
    case lineFilter(LineFilter)
    case labelFilter(LabelFilter)
    /// `| drop __error__, __error_details__` (Grafana's log volume query adds it): nothing here sets those labels, so
    /// it keeps every entry and changes no label. Dropping any other label is rejected as unsupported.
    case dropErrorLabels
}

/// A label filter stage: string matchers combined with `and` (also written `,` or a space) and `or`. Nested
/// `and`s (and `or`s) are flattened, so the tree is only as deep as `and` and `or` alternate; the parser bounds it.
public indirect enum LabelFilter: Sendable, Equatable {
    case matcher(LabelMatcher)
    /// Every filter holds (two or more).
    case and([LabelFilter])
    /// Some filter holds (two or more).
    case or([LabelFilter])

    /// `and` of `filters`, flattening nested `and`s.
    public static func all(_ filters: [LabelFilter]) -> LabelFilter {
        var flat: [LabelFilter] = []
        for f in filters {
            if case .and(let inner) = f { flat += inner } else { flat.append(f) }
        }
        return flat.count == 1 ? flat[0] : .and(flat)
    }

    /// `or` of `filters`, flattening nested `or`s.
    public static func any(_ filters: [LabelFilter]) -> LabelFilter {
        var flat: [LabelFilter] = []
        for f in filters {
            if case .or(let inner) = f { flat += inner } else { flat.append(f) }
        }
        return flat.count == 1 ? flat[0] : .or(flat)
    }

    /// Levels of `and`/`or` above the deepest matcher.
    var depth: Int {
        switch self {
        case .matcher: 0
        case .and(let fs), .or(let fs): 1 + (fs.map(\.depth).max() ?? 0)
        }
    }
}

/// A metric query: a range aggregation over a log query, optionally summed.
public struct LogQLMetricQuery: Sendable, Equatable {
    public enum Function: String, Sendable, Equatable {
        /// Entries in the window.
        case countOverTime = "count_over_time"
        /// Entries in the window per second of the range.
        case rate
        /// UTF-8 bytes of the lines in the window.
        case bytesOverTime = "bytes_over_time"
    }

    public var function: Function
    public var selector: LogSelector
    /// The range in `[5m]`, in nanoseconds (positive).
    public var rangeNanos: Int64
    /// The labels of `sum by (…)`; `[]` for `sum` without `by`; nil without `sum` (one series per label set).
    /// Nested sums are folded: `sum(sum by (a) (…))` is `[]`, `sum by (a, b) (sum by (a) (…))` is `["a"]`.
    public var sumBy: [String]?

    public init(function: Function, selector: LogSelector, rangeNanos: Int64, sumBy: [String]? = nil) {
        self.function = function
        self.selector = selector
        self.rangeNanos = rangeNanos
        self.sumBy = sumBy
    }
}
