import CollectorCore
import OTTL

/// Settings of the `filter` processor: otelcol-contrib's filter processor in its match-properties form
/// (`spans`, `metrics`, `logs` with `include`/`exclude`), plus two otelsink blocks in the same style for what that
/// form cannot express: `span_events` and `data_points`; and its OTTL form (`traces.span`, `metrics.datapoint`,
/// `logs.log_record`, …, and the flat `trace_conditions`, `metric_conditions`, `log_conditions`), whose conditions
/// drop the items they hold for. One signal uses one form or the other.
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
    /// OTTL conditions per signal, in the order they are evaluated (resource before its items); an item for which
    /// any holds is dropped.
    public var conditions: [Signal: [(context: OTTLContext, conditions: [OTTLCondition])]] = [:]
    public var errorMode: OTTLErrorMode = .propagate

    static let mixedMessage = "OTTL conditions and include/exclude match properties cannot be used for the same signal"

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

    public init(
        spans: MatchConfig = .none, spanEvents: MatchConfig = .none, metrics: MatchConfig = .none, dataPoints: MatchConfig = .none,
        logs: MatchConfig = .none
    ) {
        self.spans = spans
        self.spanEvents = spanEvents
        self.metrics = metrics
        self.dataPoints = dataPoints
        self.logs = logs
    }

    public init(reading r: ConfigReader) {
        // error_mode governs OTTL evaluation errors; match properties cannot fail.
        errorMode = OTTLErrorMode.read(r)
        for key in ["profile_conditions", "profiles"] where r.contains(key) {
            _ = r.raw(key)
            r.report(key, "profiles are not supported by otelsink")
        }
        conditions[.traces] = Self.conditions(
            r, block: "traces", keys: ["resource": .resource, "span": .span, "spanevent": .spanevent],
            flat: "trace_conditions", signal: .traces)
        conditions[.metrics] = Self.conditions(
            r, block: "metrics", keys: ["resource": .resource, "metric": .metric, "datapoint": .datapoint],
            flat: "metric_conditions", signal: .metrics)
        conditions[.logs] = Self.conditions(
            r, block: "logs", keys: ["resource": .resource, "log_record": .log],
            flat: "log_conditions", signal: .logs)

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
            let read = MatchConfig(reading: l, keys: Self.logKeys)
            // As otelcol: an include/exclude without any property is ignored.
            logs = MatchConfig(
                include: read.include.flatMap { $0.given.isEmpty ? nil : $0 }, exclude: read.exclude.flatMap { $0.given.isEmpty ? nil : $0 })
        }
        for (signal, blocks) in [(Signal.traces, [spans, spanEvents]), (.metrics, [metrics, dataPoints]), (.logs, [logs])]
        where conditions[signal]?.isEmpty == false && blocks.contains(where: { $0.include != nil || $0.exclude != nil }) {
            r.report(nil, "\(signal): " + Self.mixedMessage)
        }
    }

    /// The OTTL conditions of one signal: `block.<context>` lists (explicit context) and the flat list (context
    /// inferred per condition), grouped by context and ordered from the resource inwards.
    private static func conditions(
        _ r: ConfigReader, block: String, keys: [String: OTTLContext], flat: String,
        signal: Signal
    ) -> [(context: OTTLContext, conditions: [OTTLCondition])] {
        var byContext: [OTTLContext: [OTTLCondition]] = [:]
        if r.contains(block) {
            let b = r.child(block)
            for (key, context) in keys.sorted(by: { $0.key < $1.key }) where b.contains(key) {
                for (i, text) in b.stringList(key).enumerated() {
                    do {
                        byContext[context, default: []].append(try OTTLCondition(text, context: context, signal: signal))
                    } catch {
                        r.problems.add(path: b.pathString(key) + "::\(i)", "condition \(error)")
                    }
                }
            }
        }
        for (i, text) in r.stringList(flat).enumerated() {
            do {
                let c = try OTTLCondition(text, context: nil, signal: signal)
                byContext[c.context, default: []].append(c)
            } catch {
                r.problems.add(path: r.pathString(flat) + "::\(i)", "condition \(error)")
            }
        }
        return OTTLContext.contexts(for: signal).compactMap { c in byContext[c].map { (c, $0) } }
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
