import Foundation
import OTLP

typealias OTLPMetric = Opentelemetry_Proto_Metrics_V1_Metric
typealias NumberPoint = Opentelemetry_Proto_Metrics_V1_NumberDataPoint
typealias HistogramPoint = Opentelemetry_Proto_Metrics_V1_HistogramDataPoint

/// Small builders for OTLP metrics requests in tests.
enum Metrics {
    static func attrs(_ pairs: [(String, String)]) -> [KeyValue] {
        pairs.map { k, v in
            var kv = KeyValue()
            kv.key = k
            kv.value = .string(v)
            return kv
        }
    }

    static func request(
        resource: [(String, String)] = [("service.name", "checkout")], scope: String = "demo", scopeVersion: String = "1.0",
        _ metrics: [OTLPMetric]
    ) -> ExportMetricsRequest {
        var rm = ResourceMetrics()
        rm.resource.attributes = attrs(resource)
        var sm = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
        sm.scope.name = scope
        sm.scope.version = scopeVersion
        sm.metrics = metrics
        rm.scopeMetrics = [sm]
        var r = ExportMetricsRequest()
        r.resourceMetrics = [rm]
        return r
    }

    static func point(_ value: Double, _ labels: [(String, String)] = [], start: UInt64 = 1, time: UInt64 = 2, flags: UInt32 = 0) -> NumberPoint {
        var p = NumberPoint()
        p.asDouble = value
        p.attributes = attrs(labels)
        p.startTimeUnixNano = start
        p.timeUnixNano = time
        p.flags = flags
        return p
    }

    static func gauge(_ name: String, unit: String = "", description: String = "", _ points: [NumberPoint]) -> OTLPMetric {
        var m = OTLPMetric()
        m.name = name
        m.unit = unit
        m.description_p = description
        var g = Opentelemetry_Proto_Metrics_V1_Gauge()
        g.dataPoints = points
        m.gauge = g
        return m
    }

    static func sum(
        _ name: String, unit: String = "", monotonic: Bool = true, temporality: Opentelemetry_Proto_Metrics_V1_AggregationTemporality = .cumulative,
        _ points: [NumberPoint]
    ) -> OTLPMetric {
        var m = OTLPMetric()
        m.name = name
        m.unit = unit
        var s = Opentelemetry_Proto_Metrics_V1_Sum()
        s.isMonotonic = monotonic
        s.aggregationTemporality = temporality
        s.dataPoints = points
        m.sum = s
        return m
    }

    static func histogram(
        _ name: String, unit: String = "", temporality: Opentelemetry_Proto_Metrics_V1_AggregationTemporality = .cumulative,
        bounds: [Double], counts: [UInt64], sum: Double, labels: [(String, String)] = [], start: UInt64 = 1, time: UInt64 = 2,
        exemplar: (value: Double, trace: Data, span: Data)? = nil
    ) -> OTLPMetric {
        var p = HistogramPoint()
        p.explicitBounds = bounds
        p.bucketCounts = counts
        p.count = counts.reduce(0, +)
        p.sum = sum
        p.attributes = attrs(labels)
        p.startTimeUnixNano = start
        p.timeUnixNano = time
        if let e = exemplar {
            var x = Opentelemetry_Proto_Metrics_V1_Exemplar()
            x.asDouble = e.value
            x.traceID = e.trace
            x.spanID = e.span
            x.timeUnixNano = 1_700_000_000_000_000_000
            p.exemplars = [x]
        }
        var m = OTLPMetric()
        m.name = name
        m.unit = unit
        var h = Opentelemetry_Proto_Metrics_V1_Histogram()
        h.aggregationTemporality = temporality
        h.dataPoints = [p]
        m.histogram = h
        return m
    }
}
