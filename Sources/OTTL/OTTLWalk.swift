import OTLP

/// Visits every item of one context in a request with an ``OTTLTarget`` holding the item and the items it sits in.
/// Each item is moved into the target while `body` runs and moved back after, so edits do not copy it (swift-protobuf
/// messages share storage until written), and a resource or scope that was absent stays absent if nothing was
/// set in it.
public enum OTTLWalk {
    public static func traces(
        _ request: inout ExportTraceRequest, _ context: OTTLContext,
        _ body: (inout OTTLTarget) throws -> Void
    ) rethrows {
        try eachScope(&request.resourceSpans, scopes: \.scopeSpans, context, body) { ss, t in
            var spans = ss.spans
            ss.spans = []
            defer { ss.spans = spans }
            for i in spans.indices {
                swap(&t.span, &spans[i])
                t.takeSpanAttributes()
                defer {
                    t.returnSpanAttributes()
                    swap(&t.span, &spans[i])
                }
                if context == .span {
                    try body(&t)
                    continue
                }
                var events = t.span.events
                t.span.events = []
                defer { t.span.events = events }
                for e in events.indices {
                    swap(&t.event, &events[e])
                    defer { swap(&t.event, &events[e]) }
                    try body(&t)
                }
            }
        }
    }

    public static func logs(
        _ request: inout ExportLogsRequest, _ context: OTTLContext,
        _ body: (inout OTTLTarget) throws -> Void
    ) rethrows {
        try eachScope(&request.resourceLogs, scopes: \.scopeLogs, context, body) { sl, t in
            var records = sl.logRecords
            sl.logRecords = []
            defer { sl.logRecords = records }
            for i in records.indices {
                swap(&t.log, &records[i])
                defer { swap(&t.log, &records[i]) }
                try body(&t)
            }
        }
    }

    public static func metrics(
        _ request: inout ExportMetricsRequest, _ context: OTTLContext,
        _ body: (inout OTTLTarget) throws -> Void
    ) rethrows {
        try eachScope(&request.resourceMetrics, scopes: \.scopeMetrics, context, body) { sm, t in
            var metrics = sm.metrics
            sm.metrics = []
            defer { sm.metrics = metrics }
            for i in metrics.indices {
                swap(&t.metric, &metrics[i])
                defer { swap(&t.metric, &metrics[i]) }
                if context == .metric {
                    try body(&t)
                    continue
                }
                try points(&t, body)
            }
        }
    }

    /// The resource and scope levels every signal shares: runs `body` on each resource (resource context) or
    /// scope (scope context), or hands each scope to `items` with the target's resource and scope filled. Lists are
    /// taken out of their parents while they are visited and put back after.
    private static func eachScope<R: OTTLResourceLevel, S: OTTLScopeLevel>(
        _ list: inout [R], scopes: WritableKeyPath<R, [S]>, _ context: OTTLContext,
        _ body: (inout OTTLTarget) throws -> Void, items: (inout S, inout OTTLTarget) throws -> Void
    ) rethrows {
        var t = OTTLTarget()
        var resources = list
        list = []
        defer { list = resources }
        for r in resources.indices {
            let hadResource = resources[r].hasResource
            t.resource = resources[r].resource
            resources[r].clearResource()
            defer { if let held = taken(&t.resource, had: hadResource) { resources[r].resource = held } }
            if context == .resource {
                try body(&t)
                continue
            }
            var scopeList = resources[r][keyPath: scopes]
            resources[r][keyPath: scopes] = []
            defer { resources[r][keyPath: scopes] = scopeList }
            for s in scopeList.indices {
                let hadScope = scopeList[s].hasScope
                t.scope = scopeList[s].scope
                scopeList[s].clearScope()
                defer { if let held = taken(&t.scope, had: hadScope) { scopeList[s].scope = held } }
                if context == .scope {
                    try body(&t)
                    continue
                }
                try items(&scopeList[s], &t)
            }
        }
    }

    /// The data points of `t.metric`, whatever its type; the metric's data is out of it meanwhile, so its shape
    /// is kept in the target for `metric.type` and the like.
    private static func points(_ t: inout OTTLTarget, _ body: (inout OTTLTarget) throws -> Void) rethrows {
        guard let data = t.metric.data else { return }
        t.metric.data = nil
        switch data {
        case .gauge(var g):
            t.metricShape = .init(type: 1, temporality: 0, isMonotonic: false)
            defer { t.metric.data = .gauge(g) }
            for i in g.dataPoints.indices {
                t.point = .number(g.dataPoints[i])
                g.dataPoints[i] = .init()
                defer {
                    if case .number(let p) = t.point { g.dataPoints[i] = p }
                    t.point = .none
                }
                try body(&t)
            }
        case .sum(var s):
            t.metricShape = .init(type: 2, temporality: Int64(s.aggregationTemporality.rawValue), isMonotonic: s.isMonotonic)
            defer { t.metric.data = .sum(s) }
            for i in s.dataPoints.indices {
                t.point = .number(s.dataPoints[i])
                s.dataPoints[i] = .init()
                defer {
                    if case .number(let p) = t.point { s.dataPoints[i] = p }
                    t.point = .none
                }
                try body(&t)
            }
        case .histogram(var h):
            t.metricShape = .init(type: 3, temporality: Int64(h.aggregationTemporality.rawValue), isMonotonic: false)
            defer { t.metric.data = .histogram(h) }
            for i in h.dataPoints.indices {
                t.point = .histogram(h.dataPoints[i])
                h.dataPoints[i] = .init()
                defer {
                    if case .histogram(let p) = t.point { h.dataPoints[i] = p }
                    t.point = .none
                }
                try body(&t)
            }
        case .exponentialHistogram(var h):
            t.metricShape = .init(type: 4, temporality: Int64(h.aggregationTemporality.rawValue), isMonotonic: false)
            defer { t.metric.data = .exponentialHistogram(h) }
            for i in h.dataPoints.indices {
                t.point = .exponentialHistogram(h.dataPoints[i])
                h.dataPoints[i] = .init()
                defer {
                    if case .exponentialHistogram(let p) = t.point { h.dataPoints[i] = p }
                    t.point = .none
                }
                try body(&t)
            }
        case .summary(var s):
            t.metricShape = .init(type: 5, temporality: 0, isMonotonic: false)
            defer { t.metric.data = .summary(s) }
            for i in s.dataPoints.indices {
                t.point = .summary(s.dataPoints[i])
                s.dataPoints[i] = .init()
                defer {
                    if case .summary(let p) = t.point { s.dataPoints[i] = p }
                    t.point = .none
                }
                try body(&t)
            }
        }
    }

    /// What goes back into the message a resource or scope was taken from: nil when it was absent and is still
    /// empty, so that it stays absent (assigning even an empty value would mark it present).
    private static func taken<M: Equatable>(_ held: inout M, had: Bool, empty: M) -> M? {
        defer { held = empty }
        return had || held != empty ? held : nil
    }

    private static func taken(_ held: inout Resource, had: Bool) -> Resource? { taken(&held, had: had, empty: Resource()) }

    private static func taken(_ held: inout InstrumentationScope, had: Bool) -> InstrumentationScope? {
        taken(&held, had: had, empty: InstrumentationScope())
    }
}

/// A resource-level message (`ResourceSpans`, `ResourceLogs`, `ResourceMetrics`), as the walk reaches its resource.
protocol OTTLResourceLevel {
    var resource: Resource { get set }
    var hasResource: Bool { get }
    mutating func clearResource()
}

/// A scope-level message (`ScopeSpans`, `ScopeLogs`, `ScopeMetrics`), as the walk reaches its scope.
protocol OTTLScopeLevel {
    var scope: InstrumentationScope { get set }
    var hasScope: Bool { get }
    mutating func clearScope()
}

extension ResourceSpans: OTTLResourceLevel {}
extension ResourceLogs: OTTLResourceLevel {}
extension ResourceMetrics: OTTLResourceLevel {}
extension ScopeSpans: OTTLScopeLevel {}
extension Opentelemetry_Proto_Logs_V1_ScopeLogs: OTTLScopeLevel {}
extension Opentelemetry_Proto_Metrics_V1_ScopeMetrics: OTTLScopeLevel {}
