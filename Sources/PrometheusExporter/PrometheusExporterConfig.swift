import CollectorCore

/// Settings of the `prometheus` exporter, in otelcol's shape.
public struct PrometheusExporterConfig: ComponentConfig {
    /// Where `GET /metrics` is served.
    public var endpoint = "localhost:8889"
    /// Prepended to every metric name with `_`.
    public var namespace = ""
    /// Labels added to every series.
    public var constLabels: [String: String] = [:]
    /// Write each sample's timestamp (otelcol default: off).
    public var sendTimestamps = false
    /// Series not updated for this long disappear (otelcol default 5m).
    public var metricExpiration: Duration = .seconds(300)
    /// Serve OpenMetrics (with exemplars) to scrapers that ask for it (otelcol default: off).
    public var enableOpenMetrics = false
    /// Copy every resource attribute to a label on each series (`resource_to_telemetry_conversion.enabled`).
    public var resourceToTelemetry = false
    /// Unit and type suffixes (`_seconds`, `_total`, `_ratio`) on names (otelcol default: on).
    public var addMetricSuffixes = true
    /// Leave out the `otel_scope_*` labels.
    public var withoutScopeInfo = false
    /// Most series held (otelsink's bound; otelcol has none): points that would add more are dropped and counted
    /// until others expire.
    public var maxSeries = 1_000_000
    /// Connections, deadlines and TLS of the `/metrics` listener (`tls` as otelcol's; the rest otelsink's).
    public var listener = ListenerSettings(maxConnections: 64)

    public init() {}

    public init(reading r: ConfigReader) {
        endpoint = r.string("endpoint", default: endpoint)
        if ListenEndpoint(parsing: endpoint) == nil {
            r.report("endpoint", "expected host:port with an IP address or localhost (e.g. \"localhost:8889\"), got \"\(endpoint)\"")
        }
        namespace = r.string("namespace", default: namespace)
        if !namespace.isEmpty && !PrometheusNaming.isValidMetricName(namespace) {
            r.report("namespace", "must be a valid Prometheus name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*), got \"\(namespace)\"")
        }
        let labels = r.child("const_labels")
        for key in labels.keys {
            let value = labels.string(key, default: "")
            if PrometheusLabels.sanitize(key) != key || key.hasPrefix("__") {
                labels.report(key, "not a valid label name (use letters, digits and _, not starting with a digit or __)")
            }
            constLabels[key] = value
        }
        sendTimestamps = r.bool("send_timestamps", default: sendTimestamps)
        metricExpiration = r.duration("metric_expiration", default: metricExpiration, minimum: .seconds(1))
        enableOpenMetrics = r.bool("enable_open_metrics", default: enableOpenMetrics)
        resourceToTelemetry = r.child("resource_to_telemetry_conversion").bool("enabled", default: resourceToTelemetry)
        addMetricSuffixes = r.bool("add_metric_suffixes", default: addMetricSuffixes)
        withoutScopeInfo = r.bool("without_scope_info", default: withoutScopeInfo)
        maxSeries = r.int("max_series", default: maxSeries, range: 1...100_000_000)
        listener = ListenerSettings.readHTTP(r, defaults: listener)
    }
}
