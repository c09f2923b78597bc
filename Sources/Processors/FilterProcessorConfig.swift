import CollectorCore

/// Settings of the `filter` processor: otelcol-contrib's filter processor in its match-properties form
/// (`spans`, `metrics`, `logs` with `include`/`exclude`), plus two otelsink blocks in the same style for what that
/// form cannot express: `span_events` and `data_points`. OTTL conditions are rejected with a clear message.
public struct FilterProcessorConfig: ComponentConfig {
    /// `spans.include`/`exclude`: which spans are kept.
    public var spans: MatchConfig
    /// `span_events.include`/`exclude` (otelsink): which events of the kept spans are kept.
    public var spanEvents: MatchConfig
    /// `metrics.include`/`exclude`: metric names and resource attributes (otelcol's `MetricMatchProperties`).
    public var metrics: MatchConfig
    /// `data_points.include`/`exclude` (otelsink): which data points are kept; a metric left without data points
    /// is dropped.
    public var dataPoints: MatchConfig
    /// `logs.include`/`exclude`: which log records are kept (otelcol's `LogMatchProperties`).
    public var logs: MatchConfig

    static let ottlMessage = "OTTL conditions are not supported by otelsink; use include/exclude match properties"

    public static let spanKeys: [String: MatchProperties.Field] = MatchProperties.generalKeys.merging(["status_codes": .statusCodes]) { a, _ in a }
    public static let spanEventKeys: [String: MatchProperties.Field] = [
        "event_names": .eventNames, "attributes": .attributes, "services": .services, "span_names": .spanNames,
        "span_kinds": .spanKinds, "status_codes": .statusCodes, "resources": .resources, "libraries": .libraries,
    ]
    public static let metricKeys: [String: MatchProperties.Field] = ["metric_names": .metricNames, "resource_attributes": .resources]
    public static let dataPointKeys: [String: MatchProperties.Field] = [
        "metric_names": .metricNames, "attributes": .attributes, "resource_attributes": .resources,
    ]
    public static let logKeys: [String: MatchProperties.Field] = [
        "resource_attributes": .resources, "record_attributes": .attributes, "severity_texts": .severityTexts,
        "severity_number": .severityNumber, "bodies": .logBodies,
    ]

    public init(spans: MatchConfig = .none, spanEvents: MatchConfig = .none, metrics: MatchConfig = .none, dataPoints: MatchConfig = .none, logs: MatchConfig = .none) {
        self.spans = spans
        self.spanEvents = spanEvents
        self.metrics = metrics
        self.dataPoints = dataPoints
        self.logs = logs
    }

    public init(reading r: ConfigReader) {
        // error_mode only governs OTTL evaluation errors; match properties cannot fail, so it has no effect.
        let mode = r.string("error_mode", default: "propagate")
        if !["ignore", "silent", "propagate"].contains(mode) {
            r.report("error_mode", "expected one of ignore, silent, propagate; got \"\(mode)\"")
        }
        for key in ["trace_conditions", "metric_conditions", "log_conditions", "profile_conditions", "profiles"] where r.contains(key) {
            _ = r.raw(key)
            r.report(key, Self.ottlMessage)
        }
        if r.contains("traces") {
            let traces = r.child("traces")
            for key in ["resource", "span", "spanevent"] where traces.contains(key) {
                _ = traces.raw(key)
                traces.report(key, Self.ottlMessage)
            }
        }

        spans = .none
        if r.contains("spans") {
            let s = r.child("spans")
            spans = MatchConfig(reading: s, keys: Self.spanKeys)
            for p in [spans.include, spans.exclude].compactMap({ $0 }) {
                if let problem = p.problemForSpans() { r.problems.add(path: p.path, problem) }
            }
        }

        spanEvents = .none
        if r.contains("span_events") {
            spanEvents = Self.readBlock(r.child("span_events"), keys: Self.spanEventKeys)
        }

        metrics = .none
        if r.contains("metrics") {
            let m = r.child("metrics")
            for key in ["resource", "metric", "datapoint"] where m.contains(key) {
                _ = m.raw(key)
                m.report(key, Self.ottlMessage)
            }
            for side in ["include", "exclude"] where m.contains(side) {
                let block = m.child(side)
                if block.contains("expressions") {
                    _ = block.raw("expressions")
                    block.report("expressions", "expr expressions are not supported by otelsink; use metric_names and resource_attributes")
                }
            }
            if m.contains("regexp") {
                let cache = m.child("regexp")
                _ = cache.bool("cacheenabled", default: false)
                _ = cache.int("cachemaxnumentries", default: 0, range: 0...Int.max)
            }
            metrics = MatchConfig(reading: m, keys: Self.metricKeys)
        }

        dataPoints = .none
        if r.contains("data_points") {
            dataPoints = Self.readBlock(r.child("data_points"), keys: Self.dataPointKeys)
        }

        logs = .none
        if r.contains("logs") {
            let l = r.child("logs")
            for key in ["resource", "log_record"] where l.contains(key) {
                _ = l.raw(key)
                l.report(key, Self.ottlMessage)
            }
            let read = MatchConfig(reading: l, keys: Self.logKeys)
            // As otelcol: an include/exclude without any property is ignored.
            logs = MatchConfig(include: read.include.flatMap { $0.given.isEmpty ? nil : $0 }, exclude: read.exclude.flatMap { $0.given.isEmpty ? nil : $0 })
        }
    }

    /// An otelsink block (`span_events`, `data_points`): include/exclude, each needing at least one property.
    private static func readBlock(_ r: ConfigReader, keys: [String: MatchProperties.Field]) -> MatchConfig {
        let config = MatchConfig(reading: r, keys: keys)
        for p in [config.include, config.exclude].compactMap({ $0 }) where p.given.isEmpty {
            r.problems.add(path: p.path, "at least one of \(keys.keys.sorted().joined(separator: ", ")) must be specified")
        }
        return config
    }
}

extension MatchConfig {
    /// Neither include nor exclude: selects everything.
    public static let none = MatchConfig(include: nil, exclude: nil)
}
