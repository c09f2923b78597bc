import CollectorCore
import OTLP

/// The `filter` processor: drops spans, span events, metrics, data points and log records that its
/// `include`/`exclude` match properties do not select (an item is kept when it matches `include`, if given, and
/// does not match `exclude`, if given). Scopes and resources left empty are removed; a batch left empty is not
/// forwarded at all (the caller is answered with success, as otelcol does).
public struct FilterProcessor: StatelessProcessor, TracesConsumer, MetricsConsumer, LogsConsumer {
    public let config: FilterProcessorConfig
    let next: SignalConsumers

    public init(config: FilterProcessorConfig, next: SignalConsumers) {
        self.config = config
        self.next = next
    }

    public var mutatesData: Bool { true }

    public var consumers: SignalConsumers { next.routed(through: self) }

    // MARK: - Traces

    public func consume(_ traces: consuming ExportTraceRequest) async throws {
        try await next.forward(consume traces) { process(&$0) }
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
        try await next.forward(consume metrics) { process(&$0) }
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
        try await next.forward(consume logs) { process(&$0) }
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
    public var summary: String { "drops spans, span events, metrics, data points and log records by include/exclude match properties" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { FilterProcessorConfig(reading: reader) }

    public func makeProcessor(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Processor {
        FilterProcessor(config: try config.as(FilterProcessorConfig.self, for: "filter"), next: next)
    }
}
