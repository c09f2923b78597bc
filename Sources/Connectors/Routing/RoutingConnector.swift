import CollectorCore
import OTLP
import OTTL
import ServiceLifecycle

/// The `routing` connector: sends each resource (or, with a route `context` of span, log or metric, each item)
/// to the pipelines of the first route in `table` whose condition holds for it, and what no route takes to
/// `default_pipelines` (or nowhere). Routes are tried in order and each takes what it matches out of what is left,
/// so an item reaches one route only. A multi-tenant gateway sends each tenant's data to its own exporters this
/// way.
///
/// A condition that fails to evaluate is handled per `error_mode` (``OTTLFailureHandler``): under `propagate`
/// the request is refused, otherwise the route does not match. `consume` returns once every pipeline that got a
/// part accepted it; if one refused, the first refusal (a retryable one first) is rethrown after the others were
/// delivered.
public struct RoutingConnector: Connector, TracesConsumer, MetricsConsumer, LogsConsumer {
    let config: RoutingConnectorConfig
    let routeOutputs: [SignalConsumers]
    let defaultOutput: SignalConsumers
    let failures: OTTLFailureHandler

    public init(config: RoutingConnectorConfig, outputs: ConnectorOutputs, context: ComponentContext) {
        self.config = config
        routeOutputs = config.routes.map { outputs.feeding($0.pipelines) }
        defaultOutput = outputs.feeding(config.defaultPipelines)
        failures = OTTLFailureHandler(context: context, component: "routing")
    }

    public var consumers: SignalConsumers { SignalConsumers(traces: self, metrics: self, logs: self) }

    public func run() async throws {
        try? await gracefulShutdown()
    }

    // MARK: - Signals

    public func consume(_ request: consuming ExportTraceRequest) async throws {
        var parts = Parts<ExportTraceRequest>()
        var rest = consume request
        for (i, route) in config.routes.enumerated() {
            guard let condition = route.conditions[.traces], !rest.resourceSpans.isEmpty else { continue }
            var taken = ExportTraceRequest()
            taken.resourceSpans = try split(
                &rest.resourceSpans, route.context, condition,
                resource: \.resource, scopes: \.scopeSpans, scope: \.scope, items: \.spans
            ) { $0.span = $1 }
            parts.add(i, taken, empty: taken.resourceSpans.isEmpty)
        }
        parts.add(nil, rest, empty: rest.resourceSpans.isEmpty)
        try await deliver(parts) { output, part in try await output.traces?.consume(part) }
    }

    public func consume(_ request: consuming ExportLogsRequest) async throws {
        var parts = Parts<ExportLogsRequest>()
        var rest = consume request
        for (i, route) in config.routes.enumerated() {
            guard let condition = route.conditions[.logs], !rest.resourceLogs.isEmpty else { continue }
            var taken = ExportLogsRequest()
            taken.resourceLogs = try split(
                &rest.resourceLogs, route.context, condition,
                resource: \.resource, scopes: \.scopeLogs, scope: \.scope, items: \.logRecords
            ) { $0.log = $1 }
            parts.add(i, taken, empty: taken.resourceLogs.isEmpty)
        }
        parts.add(nil, rest, empty: rest.resourceLogs.isEmpty)
        try await deliver(parts) { output, part in try await output.logs?.consume(part) }
    }

    public func consume(_ request: consuming ExportMetricsRequest) async throws {
        var parts = Parts<ExportMetricsRequest>()
        var rest = consume request
        for (i, route) in config.routes.enumerated() {
            guard let condition = route.conditions[.metrics], !rest.resourceMetrics.isEmpty else { continue }
            var taken = ExportMetricsRequest()
            taken.resourceMetrics = try split(
                &rest.resourceMetrics, route.context, condition,
                resource: \.resource, scopes: \.scopeMetrics, scope: \.scope, items: \.metrics
            ) { $0.metric = $1 }
            parts.add(i, taken, empty: taken.resourceMetrics.isEmpty)
        }
        parts.add(nil, rest, empty: rest.resourceMetrics.isEmpty)
        try await deliver(parts) { output, part in try await output.metrics?.consume(part) }
    }

    // MARK: - Splitting

    /// Requests for routes (by index; nil for the default pipelines), in table order.
    struct Parts<Request> {
        var list: [(route: Int?, request: Request)] = []
        mutating func add(_ route: Int?, _ request: Request, empty: Bool) {
            if !empty { list.append((route, request)) }
        }
    }

    /// Moves what `condition` matches out of `resources` and returns it: whole resources in the resource context,
    /// otherwise single items, each under a copy of its resource and scope. Resources and scopes left empty are
    /// removed from `resources`.
    private func split<R, S, Item>(
        _ resources: inout [R], _ context: OTTLContext, _ condition: OTTLCondition,
        resource: KeyPath<R, Resource>, scopes: WritableKeyPath<R, [S]>, scope: KeyPath<S, InstrumentationScope>,
        items: WritableKeyPath<S, [Item]>, place: (inout OTTLTarget, Item) -> Void
    ) throws -> [R] {
        var taken: [R] = []
        var target = OTTLTarget()
        if context == .resource {
            var kept: [R] = []
            for r in resources {
                target.resource = r[keyPath: resource]
                if try matches(condition, &target) { taken.append(r) } else { kept.append(r) }
            }
            resources = kept
            return taken
        }
        var keptResources: [R] = []
        for var r in resources {
            target.resource = r[keyPath: resource]
            var movedScopes: [S] = []
            var keptScopes: [S] = []
            for var s in r[keyPath: scopes] {
                target.scope = s[keyPath: scope]
                var moved: [Item] = []
                var kept: [Item] = []
                for item in s[keyPath: items] {
                    place(&target, item)
                    if try matches(condition, &target) { moved.append(item) } else { kept.append(item) }
                }
                if !moved.isEmpty {
                    var copy = s
                    copy[keyPath: items] = moved
                    movedScopes.append(copy)
                }
                if !kept.isEmpty {
                    s[keyPath: items] = kept
                    keptScopes.append(s)
                }
            }
            if !movedScopes.isEmpty {
                var copy = r
                copy[keyPath: scopes] = movedScopes
                taken.append(copy)
            }
            if !keptScopes.isEmpty {
                r[keyPath: scopes] = keptScopes
                keptResources.append(r)
            }
        }
        resources = keptResources
        return taken
    }

    private func matches(_ condition: OTTLCondition, _ target: inout OTTLTarget) throws -> Bool {
        do {
            return try condition.evaluate(&target)
        } catch {
            try failures.handle(error, in: condition.text, mode: config.errorMode)
            return false
        }
    }

    /// Delivers every part, then rethrows the first refusal (a retryable one first).
    private func deliver<Request: Sendable>(
        _ parts: Parts<Request>,
        _ send: (SignalConsumers, Request) async throws -> Void
    ) async throws {
        var refusals: [PipelineError] = []
        for (route, request) in parts.list {
            do {
                try await send(route.map { routeOutputs[$0] } ?? defaultOutput, request)
            } catch {
                refusals.append(PipelineError.classify(error))
            }
        }
        if let refusal = PipelineError.combine(refusals) { throw refusal }
    }
}

/// Registers the `routing` connector.
public struct RoutingConnectorFactory: ConnectorFactory {
    public init() {}
    public var type: String { "routing" }
    public var kind: ComponentKind { .connector }
    public var signals: Set<Signal> { [.traces, .metrics, .logs] }
    public var exporterSignals: Set<Signal> { [.traces, .metrics, .logs] }
    public var receiverSignals: Set<Signal> { [.traces, .metrics, .logs] }
    public func connects(_ from: Signal, to: Signal) -> Bool { from == to }
    public var summary: String { "sends each resource or item to the pipelines of the first route whose OTTL condition matches" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { RoutingConnectorConfig(reading: reader) }

    public func problems(config: any ComponentConfig, feeds: [PipelineID]) -> [String] {
        (config as? RoutingConnectorConfig)?.problems(feeds: feeds) ?? []
    }

    public func makeConnector(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Connector {
        throw ConfigTypeMismatch(component: "routing")
    }

    public func makeConnector(config: any ComponentConfig, outputs: ConnectorOutputs, context: ComponentContext) throws -> any Connector {
        RoutingConnector(config: try config.as(RoutingConnectorConfig.self, for: "routing"), outputs: outputs, context: context)
    }
}
