import Foundation
import OTLP

/// Metrics requests with a bit of everything, drawn from a seeded generator: every data kind, temporalities known
/// and unknown, attribute keys that need sanitizing or collide after it, non-string values, reserved label names,
/// exemplars, flags, resources and scopes present, absent or empty. For tests that compare two implementations.
public enum RandomMetricsRequests {
    public typealias Metric = Opentelemetry_Proto_Metrics_V1_Metric

    static let keys = ["a", "b", "a.b", "a_b", "9lives", "_x", "__y", "__name__", "le", "quantile", "ünï", "http.method", ""]
    static let names = ["load.metric_0", "requests", "rpc.latency", "queue.depth", "ratio", "!!!", "size", "http.server.duration"]
    static let units = ["", "1", "ms", "s", "By", "{items}", "%"]

    public static func request(_ g: inout SplitMix64) -> ExportMetricsRequest {
        var r = ExportMetricsRequest()
        for _ in 0..<(1 + g.below(2)) {
            var rm = ResourceMetrics()
            if g.chance(0.8) {
                var attrs: [(String, String)] = [("service.name", g.pick(["checkout", "cart", ""]))]
                if g.chance(0.3) { attrs.append(("service.namespace", "shop")) }
                if g.chance(0.3) { attrs.append(("service.instance.id", "i-\(g.below(3))")) }
                if g.chance(0.4) { attrs.append(("host.name", "h\(g.below(2))")) }
                rm.resource.attributes = attrs.map { kv($0.0, .string($0.1)) }
            }
            if g.chance(0.2) { rm.schemaURL = "https://opentelemetry.io/schemas/1.21.0" }
            // Now and then a resource without scopes: it still has its target_info.
            for _ in 0..<(g.chance(0.1) ? 0 : 1 + g.below(2)) {
                var sm = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
                if g.chance(0.8) {
                    sm.scope.name = g.pick(["demo", "io.opentelemetry.x", ""])
                    if g.chance(0.5) { sm.scope.version = "1.\(g.below(3))" }
                    if g.chance(0.2) { sm.scope.attributes = [kv("scope.k", .string("v"))] }
                }
                if g.chance(0.2) { sm.schemaURL = "https://example.com/s" }
                sm.metrics = (0..<(1 + g.below(6))).map { _ in metric(&g) }
                // Metrics of one scope often carry the same attribute sets in the same order, now and then with
                // one point different (the wire path's translation reuses its neighbour's label set).
                for i in sm.metrics.indices.dropFirst() where g.chance(0.5) {
                    var attributes = pointAttributes(sm.metrics[i - 1])
                    if !attributes.isEmpty, g.chance(0.3) { attributes[g.below(attributes.count)] = [kv(g.pick(keys), value(&g))] }
                    setPointAttributes(&sm.metrics[i], attributes)
                }
                rm.scopeMetrics.append(sm)
            }
            r.resourceMetrics.append(rm)
        }
        return r
    }

    public static func metric(_ g: inout SplitMix64) -> Metric {
        var m = Metric()
        m.name = g.pick(names)
        m.unit = g.pick(units)
        if g.chance(0.3) { m.description_p = "What it \"measures\"\\\n" }
        let temporalities: [Opentelemetry_Proto_Metrics_V1_AggregationTemporality] = [
            .cumulative, .cumulative, .delta, .unspecified, .UNRECOGNIZED(7),
        ]
        let n = g.below(5)
        switch g.below(6) {
        case 0:
            m.gauge.dataPoints = (0..<n).map { _ in numberPoint(&g) }
        case 1:
            m.sum.isMonotonic = g.chance(0.7)
            m.sum.aggregationTemporality = g.pick(temporalities)
            m.sum.dataPoints = (0..<n).map { _ in numberPoint(&g) }
        case 2:
            m.histogram.aggregationTemporality = g.pick(temporalities)
            m.histogram.dataPoints = (0..<n).map { _ in histogramPoint(&g) }
        case 3:
            m.exponentialHistogram.aggregationTemporality = g.pick(temporalities)
            m.exponentialHistogram.dataPoints = (0..<n).map { _ in
                var p = Opentelemetry_Proto_Metrics_V1_ExponentialHistogramDataPoint()
                common(&g, &p.attributes, &p.startTimeUnixNano, &p.timeUnixNano, &p.flags)
                p.scale = Int32(g.below(3))
                p.zeroCount = UInt64(g.below(3))
                p.positive.offset = Int32(g.below(3)) - 1
                p.positive.bucketCounts = (0..<g.below(4)).map { _ in UInt64(g.below(5)) }
                p.count = p.zeroCount + p.positive.bucketCounts.reduce(0, +)
                if g.chance(0.7) { p.sum = Double(g.below(100)) }
                return p
            }
        case 4:
            m.summary.dataPoints = (0..<n).map { _ in
                var p = Opentelemetry_Proto_Metrics_V1_SummaryDataPoint()
                common(&g, &p.attributes, &p.startTimeUnixNano, &p.timeUnixNano, &p.flags)
                p.count = UInt64(g.below(10))
                p.sum = Double(g.below(100))
                p.quantileValues = [0.5, 0.99].map { q in
                    .with {
                        $0.quantile = q
                        $0.value = Double(g.below(50))
                    }
                }
                return p
            }
        default:
            break  // no data
        }
        return m
    }

    static func numberPoint(_ g: inout SplitMix64) -> Opentelemetry_Proto_Metrics_V1_NumberDataPoint {
        var p = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
        common(&g, &p.attributes, &p.startTimeUnixNano, &p.timeUnixNano, &p.flags)
        switch g.below(3) {
        case 0: p.asDouble = Double(g.below(1000)) / 8
        case 1: p.asInt = Int64(g.below(1000)) - 500
        default: break
        }
        if g.chance(0.15) { p.exemplars = [exemplar(&g)] }
        return p
    }

    static func histogramPoint(_ g: inout SplitMix64) -> Opentelemetry_Proto_Metrics_V1_HistogramDataPoint {
        var p = Opentelemetry_Proto_Metrics_V1_HistogramDataPoint()
        common(&g, &p.attributes, &p.startTimeUnixNano, &p.timeUnixNano, &p.flags)
        p.explicitBounds = g.pick([[1, 5, 10], [1, 5, 10], [0.5], []])
        // Sometimes a count per bucket, sometimes too few or too many (a malformed point must not break anything).
        p.bucketCounts = (0..<(p.explicitBounds.count + 1 + g.below(3) - 1)).map { _ in UInt64(g.below(9)) }
        p.count = p.bucketCounts.reduce(0, +)
        if g.chance(0.8) { p.sum = Double(g.below(500)) }
        if g.chance(0.2) {
            p.min = 0
            p.max = 9
        }
        if g.chance(0.15) { p.exemplars = [exemplar(&g), exemplar(&g)] }
        return p
    }

    static func exemplar(_ g: inout SplitMix64) -> Opentelemetry_Proto_Metrics_V1_Exemplar {
        var e = Opentelemetry_Proto_Metrics_V1_Exemplar()
        e.asDouble = Double(g.below(20))
        e.timeUnixNano = 1_700_000_000_000_000_000
        e.traceID = Data((0..<16).map { _ in UInt8(g.below(256)) })
        e.spanID = Data((0..<8).map { _ in UInt8(g.below(256)) })
        return e
    }

    static func common(_ g: inout SplitMix64, _ attributes: inout [KeyValue], _ start: inout UInt64, _ time: inout UInt64, _ flags: inout UInt32) {
        attributes = (0..<g.below(4)).map { _ in kv(g.pick(keys), value(&g)) }
        start = UInt64(g.below(3))
        time = UInt64(2 + g.below(3))
        flags = g.chance(0.1) ? 1 : 0
    }

    static func value(_ g: inout SplitMix64) -> AnyValue {
        switch g.below(8) {
        case 0: return .with { $0.intValue = Int64(g.below(10)) }
        case 1: return .with { $0.boolValue = g.chance(0.5) }
        case 2: return .with { $0.doubleValue = Double(g.below(10)) / 4 }
        case 3: return .with { $0.bytesValue = Data([1, 2, 3]) }
        case 4: return .with { $0.arrayValue.values = [.string("x"), .with { $0.intValue = 1 }] }
        default: return .string(g.pick(["v", "w", "", "quote\"d", "line\nbreak", "x\(g.below(5))"]))
        }
    }

    /// The attributes of each of a metric's points, in order.
    static func pointAttributes(_ m: Metric) -> [[KeyValue]] {
        switch m.data {
        case .gauge(let d)?: d.dataPoints.map(\.attributes)
        case .sum(let d)?: d.dataPoints.map(\.attributes)
        case .histogram(let d)?: d.dataPoints.map(\.attributes)
        case .exponentialHistogram(let d)?: d.dataPoints.map(\.attributes)
        case .summary(let d)?: d.dataPoints.map(\.attributes)
        case nil: []
        }
    }

    /// Gives the metric's points `attributes` by position (as far as both go).
    static func setPointAttributes(_ m: inout Metric, _ attributes: [[KeyValue]]) {
        func set<P>(_ points: inout [P], _ path: WritableKeyPath<P, [KeyValue]>) {
            for i in points.indices where i < attributes.count { points[i][keyPath: path] = attributes[i] }
        }
        switch m.data {
        case .gauge(var d)?:
            set(&d.dataPoints, \.attributes)
            m.gauge = d
        case .sum(var d)?:
            set(&d.dataPoints, \.attributes)
            m.sum = d
        case .histogram(var d)?:
            set(&d.dataPoints, \.attributes)
            m.histogram = d
        case .exponentialHistogram(var d)?:
            set(&d.dataPoints, \.attributes)
            m.exponentialHistogram = d
        case .summary(var d)?:
            set(&d.dataPoints, \.attributes)
            m.summary = d
        case nil:
            break
        }
    }

    static func kv(_ key: String, _ value: AnyValue) -> KeyValue {
        var kv = KeyValue()
        kv.key = key
        kv.value = value
        return kv
    }
}
