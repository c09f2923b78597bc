import CollectorCore
import OTLP

/// Settings of the `resource` processor (otelcol-contrib's `resourceprocessor`): the shared action list, under the
/// key `attributes`, applied to resource attributes.
public struct ResourceProcessorConfig: ComponentConfig {
    public var actions: AttributeActions

    public init(actions: AttributeActions) { self.actions = actions }

    public init(reading r: ConfigReader) {
        actions = AttributeActions(reading: r, key: "attributes")
    }
}

/// The `resource` processor: applies its actions to the resource attributes of every resource in a batch of
/// traces, metrics or logs. It has no `include`/`exclude`, as in otelcol.
public struct ResourceProcessor: StatelessProcessor, TracesConsumer, MetricsConsumer, LogsConsumer {
    public let config: ResourceProcessorConfig
    let next: SignalConsumers

    public init(config: ResourceProcessorConfig, next: SignalConsumers) {
        self.config = config
        self.next = next
    }

    public var mutatesData: Bool { true }

    public var consumers: SignalConsumers { next.routed(through: self) }

    public func consume(_ traces: consuming ExportTraceRequest) async throws {
        try await next.forward(consume traces) {
            process(&$0)
            return true
        }
    }

    public func consume(_ metrics: consuming ExportMetricsRequest) async throws {
        try await next.forward(consume metrics) {
            process(&$0)
            return true
        }
    }

    public func consume(_ logs: consuming ExportLogsRequest) async throws {
        try await next.forward(consume logs) {
            process(&$0)
            return true
        }
    }

    /// Applies the actions to every resource of `request`, in place.
    public func process(_ request: inout ExportTraceRequest) {
        let actions = config.actions
        guard !actions.isEmpty else { return }
        for i in request.resourceSpans.indices { request.resourceSpans[i].resource.editAttributes { actions.apply(to: &$0) } }
    }

    public func process(_ request: inout ExportMetricsRequest) {
        let actions = config.actions
        guard !actions.isEmpty else { return }
        for i in request.resourceMetrics.indices { request.resourceMetrics[i].resource.editAttributes { actions.apply(to: &$0) } }
    }

    public func process(_ request: inout ExportLogsRequest) {
        let actions = config.actions
        guard !actions.isEmpty else { return }
        for i in request.resourceLogs.indices { request.resourceLogs[i].resource.editAttributes { actions.apply(to: &$0) } }
    }
}

/// Registers the `resource` processor.
public struct ResourceProcessorFactory: ProcessorFactory {
    public init() {}
    public var type: String { "resource" }
    public var kind: ComponentKind { .processor }
    public var signals: Set<Signal> { [.traces, .metrics, .logs] }
    public var summary: String { "inserts, updates, deletes, hashes, extracts and converts resource attributes" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { ResourceProcessorConfig(reading: reader) }

    public func makeProcessor(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Processor {
        ResourceProcessor(config: try config.as(ResourceProcessorConfig.self, for: "resource"), next: next)
    }
}
