import CollectorCore

/// Settings of the `spanmetrics` connector, in otelcol's shape (connector/spanmetricsconnector).
public struct SpanMetricsConfig: ComponentConfig {
    public struct Dimension: Sendable, Equatable {
        public var name: String
        public var defaultValue: String?
    }

    public enum Unit: String, Sendable { case ms, s }

    /// Metric name prefix (`traces.span.metrics` → `traces_span_metrics_calls_total`).
    public var namespace = "traces.span.metrics"
    /// Extra dimensions read from span attributes, then resource attributes; without a value and a default the
    /// attribute is left out.
    public var dimensions: [Dimension] = []
    /// Default dimensions to leave out (of `service.name`, `span.name`, `span.kind`, `status.code`).
    public var excludeDimensions: [String] = []
    /// Distinct dimension sets kept; spans beyond it are counted in one overflow series (`otel.metric.overflow`).
    public var dimensionsCacheSize = 1000
    public var unit: Unit = .ms
    /// Histogram bucket upper bounds, in `unit`.
    public var buckets: [Double] = SpanMetricsConfig.defaultBucketsMs
    /// How often the cumulative metrics are sent down the metrics pipelines.
    public var flushInterval: Duration = .seconds(15)
    /// Attach the trace and span ID of a recent span to each bucket and to `calls`.
    public var exemplars = false

    /// otelcol's default explicit buckets: 2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000 ms.
    public static let defaultBucketsMs: [Double] = [2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000]

    public init() {}

    public init(reading r: ConfigReader) {
        namespace = r.string("namespace", default: namespace)
        for d in r.mappingList("dimensions") {
            let name = d.string("name", default: "")
            if name.isEmpty { d.report("name", "must not be empty") }
            dimensions.append(Dimension(name: name, defaultValue: d.optionalString("default")))
        }
        excludeDimensions = r.stringList("exclude_dimensions")
        dimensionsCacheSize = r.int("dimensions_cache_size", default: dimensionsCacheSize, range: 1...10_000_000)
        let histogram = r.child("histogram")
        let unitText = histogram.string("unit", default: unit.rawValue)
        if let u = Unit(rawValue: unitText) { unit = u } else { histogram.report("unit", "expected ms or s, got \"\(unitText)\"") }
        let explicit = histogram.child("explicit")
        var defaults = Self.defaultBucketsMs
        if unit == .s { defaults = defaults.map { $0 / 1000 } }
        let bucketTexts = explicit.stringList("buckets", default: [])
        if bucketTexts.isEmpty {
            buckets = defaults
        } else {
            buckets = []
            for (i, text) in bucketTexts.enumerated() {
                if let d = DurationText.parse(text) {
                    let (s, atto) = d.components
                    let seconds = Double(s) + Double(atto) * 1e-18
                    buckets.append(unit == .ms ? seconds * 1000 : seconds)
                } else {
                    r.problems.add(path: explicit.pathString("buckets") + "::\(i)", "expected a duration like \"100ms\", got \"\(text)\"")
                }
            }
            if buckets != buckets.sorted() || Set(buckets).count != buckets.count {
                explicit.report("buckets", "must be strictly increasing")
            }
        }
        flushInterval = r.duration("metrics_flush_interval", default: flushInterval, minimum: .milliseconds(100))
        exemplars = r.child("exemplars").bool("enabled", default: exemplars)
    }
}
