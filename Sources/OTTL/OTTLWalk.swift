import OTLP

/// Visits every item of one context in a request with an ``OTTLTarget`` holding the item and the items it sits in.
/// Each item is moved into the target while `body` runs and moved back after, so edits do not copy it (swift-protobuf
/// messages share storage until written), and a resource or scope that was absent stays absent if nothing was
/// set in it.
public enum OTTLWalk {
    public static func traces(_ request: inout ExportTraceRequest, _ context: OTTLContext,
                              _ body: (inout OTTLTarget) throws -> Void) rethrows {
        var t = OTTLTarget()
        var resources = request.resourceSpans
        request.resourceSpans = []
        defer { request.resourceSpans = resources }
        for r in resources.indices {
            let hadResource = resources[r].hasResource
            t.resource = resources[r].resource
            resources[r].clearResource()
            defer { if let held = taken(&t.resource, had: hadResource) { resources[r].resource = held } }
            if context == .resource { try body(&t); continue }
            var scopes = resources[r].scopeSpans
            resources[r].scopeSpans = []
            defer { resources[r].scopeSpans = scopes }
            for s in scopes.indices {
                let hadScope = scopes[s].hasScope
                t.scope = scopes[s].scope
                scopes[s].clearScope()
                defer { if let held = taken(&t.scope, had: hadScope) { scopes[s].scope = held } }
                if context == .scope { try body(&t); continue }
                var spans = scopes[s].spans
                scopes[s].spans = []
                defer { scopes[s].spans = spans }
                for i in spans.indices {
                    swap(&t.span, &spans[i])
                    defer { swap(&t.span, &spans[i]) }
                    if context == .span { try body(&t); continue }
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
    }

    public static func logs(_ request: inout ExportLogsRequest, _ context: OTTLContext,
                            _ body: (inout OTTLTarget) throws -> Void) rethrows {
        var t = OTTLTarget()
        var resources = request.resourceLogs
        request.resourceLogs = []
        defer { request.resourceLogs = resources }
        for r in resources.indices {
            let hadResource = resources[r].hasResource
            t.resource = resources[r].resource
            resources[r].clearResource()
            defer { if let held = taken(&t.resource, had: hadResource) { resources[r].resource = held } }
            if context == .resource { try body(&t); continue }
            var scopes = resources[r].scopeLogs
            resources[r].scopeLogs = []
            defer { resources[r].scopeLogs = scopes }
            for s in scopes.indices {
                let hadScope = scopes[s].hasScope
                t.scope = scopes[s].scope
                scopes[s].clearScope()
                defer { if let held = taken(&t.scope, had: hadScope) { scopes[s].scope = held } }
                if context == .scope { try body(&t); continue }
                var records = scopes[s].logRecords
                scopes[s].logRecords = []
                defer { scopes[s].logRecords = records }
                for i in records.indices {
                    swap(&t.log, &records[i])
                    defer { swap(&t.log, &records[i]) }
                    try body(&t)
                }
            }
        }
    }

    public static func metrics(_ request: inout ExportMetricsRequest, _ context: OTTLContext,
                               _ body: (inout OTTLTarget) throws -> Void) rethrows {
        var t = OTTLTarget()
        var resources = request.resourceMetrics
        request.resourceMetrics = []
        defer { request.resourceMetrics = resources }
        for r in resources.indices {
            let hadResource = resources[r].hasResource
            t.resource = resources[r].resource
            resources[r].clearResource()
            defer { if let held = taken(&t.resource, had: hadResource) { resources[r].resource = held } }
            if context == .resource { try body(&t); continue }
            var scopes = resources[r].scopeMetrics
            resources[r].scopeMetrics = []
            defer { resources[r].scopeMetrics = scopes }
            for s in scopes.indices {
                let hadScope = scopes[s].hasScope
                t.scope = scopes[s].scope
                scopes[s].clearScope()
                defer { if let held = taken(&t.scope, had: hadScope) { scopes[s].scope = held } }
                if context == .scope { try body(&t); continue }
                var metrics = scopes[s].metrics
                scopes[s].metrics = []
                defer { scopes[s].metrics = metrics }
                for i in metrics.indices {
                    swap(&t.metric, &metrics[i])
                    defer { swap(&t.metric, &metrics[i]) }
                    if context == .metric { try body(&t); continue }
                    try points(&t, body)
                }
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
                defer { if case .number(let p) = t.point { g.dataPoints[i] = p }; t.point = .none }
                try body(&t)
            }
        case .sum(var s):
            t.metricShape = .init(type: 2, temporality: Int64(s.aggregationTemporality.rawValue), isMonotonic: s.isMonotonic)
            defer { t.metric.data = .sum(s) }
            for i in s.dataPoints.indices {
                t.point = .number(s.dataPoints[i])
                s.dataPoints[i] = .init()
                defer { if case .number(let p) = t.point { s.dataPoints[i] = p }; t.point = .none }
                try body(&t)
            }
        case .histogram(var h):
            t.metricShape = .init(type: 3, temporality: Int64(h.aggregationTemporality.rawValue), isMonotonic: false)
            defer { t.metric.data = .histogram(h) }
            for i in h.dataPoints.indices {
                t.point = .histogram(h.dataPoints[i])
                h.dataPoints[i] = .init()
                defer { if case .histogram(let p) = t.point { h.dataPoints[i] = p }; t.point = .none }
                try body(&t)
            }
        case .exponentialHistogram(var h):
            t.metricShape = .init(type: 4, temporality: Int64(h.aggregationTemporality.rawValue), isMonotonic: false)
            defer { t.metric.data = .exponentialHistogram(h) }
            for i in h.dataPoints.indices {
                t.point = .exponentialHistogram(h.dataPoints[i])
                h.dataPoints[i] = .init()
                defer { if case .exponentialHistogram(let p) = t.point { h.dataPoints[i] = p }; t.point = .none }
                try body(&t)
            }
        case .summary(var s):
            t.metricShape = .init(type: 5, temporality: 0, isMonotonic: false)
            defer { t.metric.data = .summary(s) }
            for i in s.dataPoints.indices {
                t.point = .summary(s.dataPoints[i])
                s.dataPoints[i] = .init()
                defer { if case .summary(let p) = t.point { s.dataPoints[i] = p }; t.point = .none }
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
