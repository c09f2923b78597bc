import OTLP

/// An OTLP item with an attribute list: spans, span events, log records, data points, resources.
public protocol AttributeCarrier {
    var attributes: [KeyValue] { get set }
}

extension Span: AttributeCarrier {}
extension Span.Event: AttributeCarrier {}
extension Resource: AttributeCarrier {}
extension Opentelemetry_Proto_Logs_V1_LogRecord: AttributeCarrier {}
extension Opentelemetry_Proto_Metrics_V1_NumberDataPoint: AttributeCarrier {}
extension Opentelemetry_Proto_Metrics_V1_HistogramDataPoint: AttributeCarrier {}
extension Opentelemetry_Proto_Metrics_V1_ExponentialHistogramDataPoint: AttributeCarrier {}
extension Opentelemetry_Proto_Metrics_V1_SummaryDataPoint: AttributeCarrier {}

extension AttributeCarrier {
    /// Edits the attribute list in place. The item gives up its reference to the list first, so the list is
    /// uniquely owned while `body` runs and is not copied (spans keep their fields behind a shared storage object
    /// whose setter would otherwise copy the list).
    @inline(__always)
    mutating func editAttributes(_ body: (inout [KeyValue]) -> Void) {
        var list = attributes
        attributes = []
        body(&list)
        attributes = list
    }
}

/// Visits every data point of a metric, whatever its type, in place.
enum DataPoints {
    /// Calls `body` with each data point's attributes, for editing.
    static func editAttributes(of metric: inout Metric, _ body: (inout [KeyValue]) -> Void) {
        guard var data = metric.data else { return }
        metric.data = nil
        switch data {
        case .gauge(var g):
            data = .gauge(.init())
            for i in g.dataPoints.indices { g.dataPoints[i].editAttributes(body) }
            data = .gauge(g)
        case .sum(var s):
            data = .sum(.init())
            for i in s.dataPoints.indices { s.dataPoints[i].editAttributes(body) }
            data = .sum(s)
        case .histogram(var h):
            data = .histogram(.init())
            for i in h.dataPoints.indices { h.dataPoints[i].editAttributes(body) }
            data = .histogram(h)
        case .exponentialHistogram(var h):
            data = .exponentialHistogram(.init())
            for i in h.dataPoints.indices { h.dataPoints[i].editAttributes(body) }
            data = .exponentialHistogram(h)
        case .summary(var s):
            data = .summary(.init())
            for i in s.dataPoints.indices { s.dataPoints[i].editAttributes(body) }
            data = .summary(s)
        }
        metric.data = data
    }

    /// Removes the data points for which `drop` (given the point's attributes) is true and returns how many remain
    /// (as otelcol, a typed metric left with none, or that had none, counts 0; a metric with no data type set is
    /// never dropped and counts 1).
    static func removeAll(of metric: inout Metric, where drop: ([KeyValue]) -> Bool) -> Int {
        guard let data = metric.data else { return 1 }
        switch data {
        case .gauge(var g):
            guard g.dataPoints.contains(where: { drop($0.attributes) }) else { return g.dataPoints.count }
            g.dataPoints.removeAll { drop($0.attributes) }
            metric.data = .gauge(g)
            return g.dataPoints.count
        case .sum(var s):
            guard s.dataPoints.contains(where: { drop($0.attributes) }) else { return s.dataPoints.count }
            s.dataPoints.removeAll { drop($0.attributes) }
            metric.data = .sum(s)
            return s.dataPoints.count
        case .histogram(var h):
            guard h.dataPoints.contains(where: { drop($0.attributes) }) else { return h.dataPoints.count }
            h.dataPoints.removeAll { drop($0.attributes) }
            metric.data = .histogram(h)
            return h.dataPoints.count
        case .exponentialHistogram(var h):
            guard h.dataPoints.contains(where: { drop($0.attributes) }) else { return h.dataPoints.count }
            h.dataPoints.removeAll { drop($0.attributes) }
            metric.data = .exponentialHistogram(h)
            return h.dataPoints.count
        case .summary(var s):
            guard s.dataPoints.contains(where: { drop($0.attributes) }) else { return s.dataPoints.count }
            s.dataPoints.removeAll { drop($0.attributes) }
            metric.data = .summary(s)
            return s.dataPoints.count
        }
    }
}
