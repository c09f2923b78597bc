/// A value of a metric series at a step time.
public struct LogQLPoint: Sendable, Equatable {
    public var timestampNanos: Int64
    public var value: Double

    public init(timestampNanos: Int64, value: Double) {
        self.timestampNanos = timestampNanos
        self.value = value
    }
}

/// A series of a metric query's answer: its labels and its points in time order (steps without entries in the
/// window have no point, as in Loki).
public struct LogQLSeries: Sendable, Equatable {
    public var labels: [String: String]
    public var points: [LogQLPoint]

    public init(labels: [String: String], points: [LogQLPoint]) {
        self.labels = labels
        self.points = points
    }
}

/// A series' value at one time: an element of an instant query's vector.
public struct LogQLSample: Sendable, Equatable {
    public var labels: [String: String]
    public var timestampNanos: Int64
    public var value: Double

    public init(labels: [String: String], timestampNanos: Int64, value: Double) {
        self.labels = labels
        self.timestampNanos = timestampNanos
        self.value = value
    }
}

/// Evaluates a metric query (`/loki/api/v1/query_range`, or `/query` at one time) from candidate entries in any
/// order, as Loki's range vector iterator does: at each step time `t` in `start, start + step, …, ≤ end`, a
/// series' window holds its entries with `t - range < timestamp <= t`; `count_over_time` is their number, `rate`
/// that number per second of the range, `bytes_over_time` the UTF-8 bytes of their lines. A step whose window is
/// empty has no point.
///
/// Without `sum` there is one series per ``LogQLEntry/labels`` set (stream labels and structured metadata, as Loki
/// 3 names samples); `sum by (l…)` groups by those labels (a missing one is left out); `sum` alone gives one series
/// without labels. Series are ordered by labels (Prometheus's `labels.Compare`).
///
/// Work is bounded: Loki's 11,000 points per series, and `maxSeries` series (an error past it). Memory is per
/// series and per step where a window starts or ends, not per entry.
public struct LogQLMetricEvaluator: Sendable {
    /// Loki's bound on `(end - start) / step`.
    public static let maxPointsPerSeries: Int64 = 11_000
    /// Loki's default `max_query_series`.
    public static let defaultMaxSeries = 500

    public let query: LogQLMetricQuery
    public let startNanos: Int64
    public let endNanos: Int64
    public let stepNanos: Int64
    public let maxSeries: Int
    private let stepCount: Int
    private var counted = LokiQueryStatistics()
    /// Per series, per step index: entries (and their bytes) whose windows start there, minus those ending before.
    private var series: [SeriesKey: [Int: Delta]] = [:]

    /// A range evaluation. Throws Loki's errors for a step that is not positive, `end` before `start`, and more
    /// than 11,000 points per series.
    public init(
        query: LogQLMetricQuery, startNanos: Int64, endNanos: Int64, stepNanos: Int64,
        maxSeries: Int = LogQLMetricEvaluator.defaultMaxSeries
    ) throws(LogQLError) {
        guard stepNanos > 0 else {
            throw LogQLError(.parameter, "zero or negative query resolution step widths are not accepted. Try a positive integer")
        }
        guard endNanos >= startNanos else { throw LogQLError(.parameter, "end timestamp must not be before or equal to start time") }
        let steps = (Int128(endNanos) - Int128(startNanos)) / Int128(stepNanos)
        guard steps <= Int128(Self.maxPointsPerSeries) else { throw LogQLError.tooManyPoints }
        self.query = query
        self.startNanos = startNanos
        self.endNanos = endNanos
        self.stepNanos = stepNanos
        self.maxSeries = maxSeries
        stepCount = Int(clamping: steps) + 1
    }

    /// An instant evaluation at `timeNanos` (one step).
    public init(query: LogQLMetricQuery, timeNanos: Int64, maxSeries: Int = LogQLMetricEvaluator.defaultMaxSeries) throws(LogQLError) {
        try self.init(query: query, startNanos: timeNanos, endNanos: timeNanos, stepNanos: 1, maxSeries: maxSeries)
    }

    /// The timestamps of entries that can count, `(start - range, end]`: storage need read no others.
    public var entryTimeRange: ClosedRange<Int64> {
        let (low, overflow) = startNanos.subtractingReportingOverflow(query.rangeNanos)
        let lower = overflow ? Int64.min : (low == Int64.max ? low : low + 1)
        return min(lower, endNanos)...endNanos
    }

    /// Lines and bytes read so far; the caller sets `execTimeSeconds`.
    public var statistics: LokiQueryStatistics { counted }

    /// Counts the candidate and, if it matches and falls in some window, adds it to its series. Throws when it
    /// would be a series past `maxSeries`.
    public mutating func add(_ entry: LogQLEntry) throws(LogQLError) {
        counted.count(entry)
        guard query.selector.matches(entry) else { return }
        counted.postFilterLines &+= 1
        // Steps t_k = start + k·step with ts <= t_k <= ts + range - 1.
        let ts = Int128(entry.timestampNanos)
        let start = Int128(startNanos)
        let step = Int128(stepNanos)
        let fromStart = ts - start
        let low: Int128 = fromStart <= 0 ? 0 : (fromStart + step - 1) / step
        let lastOffset = ts + Int128(query.rangeNanos) - 1 - start
        guard lastOffset >= 0 else { return }
        let high = min(lastOffset / step, Int128(stepCount - 1))
        guard low <= high else { return }

        let key = seriesKey(entry)
        if series[key] == nil, series.count >= maxSeries { throw LogQLError.tooManySeries(maxSeries) }
        let bytes = Int64(entry.line.utf8.count)
        let first = Int(clamping: low)
        let afterLast = Int(clamping: high) + 1
        series[key, default: [:]][first, default: Delta()].add(1, bytes)
        series[key, default: [:]][afterLast, default: Delta()].add(-1, -bytes)
    }

    /// The series, ordered by labels, each with its points in time order.
    public func matrix() -> [LogQLSeries] {
        var out: [(labels: [(String, String)], series: LogQLSeries)] = []
        for (key, deltas) in series {
            var points: [LogQLPoint] = []
            var running = Delta()
            let marks = deltas.keys.sorted()
            for (n, mark) in marks.enumerated() {
                running.add(deltas[mark]?.count ?? 0, deltas[mark]?.bytes ?? 0)
                guard running.count > 0 else { continue }
                let until = n + 1 < marks.count ? min(marks[n + 1], stepCount) : stepCount
                var k = mark
                while k < until {
                    points.append(LogQLPoint(timestampNanos: startNanos &+ Int64(k) &* stepNanos, value: value(running)))
                    k += 1
                }
            }
            guard !points.isEmpty else { continue }
            let pairs = Array(zip(key.names, key.values))
            out.append((pairs, LogQLSeries(labels: Dictionary(pairs, uniquingKeysWith: { a, _ in a }), points: points)))
        }
        out.sort { LokiLabels.precedes($0.labels, $1.labels) }
        return out.map(\.series)
    }

    /// For an instant evaluation: each series' value at the one step, ordered by labels.
    public func vector() -> [LogQLSample] {
        matrix().compactMap { s in s.points.first.map { LogQLSample(labels: s.labels, timestampNanos: $0.timestampNanos, value: $0.value) } }
    }

    private func value(_ d: Delta) -> Double {
        switch query.function {
        case .countOverTime: Double(d.count)
        case .rate: Double(d.count) / Self.seconds(query.rangeNanos)
        case .bytesOverTime: Double(d.bytes)
        }
    }

    /// Go's `time.Duration.Seconds()`, which Loki's rate divides by.
    static func seconds(_ nanos: Int64) -> Double {
        Double(nanos / 1_000_000_000) + Double(nanos % 1_000_000_000) / 1e9
    }

    private func seriesKey(_ entry: LogQLEntry) -> SeriesKey {
        var labels = entry.labels
        if let by = query.sumBy { labels = labels.filter { by.contains($0.key) } }
        let sorted = LokiLabels.sorted(labels)
        return SeriesKey(names: sorted.map(\.0), values: sorted.map(\.1))
    }

    private struct SeriesKey: Hashable {
        var names: [String]
        var values: [String]
    }

    private struct Delta {
        var count: Int64 = 0
        var bytes: Int64 = 0

        mutating func add(_ c: Int64, _ b: Int64) {
            count &+= c
            bytes &+= b
        }
    }
}
