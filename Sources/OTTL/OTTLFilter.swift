import OTLP

/// Removes the items of one context for which `drop` holds, as the filter processor's OTTL conditions do: whole
/// resources, spans, span events, metrics, data points or log records. A metric left without data points, and
/// scopes and resources left empty, are removed too. Returns the number of items removed.
public enum OTTLFilter {
    @discardableResult
    public static func traces(_ request: inout ExportTraceRequest, _ context: OTTLContext,
                              _ drop: (inout OTTLTarget) throws -> Bool) throws -> Int {
        var removed = 0
        var t = OTTLTarget()
        try request.resourceSpans.filterInPlace { rs in
            t.resource = rs.resource
            if context == .resource {
                let gone = try drop(&t)
                if gone { removed += rs.scopeSpans.reduce(0) { $0 + $1.spans.count } }
                return !gone
            }
            var scopes = rs.scopeSpans
            rs.scopeSpans = []
            defer { rs.scopeSpans = scopes }
            try scopes.filterInPlace { ss in
                t.scope = ss.scope
                var spans = ss.spans
                ss.spans = []
                defer { ss.spans = spans }
                try spans.filterInPlace { span in
                    swap(&t.span, &span)
                    defer { swap(&t.span, &span) }
                    if context == .span {
                        let gone = try drop(&t)
                        if gone { removed += 1 }
                        return !gone
                    }
                    var events = t.span.events
                    t.span.events = []
                    defer { t.span.events = events }
                    try events.filterInPlace { event in
                        swap(&t.event, &event)
                        defer { swap(&t.event, &event) }
                        let gone = try drop(&t)
                        if gone { removed += 1 }
                        return !gone
                    }
                    return true
                }
                return !spans.isEmpty
            }
            return !scopes.isEmpty
        }
        return removed
    }

    @discardableResult
    public static func logs(_ request: inout ExportLogsRequest, _ context: OTTLContext,
                            _ drop: (inout OTTLTarget) throws -> Bool) throws -> Int {
        var removed = 0
        var t = OTTLTarget()
        try request.resourceLogs.filterInPlace { rl in
            t.resource = rl.resource
            if context == .resource {
                let gone = try drop(&t)
                if gone { removed += rl.scopeLogs.reduce(0) { $0 + $1.logRecords.count } }
                return !gone
            }
            var scopes = rl.scopeLogs
            rl.scopeLogs = []
            defer { rl.scopeLogs = scopes }
            try scopes.filterInPlace { sl in
                t.scope = sl.scope
                var records = sl.logRecords
                sl.logRecords = []
                defer { sl.logRecords = records }
                try records.filterInPlace { record in
                    swap(&t.log, &record)
                    defer { swap(&t.log, &record) }
                    let gone = try drop(&t)
                    if gone { removed += 1 }
                    return !gone
                }
                return !records.isEmpty
            }
            return !scopes.isEmpty
        }
        return removed
    }

    @discardableResult
    public static func metrics(_ request: inout ExportMetricsRequest, _ context: OTTLContext,
                               _ drop: (inout OTTLTarget) throws -> Bool) throws -> Int {
        var removed = 0
        var t = OTTLTarget()
        try request.resourceMetrics.filterInPlace { rm in
            t.resource = rm.resource
            if context == .resource {
                let gone = try drop(&t)
                if gone { removed += rm.scopeMetrics.reduce(0) { $0 + $1.metrics.count } }
                return !gone
            }
            var scopes = rm.scopeMetrics
            rm.scopeMetrics = []
            defer { rm.scopeMetrics = scopes }
            try scopes.filterInPlace { sm in
                t.scope = sm.scope
                var metrics = sm.metrics
                sm.metrics = []
                defer { sm.metrics = metrics }
                try metrics.filterInPlace { metric in
                    swap(&t.metric, &metric)
                    defer { swap(&t.metric, &metric) }
                    if context == .metric {
                        let gone = try drop(&t)
                        if gone { removed += 1 }
                        return !gone
                    }
                    let (kept, gone) = try points(&t, drop)
                    removed += gone
                    return kept
                }
                return !metrics.isEmpty
            }
            return !scopes.isEmpty
        }
        return removed
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
            kept = try keep(&s.dataPoints, { .number($0) },
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
