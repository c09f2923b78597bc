/// The Prometheus type of a family.
public enum ExpositionType: String, Sendable {
    case counter, gauge, histogram, summary
}

/// An exemplar: a sample of one observation with the span it came from (OpenMetrics only).
public struct Exemplar: Sendable, Equatable {
    /// Rendered label pairs, e.g. `trace_id="…",span_id="…"`.
    public var labels: String
    public var value: Double
    /// Seconds since the epoch, if known.
    public var timestamp: Double?

    public init(labels: String, value: Double, timestamp: Double?) {
        self.labels = labels
        self.value = value
        self.timestamp = timestamp
    }
}

/// A histogram's state: explicit upper bounds (ascending, `+Inf` implicit) with per-bucket counts
/// (`bounds.count + 1` of them, not cumulative), plus sum and count.
public struct HistogramValue: Sendable, Equatable {
    public var bounds: [Double]
    public var counts: [UInt64]
    public var sum: Double
    public var count: UInt64

    public init(bounds: [Double], counts: [UInt64], sum: Double, count: UInt64) {
        self.bounds = bounds
        self.counts = counts
        self.sum = sum
        self.count = count
    }
}

/// A summary's state.
public struct SummaryValue: Sendable, Equatable {
    public var quantiles: [(quantile: Double, value: Double)]
    public var sum: Double
    public var count: UInt64

    public init(quantiles: [(quantile: Double, value: Double)], sum: Double, count: UInt64) {
        self.quantiles = quantiles
        self.sum = sum
        self.count = count
    }

    public static func == (a: SummaryValue, b: SummaryValue) -> Bool {
        a.sum == b.sum && a.count == b.count && a.quantiles.elementsEqual(b.quantiles) { $0.quantile == $1.quantile && $0.value == $1.value }
    }
}

/// The value of one series.
public enum SeriesValue: Sendable, Equatable {
    case number(Double)
    case histogram(HistogramValue)
    case summary(SummaryValue)
}

/// One series as the writers see it.
public struct ExposedSeries: Sendable {
    /// Rendered labels without braces (`a="x",b="y"`), sorted by name; empty for none.
    public var labels: String
    public var value: SeriesValue
    /// Exemplars: one for a counter, one per bucket for a histogram (OpenMetrics only).
    public var exemplars: [Exemplar?]
    /// Milliseconds since the epoch, when `send_timestamps` is on.
    public var timestampMillis: Int64?

    public init(labels: String, value: SeriesValue, exemplars: [Exemplar?] = [], timestampMillis: Int64? = nil) {
        self.labels = labels
        self.value = value
        self.exemplars = exemplars
        self.timestampMillis = timestampMillis
    }
}

/// One family: a name with its type, help, and series.
public struct ExposedFamily: Sendable {
    /// The name as in the text format 0.0.4 (a counter's name ends in `_total` when suffixes are on).
    public var name: String
    public var type: ExpositionType
    public var help: String
    public var series: [ExposedSeries]

    public init(name: String, type: ExpositionType, help: String, series: [ExposedSeries]) {
        self.name = name
        self.type = type
        self.help = help
        self.series = series
    }

    /// The sample names this family writes (what must not collide with another family's).
    public var sampleNames: [String] {
        switch type {
        case .counter, .gauge: [name]
        case .histogram: [name + "_bucket", name + "_sum", name + "_count", name]
        case .summary: [name, name + "_sum", name + "_count"]
        }
    }

    /// The family name OpenMetrics uses: a counter's name without `_total`.
    public var openMetricsName: String {
        if type == .counter, name.hasSuffix("_total") { return String(name.dropLast(6)) }
        return name
    }
}
