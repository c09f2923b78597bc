import CollectorCore

/// Settings of the `servicegraph` connector, with otelcol-contrib's keys and defaults
/// (connector/servicegraphconnector).
///
/// Latencies are in seconds, as otelcol records them (its `legacyLatencyUnitMs` feature gate is off by default).
/// `max_series` is otelsink's own: otelcol keeps every series until it goes 15 minutes without an update.
public struct ServiceGraphConfig: ComponentConfig {
    /// Histogram bucket upper bounds, in seconds.
    public var latencyHistogramBuckets: [Double] = ServiceGraphConfig.defaultBucketsSeconds
    /// Extra labels, read from the resource's attributes, then the span's, on each side of a request; the client
    /// span's value is the label `client_<name>`, the server span's `server_<name>`.
    public var dimensions: [String] = []
    /// How long an edge waits for the other side of the request before it expires (`store.ttl`).
    public var storeTTL: Duration = .seconds(2)
    /// Edges waiting for their other side at most (`store.max_items`); a new unpaired span beyond it is dropped and
    /// counted.
    public var storeMaxItems = 1000
    /// How often series that were not updated for ``staleSeriesAge`` are removed.
    public var cacheLoop: Duration = .seconds(60)
    /// How often expired edges are removed from the store.
    public var storeExpirationLoop: Duration = .seconds(2)
    /// Span attributes that name the server of a client span whose server never reported (a virtual node), in
    /// order of preference. Empty turns virtual nodes off (no `user` clients either).
    public var virtualNodePeerAttributes: [String] = ServiceGraphConfig.defaultPeerAttributes
    /// Adds the label `virtual_node` (`client`, `server`, or empty) to every series.
    public var virtualNodeExtraLabel = false
    /// How often the cumulative metrics are sent down the metrics pipelines; zero sends them after every request.
    public var metricsFlushInterval: Duration = .seconds(60)
    /// Attributes (resource, then span, for each name in order) whose presence on a client span makes it a
    /// database call: the edge is complete at once, its server named by the value.
    public var databaseNameAttributes: [String] = ["db.name"]
    /// Subtracted from the time of every data point.
    public var metricsTimestampOffset: Duration = .zero
    /// Distinct series (client, server, connection type, failed, dimensions) kept; edges of further series are
    /// counted in one overflow series (`otel.metric.overflow: true`). otelsink's own key: memory stays bounded.
    public var maxSeries = 10_000

    /// otelcol's default buckets: 2, 4, 6, 8, 10, 50, 100, 200, 400, 800 ms, 1, 1.4, 2, 5, 10, 15 s.
    public static let defaultBucketsSeconds: [Double] = [0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1, 1.4, 2, 5, 10, 15]
    /// otelcol's default `virtual_node_peer_attributes`.
    public static let defaultPeerAttributes = ["peer.service", "db.name", "db.system"]
    /// A series not updated for this long is removed on the next `cache_loop` (otelcol's fixed 15 minutes).
    public static let staleSeriesAge: Duration = .seconds(15 * 60)

    public init() {}

    public init(reading r: ConfigReader) {
        let bucketTexts = r.stringList("latency_histogram_buckets", default: [])
        if !bucketTexts.isEmpty {
            var buckets: [Double] = []
            for (i, text) in bucketTexts.enumerated() {
                if let seconds = Self.seconds(bucket: text) {
                    buckets.append(seconds)
                } else {
                    r.problems.add(path: r.pathString("latency_histogram_buckets") + "::\(i)", "expected a duration like \"100ms\", got \"\(text)\"")
                }
            }
            if buckets.count == bucketTexts.count {
                if zip(buckets, buckets.dropFirst()).contains(where: { $0 >= $1 }) {
                    r.report("latency_histogram_buckets", "must be strictly increasing")
                } else {
                    latencyHistogramBuckets = buckets
                }
            }
        }
        if r.contains("exponential_histogram_max_size") {
            let size = r.int("exponential_histogram_max_size", default: 0)
            if size != 0 {
                r.report("exponential_histogram_max_size", "exponential histograms are not supported by otelsink; use latency_histogram_buckets")
            }
        }
        dimensions = r.stringList("dimensions")
        for (i, d) in dimensions.enumerated() where d.isEmpty {
            r.problems.add(path: r.pathString("dimensions") + "::\(i)", "must not be empty")
        }
        let store = r.child("store")
        storeTTL = store.duration("ttl", default: storeTTL, minimum: .milliseconds(1))
        storeMaxItems = store.int("max_items", default: storeMaxItems, range: 1...10_000_000)
        // otelcol takes zero (or less) for both loops as "the default".
        cacheLoop = Self.orDefault(r.duration("cache_loop", default: cacheLoop), cacheLoop)
        storeExpirationLoop = Self.orDefault(r.duration("store_expiration_loop", default: storeExpirationLoop), storeExpirationLoop)
        virtualNodePeerAttributes = r.stringList("virtual_node_peer_attributes", default: virtualNodePeerAttributes)
        virtualNodeExtraLabel = r.bool("virtual_node_extra_label", default: virtualNodeExtraLabel)
        metricsFlushInterval = r.duration("metrics_flush_interval", default: metricsFlushInterval)
        // `database_name_attribute` (one name) is otelcol's deprecated spelling; the list wins when both are set.
        let single = r.optionalString("database_name_attribute")
        let list = r.stringList("database_name_attributes")
        if !list.isEmpty {
            databaseNameAttributes = list
        } else if let single, !single.isEmpty {
            databaseNameAttributes = [single]
        }
        metricsTimestampOffset = r.duration("metrics_timestamp_offset", default: metricsTimestampOffset)
        // Deprecated in otelcol and without effect there: the metrics go to the pipelines that list the connector.
        _ = r.optionalString("metrics_exporter")
        maxSeries = r.int("max_series", default: maxSeries, range: 1...10_000_000)
    }

    /// A bucket bound in seconds: a duration (`100ms`), or a bare number of nanoseconds as Go reads an integer
    /// into a `time.Duration` (otelcol's README example `[1,2,3,4,5]` means nanoseconds too).
    static func seconds(bucket text: String) -> Double? {
        if let d = DurationText.parse(text) {
            let (s, atto) = d.components
            return Double(s) + Double(atto) * 1e-18
        }
        if let ns = Int64(text), ns >= 0 { return Double(ns) * 1e-9 }
        return nil
    }

    static func orDefault(_ value: Duration, _ fallback: Duration) -> Duration {
        value > .zero ? value : fallback
    }
}
