import CollectorCore
import OTLP

/// Settings of the `attributes` processor (otelcol-contrib's `attributesprocessor`): an action list and optional
/// `include`/`exclude` match properties choosing which spans, log records and metrics it applies to.
public struct AttributesProcessorConfig: ComponentConfig {
    public var actions: AttributeActions
    public var match: MatchConfig

    public init(actions: AttributeActions, match: MatchConfig = MatchConfig(include: nil, exclude: nil)) {
        self.actions = actions
        self.match = match
    }

    public init(reading r: ConfigReader) {
        actions = AttributeActions(reading: r, key: "actions")
        match = MatchConfig(reading: r, keys: MatchProperties.generalKeys)
    }
}

/// The `attributes` processor: applies its actions to span attributes, log record attributes and the attributes
/// of every data point of a metric, for the items its `include`/`exclude` select.
///
/// Selection, as otelcol: spans by service, span name and kind, span attributes, resource attributes and
/// instrumentation scope (`libraries`); log records by body, severity text and number, record attributes,
/// resource attributes and scope; metrics by `metric_names` only (otelcol ignores the other properties for
/// metrics, and so does otelsink).
public struct AttributesProcessor: StatelessProcessor, TracesConsumer, MetricsConsumer, LogsConsumer {
    public let config: AttributesProcessorConfig
    let next: SignalConsumers

    /// Builds the processor. Throws when `include`/`exclude` hold properties that cannot select the items of a
    /// signal `next` carries (e.g. `services` for log records), as otelcol refuses to start then.
    public init(config: AttributesProcessorConfig, next: SignalConsumers) throws {
        for properties in [config.match.include, config.match.exclude].compactMap({ $0 }) {
            if next.traces != nil, let problem = properties.problemForSpans() {
                throw ConfigProblem(path: properties.path, problem + " (in a traces pipeline)")
            }
            if next.logs != nil, let problem = properties.problemForLogs() {
                throw ConfigProblem(path: properties.path, problem + " (in a logs pipeline)")
            }
        }
        self.config = config
        self.next = next
    }

    public var mutatesData: Bool { true }

    public var consumers: SignalConsumers { next.routed(through: self) }

    // MARK: - Traces

    public func consume(_ traces: consuming ExportTraceRequest) async throws {
        try await next.forward(consume traces) {
            process(&$0)
            return true
        }
    }

    /// Applies the actions to the selected spans of `request`, in place.
    public func process(_ request: inout ExportTraceRequest) {
        let actions = config.actions
        guard !actions.isEmpty else { return }
        let match = config.match
        request.modifySpans { span, resource, scope in
            if !match.isEmpty {
                guard match.selects({ $0.matchesSpan(span, resource: resource.attributes, scope: scope) }) else { return }
            }
            span.editAttributes { actions.apply(to: &$0) }
        }
    }

    // MARK: - Logs

    public func consume(_ logs: consuming ExportLogsRequest) async throws {
        try await next.forward(consume logs) {
            process(&$0)
            return true
        }
    }

    /// Applies the actions to the selected log records of `request`, in place.
    public func process(_ request: inout ExportLogsRequest) {
        let actions = config.actions
        guard !actions.isEmpty else { return }
        let match = config.match
        request.modifyLogRecords { record, resource, scope in
            if !match.isEmpty {
                guard match.selects({ $0.matchesLogRecord(record, resource: resource.attributes, scope: scope) }) else { return }
            }
            record.editAttributes { actions.apply(to: &$0) }
        }
    }

    // MARK: - Metrics

    public func consume(_ metrics: consuming ExportMetricsRequest) async throws {
        try await next.forward(consume metrics) {
            process(&$0)
            return true
        }
    }

    /// Applies the actions to every data point of the selected metrics of `request`, in place.
    public func process(_ request: inout ExportMetricsRequest) {
        let actions = config.actions
        guard !actions.isEmpty else { return }
        let include = config.match.include
        let exclude = config.match.exclude
        request.modifyMetrics { metric, _, _ in
            if include?.matchesMetricName(metric.name) == false { return }
            if exclude?.matchesMetricName(metric.name) == true { return }
            DataPoints.editAttributes(of: &metric) { actions.apply(to: &$0) }
        }
    }
}

/// Registers the `attributes` processor.
public struct AttributesProcessorFactory: ProcessorFactory {
    public init() {}
    public var type: String { "attributes" }
    public var kind: ComponentKind { .processor }
    public var signals: Set<Signal> { [.traces, .metrics, .logs] }
    public var summary: String { "inserts, updates, deletes, hashes, extracts and converts span, log and data point attributes" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { AttributesProcessorConfig(reading: reader) }

    public func makeProcessor(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Processor {
        try AttributesProcessor(config: try config.as(AttributesProcessorConfig.self, for: "attributes"), next: next)
    }
}
