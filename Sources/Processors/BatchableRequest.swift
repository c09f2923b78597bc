import OTLP

/// A request the batch processor can merge and split: traces (counted in spans), metrics (in data points) and
/// logs (in log records), as otelcol counts them.
public protocol BatchableRequest: Sendable {
    init()
    /// Items in the request, in the unit `send_batch_size` counts.
    var itemCount: Int { get }
    /// Appends `other`'s resources after this request's.
    mutating func append(_ other: Self)
    /// Removes the first `count` items (in order) and returns them as a request with the same resource and scope
    /// structure; what is left keeps the rest.
    mutating func removeFirst(items count: Int) -> Self
}

extension ExportTraceRequest: BatchableRequest {
    public var itemCount: Int { spanCount }

    public mutating func append(_ other: Self) { resourceSpans.append(contentsOf: other.resourceSpans) }

    public mutating func removeFirst(items count: Int) -> Self {
        var head = Self()
        head.resourceSpans = takeFirst(count, from: &resourceSpans, scopes: \.scopeSpans, items: \.spans)
        return head
    }
}

extension ExportLogsRequest: BatchableRequest {
    public var itemCount: Int { logRecordCount }

    public mutating func append(_ other: Self) { resourceLogs.append(contentsOf: other.resourceLogs) }

    public mutating func removeFirst(items count: Int) -> Self {
        var head = Self()
        head.resourceLogs = takeFirst(count, from: &resourceLogs, scopes: \.scopeLogs, items: \.logRecords)
        return head
    }
}

extension ExportMetricsRequest: BatchableRequest {
    public var itemCount: Int { dataPointCount }

    public mutating func append(_ other: Self) { resourceMetrics.append(contentsOf: other.resourceMetrics) }

    /// Splits at data-point granularity: a metric whose points straddle the cut appears in both halves with the
    /// same name, description, unit and type, each holding its share of the points.
    public mutating func removeFirst(items count: Int) -> Self {
        var head = Self()
        var remaining = count
        while remaining > 0, !resourceMetrics.isEmpty {
            var rm = resourceMetrics[0]
            var headRM = rm
            headRM.scopeMetrics = []
            while remaining > 0, !rm.scopeMetrics.isEmpty {
                var sm = rm.scopeMetrics[0]
                var headSM = sm
                headSM.metrics = []
                while remaining > 0, !sm.metrics.isEmpty {
                    var metric = sm.metrics[0]
                    let points = metric.pointCount
                    if points <= remaining {
                        headSM.metrics.append(metric)
                        sm.metrics.removeFirst()
                        remaining -= points
                    } else {
                        headSM.metrics.append(metric.removeFirstPoints(remaining))
                        sm.metrics[0] = metric
                        remaining = 0
                    }
                }
                headRM.scopeMetrics.append(headSM)
                if sm.metrics.isEmpty { rm.scopeMetrics.removeFirst() } else { rm.scopeMetrics[0] = sm }
            }
            head.resourceMetrics.append(headRM)
            if rm.scopeMetrics.isEmpty { resourceMetrics.removeFirst() } else { resourceMetrics[0] = rm }
        }
        return head
    }
}

extension Opentelemetry_Proto_Metrics_V1_Metric {
    /// Data points in this metric.
    var pointCount: Int {
        switch data {
        case .gauge(let g)?: g.dataPoints.count
        case .sum(let s)?: s.dataPoints.count
        case .histogram(let h)?: h.dataPoints.count
        case .exponentialHistogram(let h)?: h.dataPoints.count
        case .summary(let s)?: s.dataPoints.count
        case nil: 0
        }
    }

    /// Moves the first `n` points into a copy of this metric (same metadata), which it returns.
    mutating func removeFirstPoints(_ n: Int) -> Self {
        var head = self
        switch data {
        case .gauge(var g)?:
            var h = g
            h.dataPoints = Array(g.dataPoints.prefix(n))
            g.dataPoints.removeFirst(n)
            head.gauge = h
            gauge = g
        case .sum(var s)?:
            var h = s
            h.dataPoints = Array(s.dataPoints.prefix(n))
            s.dataPoints.removeFirst(n)
            head.sum = h
            sum = s
        case .histogram(var x)?:
            var h = x
            h.dataPoints = Array(x.dataPoints.prefix(n))
            x.dataPoints.removeFirst(n)
            head.histogram = h
            histogram = x
        case .exponentialHistogram(var x)?:
            var h = x
            h.dataPoints = Array(x.dataPoints.prefix(n))
            x.dataPoints.removeFirst(n)
            head.exponentialHistogram = h
            exponentialHistogram = x
        case .summary(var s)?:
            var h = s
            h.dataPoints = Array(s.dataPoints.prefix(n))
            s.dataPoints.removeFirst(n)
            head.summary = h
            summary = s
        case nil:
            break
        }
        return head
    }
}

/// Moves the first `count` items out of a resource → scope → item hierarchy, keeping each resource's and scope's
/// metadata on both sides of the cut.
private func takeFirst<R, S, I>(
    _ count: Int, from resources: inout [R], scopes: WritableKeyPath<R, [S]>, items: WritableKeyPath<S, [I]>
) -> [R] {
    var out: [R] = []
    var remaining = count
    while remaining > 0, !resources.isEmpty {
        var resource = resources[0]
        var headResource = resource
        headResource[keyPath: scopes] = []
        while remaining > 0, !resource[keyPath: scopes].isEmpty {
            var scope = resource[keyPath: scopes][0]
            let available = scope[keyPath: items].count
            if available <= remaining {
                headResource[keyPath: scopes].append(scope)
                resource[keyPath: scopes].removeFirst()
                remaining -= available
            } else {
                var headScope = scope
                headScope[keyPath: items] = Array(scope[keyPath: items].prefix(remaining))
                scope[keyPath: items].removeFirst(remaining)
                headResource[keyPath: scopes].append(headScope)
                resource[keyPath: scopes][0] = scope
                remaining = 0
            }
        }
        out.append(headResource)
        if resource[keyPath: scopes].isEmpty { resources.removeFirst() } else { resources[0] = resource }
    }
    return out
}
