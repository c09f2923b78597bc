import OTLP

/// Removes the items of one context for which `drop` holds, as the filter processor's OTTL conditions do: whole
/// resources, spans, span events, metrics, data points or log records. A metric left without data points, and
/// scopes and resources left empty, are removed too. Returns the number of items removed.
public enum OTTLFilter {
    @discardableResult
    public static func traces(
        _ request: inout ExportTraceRequest, _ context: OTTLContext,
        _ drop: (inout OTTLTarget) throws -> Bool
    ) throws -> Int {
        var removed = 0
        var t = OTTLTarget()
        try eachScope(&request.resourceSpans, scopes: \.scopeSpans, count: { $0.spans.count }, context, &t, drop, &removed) { ss, t, removed in
            var spans = ss.spans
            ss.spans = []
            defer { ss.spans = spans }
            try spans.filterInPlace { span in
                swap(&t.span, &span)
                defer { swap(&t.span, &span) }
                if context == .span { return try !dropped(&t, drop, &removed) }
                var events = t.span.events
                t.span.events = []
                defer { t.span.events = events }
                try events.filterInPlace { event in
                    swap(&t.event, &event)
                    defer { swap(&t.event, &event) }
                    return try !dropped(&t, drop, &removed)
                }
                return true
            }
            return !spans.isEmpty
        }
        return removed
    }

    @discardableResult
    public static func logs(
        _ request: inout ExportLogsRequest, _ context: OTTLContext,
        _ drop: (inout OTTLTarget) throws -> Bool
    ) throws -> Int {
        var removed = 0
        var t = OTTLTarget()
        try eachScope(&request.resourceLogs, scopes: \.scopeLogs, count: { $0.logRecords.count }, context, &t, drop, &removed) { sl, t, removed in
            var records = sl.logRecords
            sl.logRecords = []
            defer { sl.logRecords = records }
            try records.filterInPlace { record in
                swap(&t.log, &record)
                defer { swap(&t.log, &record) }
                return try !dropped(&t, drop, &removed)
            }
            return !records.isEmpty
        }
        return removed
    }

    @discardableResult
    public static func metrics(
        _ request: inout ExportMetricsRequest, _ context: OTTLContext,
        _ drop: (inout OTTLTarget) throws -> Bool
    ) throws -> Int {
        var removed = 0
        var t = OTTLTarget()
        try eachScope(&request.resourceMetrics, scopes: \.scopeMetrics, count: { $0.metrics.count }, context, &t, drop, &removed) { sm, t, removed in
            var metrics = sm.metrics
            sm.metrics = []
            defer { sm.metrics = metrics }
            try metrics.filterInPlace { metric in
                swap(&t.metric, &metric)
                defer { swap(&t.metric, &metric) }
                if context == .metric { return try !dropped(&t, drop, &removed) }
                let (kept, gone) = try points(&t, drop)
                removed += gone
                return kept
            }
            return !metrics.isEmpty
        }
        return removed
    }

    /// The resource and scope levels the signals share: in the resource context, drops whole resources (counting
    /// their items with `count`); otherwise hands each scope to `items` with the target (resource and scope filled)
    /// and the count of removed items; `items` filters the scope's items and says whether any are left. Scopes and
    /// resources left empty are removed.
    private static func eachScope<R: OTTLResourceLevel, S: OTTLScopeLevel>(
        _ resources: inout [R], scopes: WritableKeyPath<R, [S]>, count: (S) -> Int, _ context: OTTLContext,
        _ t: inout OTTLTarget, _ drop: (inout OTTLTarget) throws -> Bool, _ removed: inout Int,
        _ items: (inout S, inout OTTLTarget, inout Int) throws -> Bool
    ) throws {
        try resources.filterInPlace { r in
            t.resource = r.resource
            if context == .resource {
                let gone = try drop(&t)
                if gone { removed += r[keyPath: scopes].reduce(0) { $0 + count($1) } }
                return !gone
            }
            var list = r[keyPath: scopes]
            r[keyPath: scopes] = []
            defer { r[keyPath: scopes] = list }
            try list.filterInPlace { scope in
                t.scope = scope.scope
                return try items(&scope, &t, &removed)
            }
            return !list.isEmpty
        }
    }

    /// Whether `drop` holds for the target's item, counting it when it does.
    @inline(__always)
    private static func dropped(_ t: inout OTTLTarget, _ drop: (inout OTTLTarget) throws -> Bool, _ removed: inout Int) throws -> Bool {
        let gone = try drop(&t)
        if gone { removed += 1 }
        return gone
    }

    /// Filters `t.metric`'s data points; whether the metric keeps any (a metric with no data type is kept).
    private static func points(_ t: inout OTTLTarget, _ drop: (inout OTTLTarget) throws -> Bool) throws -> (kept: Bool, removed: Int) {
        guard let data = t.metric.data else { return (true, 0) }
        t.metric.data = nil
        var removed = 0
        func keep<P>(_ list: inout [P], _ wrap: (P) -> OTTLDataPoint, _ shape: OTTLTarget.MetricShape) throws -> Bool {
            t.metricShape = shape
            try list.filterInPlace { p in
                t.point = wrap(p)
                defer { t.point = .none }
                let gone = try drop(&t)
                if gone { removed += 1 }
                return !gone
            }
            return !list.isEmpty
        }
        let kept: Bool
        switch data {
        case .gauge(var g):
            kept = try keep(&g.dataPoints, { .number($0) }, .init(type: 1))
            t.metric.data = .gauge(g)
        case .sum(var s):
            kept = try keep(
                &s.dataPoints, { .number($0) },
                .init(type: 2, temporality: Int64(s.aggregationTemporality.rawValue), isMonotonic: s.isMonotonic))
            t.metric.data = .sum(s)
        case .histogram(var h):
            kept = try keep(&h.dataPoints, { .histogram($0) }, .init(type: 3, temporality: Int64(h.aggregationTemporality.rawValue)))
            t.metric.data = .histogram(h)
        case .exponentialHistogram(var h):
            kept = try keep(&h.dataPoints, { .exponentialHistogram($0) }, .init(type: 4, temporality: Int64(h.aggregationTemporality.rawValue)))
            t.metric.data = .exponentialHistogram(h)
        case .summary(var s):
            kept = try keep(&s.dataPoints, { .summary($0) }, .init(type: 5))
            t.metric.data = .summary(s)
        }
        return (kept, removed)
    }
}
