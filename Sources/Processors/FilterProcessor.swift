import CollectorCore
import Logging
import OTLP
import OTTL

/// The `filter` processor: drops spans, span events, metrics, data points and log records that its
/// `include`/`exclude` match properties do not select (an item is kept when it matches `include`, if given, and
/// does not match `exclude`, if given). Scopes and resources left empty are removed; a batch left empty is not
/// forwarded at all (the caller is answered with success, as otelcol does).
///
/// With OTTL conditions, an item for which any condition of its context holds is dropped; a condition that fails
/// to evaluate is handled per `error_mode` (``OTTLFailureHandler``: under `propagate` the request is refused).
public struct FilterProcessor: StatelessProcessor, TracesConsumer, MetricsConsumer, LogsConsumer {
    public let config: FilterProcessorConfig
    let next: SignalConsumers
    let failures: OTTLFailureHandler

    public init(
        config: FilterProcessorConfig, next: SignalConsumers,
        context: ComponentContext = ComponentContext(id: ComponentID(type: "filter"), logger: Logger(label: "otelsink.filter"))
    ) {
        self.config = config
        self.next = next
        self.failures = OTTLFailureHandler(context: context, component: "filter")
    }

    /// Whether any condition of `group` holds for the item in `target`.
    private func holds(_ group: [OTTLCondition], _ target: inout OTTLTarget) throws -> Bool {
        for condition in group {
            do {
                if try condition.evaluate(&target) { return true }
            } catch {
                try failures.handle(error, in: condition.text, mode: config.errorMode)
            }
        }
        return false
    }

    public var mutatesData: Bool { true }

    public var consumers: SignalConsumers { next.routed(through: self) }

    // MARK: - Traces

    public func consume(_ traces: consuming ExportTraceRequest) async throws {
        guard let downstream = next.traces else { return }
        var request = consume traces
        guard try filterWithConditions(&request), process(&request) else { return }
        try await downstream.consume(consume request)
    }

    /// Applies the OTTL conditions for traces; returns false when nothing is left.
    public func filterWithConditions(_ request: inout ExportTraceRequest) throws -> Bool {
        guard let groups = config.conditions[.traces], !groups.isEmpty else { return true }
        for (context, group) in groups { try OTTLFilter.traces(&request, context) { try holds(group, &$0) } }
        return !request.resourceSpans.isEmpty
    }

    /// Filters `request` in place; returns false when nothing is left to forward.
    @discardableResult
    public func process(_ request: inout ExportTraceRequest) -> Bool {
        let spans = config.spans
        let events = config.spanEvents
        guard !spans.isEmpty || !events.isEmpty else { return !request.resourceSpans.isEmpty }
        for r in request.resourceSpans.indices {
            let resource = request.resourceSpans[r].resource.attributes
            for s in request.resourceSpans[r].scopeSpans.indices {
                let scope = request.resourceSpans[r].scopeSpans[s].scope
                if !spans.isEmpty {
                    let keep: (Span) -> Bool = { span in spans.selects { $0.matchesSpan(span, resource: resource, scope: scope) } }
                    if !request.resourceSpans[r].scopeSpans[s].spans.allSatisfy(keep) {
                        request.resourceSpans[r].scopeSpans[s].spans.removeAll { !keep($0) }
                    }
                }
                if !events.isEmpty {
                    for i in request.resourceSpans[r].scopeSpans[s].spans.indices {
                        let span = request.resourceSpans[r].scopeSpans[s].spans[i]
                        guard !span.events.isEmpty else { continue }
                        let keep: (Span.Event) -> Bool = { event in
                            events.selects { $0.matchesSpanEvent(event, span: span, resource: resource, scope: scope) }
                        }
                        if !span.events.allSatisfy(keep) {
                            request.resourceSpans[r].scopeSpans[s].spans[i].events.removeAll { !keep($0) }
                        }
                    }
                }
            }
            request.resourceSpans[r].scopeSpans.removeAll { $0.spans.isEmpty }
        }
        request.resourceSpans.removeAll { $0.scopeSpans.isEmpty }
        return !request.resourceSpans.isEmpty
    }

    // MARK: - Metrics

    public func consume(_ metrics: consuming ExportMetricsRequest) async throws {
        guard let downstream = next.metrics else { return }
        var request = consume metrics
        guard try filterWithConditions(&request), process(&request) else { return }
        try await downstream.consume(consume request)
    }

    /// Applies the OTTL conditions for metrics; returns false when nothing is left.
    public func filterWithConditions(_ request: inout ExportMetricsRequest) throws -> Bool {
        guard let groups = config.conditions[.metrics], !groups.isEmpty else { return true }
        for (context, group) in groups { try OTTLFilter.metrics(&request, context) { try holds(group, &$0) } }
        return !request.resourceMetrics.isEmpty
    }

    /// Filters `request` in place; returns false when nothing is left to forward.
    ///
    /// As otelcol's legacy metric filter, `resource_attributes` and `metric_names` are separate tests: a resource
    /// that `include` does not select (or `exclude` does) is dropped with all its metrics, then each metric is
    /// tested by name. Then `data_points` drops data points, and a metric left without any is dropped.
    @discardableResult
    public func process(_ request: inout ExportMetricsRequest) -> Bool {
        let include = config.metrics.include
        let exclude = config.metrics.exclude
        let points = config.dataPoints
        let filtersResources = include?.matchesResource([]) != nil || exclude?.matchesResource([]) != nil
        let filtersNames = include?.matchesMetricName("") != nil || exclude?.matchesMetricName("") != nil
        guard filtersResources || filtersNames || !points.isEmpty else { return !request.resourceMetrics.isEmpty }

        request.resourceMetrics.removeAll { rm in
            let resource = rm.resource.attributes
            if include?.matchesResource(resource) == false { return true }
            if exclude?.matchesResource(resource) == true { return true }
            return false
        }
        if filtersNames || !points.isEmpty {
            for r in request.resourceMetrics.indices {
                let resource = request.resourceMetrics[r].resource.attributes
                for s in request.resourceMetrics[r].scopeMetrics.indices {
                    if filtersNames {
                        let keep: (Metric) -> Bool = { metric in
                            !(include?.matchesMetricName(metric.name) == false || exclude?.matchesMetricName(metric.name) == true)
                        }
                        if !request.resourceMetrics[r].scopeMetrics[s].metrics.allSatisfy(keep) {
                            request.resourceMetrics[r].scopeMetrics[s].metrics.removeAll { !keep($0) }
                        }
                    }
                    if !points.isEmpty {
                        var emptied: [Int] = []
                        for m in request.resourceMetrics[r].scopeMetrics[s].metrics.indices {
                            let name = request.resourceMetrics[r].scopeMetrics[s].metrics[m].name
                            let remaining = DataPoints.removeAll(of: &request.resourceMetrics[r].scopeMetrics[s].metrics[m]) { attributes in
                                !points.selects { $0.matchesDataPoint(metricName: name, attributes: attributes, resource: resource) }
                            }
                            if remaining == 0 { emptied.append(m) }
                        }
                        for m in emptied.reversed() { request.resourceMetrics[r].scopeMetrics[s].metrics.remove(at: m) }
                    }
                }
                request.resourceMetrics[r].scopeMetrics.removeAll { $0.metrics.isEmpty }
            }
        }
        request.resourceMetrics.removeAll { $0.scopeMetrics.isEmpty }
        return !request.resourceMetrics.isEmpty
    }

    // MARK: - Logs

    public func consume(_ logs: consuming ExportLogsRequest) async throws {
        guard let downstream = next.logs else { return }
        var request = consume logs
        guard try filterWithConditions(&request), process(&request) else { return }
        try await downstream.consume(consume request)
    }

    /// Applies the OTTL conditions for logs; returns false when nothing is left.
    public func filterWithConditions(_ request: inout ExportLogsRequest) throws -> Bool {
        guard let groups = config.conditions[.logs], !groups.isEmpty else { return true }
        for (context, group) in groups { try OTTLFilter.logs(&request, context) { try holds(group, &$0) } }
        return !request.resourceLogs.isEmpty
    }

    /// Filters `request` in place; returns false when nothing is left to forward.
    @discardableResult
    public func process(_ request: inout ExportLogsRequest) -> Bool {
        let logs = config.logs
        guard !logs.isEmpty else { return !request.resourceLogs.isEmpty }
        for r in request.resourceLogs.indices {
            let resource = request.resourceLogs[r].resource.attributes
            for s in request.resourceLogs[r].scopeLogs.indices {
                let scope = request.resourceLogs[r].scopeLogs[s].scope
                let keep: (Opentelemetry_Proto_Logs_V1_LogRecord) -> Bool = { record in
                    logs.selects { $0.matchesLogRecord(record, resource: resource, scope: scope) }
                }
                if !request.resourceLogs[r].scopeLogs[s].logRecords.allSatisfy(keep) {
                    request.resourceLogs[r].scopeLogs[s].logRecords.removeAll { !keep($0) }
                }
            }
            request.resourceLogs[r].scopeLogs.removeAll { $0.logRecords.isEmpty }
        }
        request.resourceLogs.removeAll { $0.scopeLogs.isEmpty }
        return !request.resourceLogs.isEmpty
    }
}

/// Registers the `filter` processor.
public struct FilterProcessorFactory: ProcessorFactory {
    public init() {}
    public var type: String { "filter" }
    public var kind: ComponentKind { .processor }
    public var signals: Set<Signal> { [.traces, .metrics, .logs] }
    public var summary: String {
        "drops spans, span events, metrics, data points and log records by OTTL conditions or include/exclude match properties"
    }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { FilterProcessorConfig(reading: reader) }

    public func makeProcessor(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Processor {
        FilterProcessor(config: try config.as(FilterProcessorConfig.self, for: "filter"), next: next, context: context)
    }
}
