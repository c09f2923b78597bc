import Foundation
import OTLP

/// The metrics workload (`--signal metrics`): the shape `bench/prometheus_e2e.py` sends (otelcol's Metric10kDPS test,
/// ~100 points per request). One request holds one resource (`service.name` only), one scope and 15 metrics of 7
/// data points, by turns a gauge, a cumulative monotonic sum and a cumulative histogram (5 bounds); their names
/// repeat every 10 metrics. Each point has 3 string attributes, one of which (`item_index`) takes 1,000 values across
/// the `variants` requests the generator cycles through, so the store holds thousands of series, as with the Python
/// client. Points start a second before the request's time and end at it.
extension PayloadTemplate {
    static let metricsPerRequest = 15
    static let pointsPerMetric = 7
    static let pointsPerRequest = metricsPerRequest * pointsPerMetric
    /// Distinct requests cycled through (the Python client's 200 bodies).
    static let metricsVariants = 200

    /// Request `seq` of the cycle.
    static func makeMetrics(seq: Int) throws -> PayloadTemplate {
        var placeholders = Placeholders()
        var slots: [UInt64: (Slot, UInt64?)] = [:]
        var resourceMetrics = Opentelemetry_Proto_Metrics_V1_ResourceMetrics()
        resourceMetrics.resource.attributes = [Placeholders.kv("service.name", "load-generator")]
        var scope = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
        scope.scope.name = "bench"
        for m in 0..<metricsPerRequest {
            var metric = Opentelemetry_Proto_Metrics_V1_Metric()
            metric.name = "load_generator.metric_\(m % 10)"
            metric.unit = m % 3 == 2 ? "ms" : "1"
            var numbers: [Opentelemetry_Proto_Metrics_V1_NumberDataPoint] = []
            var histograms: [Opentelemetry_Proto_Metrics_V1_HistogramDataPoint] = []
            for p in 0..<pointsPerMetric {
                let start = placeholders.next()
                let time = placeholders.next()
                slots[start] = (.time(delta: -1_000_000_000), nil)
                slots[time] = (.time(delta: 0), nil)
                let attributes = [
                    Placeholders.kv("item_index", String((seq * 7 + p) % 1000)), Placeholders.kv("a", "value-\(p)"),
                    Placeholders.kv("b", "constant"),
                ]
                if m % 3 == 2 {
                    var point = Opentelemetry_Proto_Metrics_V1_HistogramDataPoint()
                    point.startTimeUnixNano = start
                    point.timeUnixNano = time
                    point.attributes = attributes
                    point.explicitBounds = [1, 5, 10, 50, 100]
                    point.bucketCounts = [1, 2, 3, 4, 5, 6]
                    point.count = 21
                    point.sum = 500
                    histograms.append(point)
                } else {
                    var point = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
                    point.startTimeUnixNano = start
                    point.timeUnixNano = time
                    point.attributes = attributes
                    point.asDouble = Double(seq)
                    numbers.append(point)
                }
            }
            switch m % 3 {
            case 0: metric.gauge.dataPoints = numbers
            case 1:
                metric.sum.isMonotonic = true
                metric.sum.aggregationTemporality = .cumulative
                metric.sum.dataPoints = numbers
            default:
                metric.histogram.aggregationTemporality = .cumulative
                metric.histogram.dataPoints = histograms
            }
            scope.metrics.append(metric)
        }
        resourceMetrics.scopeMetrics = [scope]
        var request = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest()
        request.resourceMetrics = [resourceMetrics]
        return try locate(try request.serializedBytes(), slots, traces: 0, spans: 0)
    }

    /// Decodes a patched metrics payload and checks its shape; returns a one-line summary.
    static func validateMetrics(_ buffer: [UInt8], baseNanos: Int64) throws -> String {
        func fail(_ m: String) -> LoadGenError { .internalError("metrics payload self-check failed: \(m)") }
        let req = try Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest(serializedBytes: buffer)
        guard req.resourceMetrics.count == 1, req.resourceMetrics[0].scopeMetrics.count == 1 else {
            throw fail("expected one resource and one scope")
        }
        let metrics = req.resourceMetrics[0].scopeMetrics[0].metrics
        var points = 0
        for m in metrics {
            switch m.data {
            case .gauge(let g): points += g.dataPoints.count
            case .sum(let s): points += s.dataPoints.count
            case .histogram(let h):
                guard h.dataPoints.allSatisfy({ abs(Int64(bitPattern: $0.timeUnixNano) - baseNanos) < 1_000_000_000 }) else {
                    throw fail("point times")
                }
                points += h.dataPoints.count
            default: throw fail("metric type")
            }
        }
        guard points == pointsPerRequest else { throw fail("point count \(points)") }
        return "\(metrics.count) metrics of \(points) data points"
    }
}
