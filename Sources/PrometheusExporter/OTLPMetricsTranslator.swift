import Foundation
import OTLP

/// Turns OTLP metrics into series updates, following otelcol's `prometheus` exporter (see docs/configuration.md):
/// names per ``PrometheusNaming``, labels per ``PrometheusLabels``, `job`/`instance` from the resource, other
/// resource attributes on `target_info`, scope labels `otel_scope_*`.
public struct OTLPMetricsTranslator: Sendable {
    public var namespace = ""
    public var constLabels: [(name: String, value: String)] = []
    public var resourceToTelemetry = false
    public var addMetricSuffixes = true
    public var withoutScopeInfo = false
    /// Metric names already translated (the same few metrics arrive again and again).
    let names = MetricNameCache()

    public init() {}

    /// What one request becomes.
    public struct Output: Sendable {
        public var updates: [SeriesUpdate] = []
        /// `target_info` label sets of the request's resources.
        public var targets: [String] = []
        /// Points the exporter cannot represent and drops, as otelcol does (delta non-monotonic sums, unspecified
        /// temporality, names without any valid character).
        public var unsupported = 0
        /// Points whose labels clash with the exposition's own (`le` on a histogram, `quantile` on a summary).
        public var conflicts = 0
    }

    public func translate(_ request: ExportMetricsRequest) -> Output {
        var out = Output()
        out.updates.reserveCapacity(request.dataPointCount)
        for rm in request.resourceMetrics {
            let attrs = rm.resource.attributes
            let serviceName = attrs.stringValue("service.name") ?? ""
            let job = attrs.stringValue("service.namespace").map { ns in serviceName.isEmpty ? ns + "/" : ns + "/" + serviceName } ?? serviceName
            let instance = attrs.stringValue("service.instance.id") ?? ""
            var identity: [(name: String, value: String)] = []
            if !job.isEmpty { identity.append(("job", job)) }
            if !instance.isEmpty { identity.append(("instance", instance)) }

            let others = attrs.filter { !["service.name", "service.namespace", "service.instance.id"].contains($0.key) }
            if !others.isEmpty {
                let pairs = others.map { ($0.key, Self.string($0.value)) }
                out.targets.append(PrometheusLabels.render(Self.merge(PrometheusLabels.build(pairs), identity)))
            }
            let resourcePairs: [PrometheusLabels.Entry] = resourceToTelemetry ? attrs.filter { !$0.key.isEmpty }.map { .attribute($0.key, Self.string($0.value)) } : []

            for sm in rm.scopeMetrics {
                var fixed = (identity + constLabels).map { PrometheusLabels.Entry.fixed($0.name, $0.value) }
                if !withoutScopeInfo {
                    let scope = sm.scope
                    if !scope.name.isEmpty { fixed.append(.fixed("otel_scope_name", scope.name)) }
                    if !scope.version.isEmpty { fixed.append(.fixed("otel_scope_version", scope.version)) }
                    if !sm.schemaURL.isEmpty { fixed.append(.fixed("otel_scope_schema_url", sm.schemaURL)) }
                    for kv in scope.attributes { fixed.append(.fixed(PrometheusLabels.sanitize("otel_scope_" + kv.key), Self.string(kv.value))) }
                }
                for metric in sm.metrics {
                    translate(metric, resourcePairs: resourcePairs, fixed: fixed, into: &out)
                }
            }
        }
        return out
    }

    private func labels(_ attributes: [KeyValue], _ resourcePairs: [PrometheusLabels.Entry], _ fixed: [PrometheusLabels.Entry]) -> String {
        var entries = self.entries(attributes, resourcePairs, fixed)
        return PrometheusLabels.labelSet(&entries) ?? ""
    }

    /// Labels of a histogram or summary point, or `nil` when an attribute would clash with the `le` / `quantile`
    /// label the exposition adds (Prometheus rejects such a series; otelcol fails to collect it).
    private func labels(_ attributes: [KeyValue], _ resourcePairs: [PrometheusLabels.Entry], _ fixed: [PrometheusLabels.Entry], reserving reserved: String) -> String? {
        var entries = self.entries(attributes, resourcePairs, fixed)
        return PrometheusLabels.labelSet(&entries, reserving: reserved)
    }

    private func entries(_ attributes: [KeyValue], _ resourcePairs: [PrometheusLabels.Entry], _ fixed: [PrometheusLabels.Entry]) -> [PrometheusLabels.Entry] {
        var entries = resourcePairs
        entries.reserveCapacity(resourcePairs.count + attributes.count + fixed.count)
        for kv in attributes where !kv.key.isEmpty { entries.append(.attribute(kv.key, Self.string(kv.value))) }
        entries.append(contentsOf: fixed)
        return entries
    }

    /// `base` (sorted) with `overrides` set, re-sorted.
    static func merge(_ base: [(name: String, value: String)], _ overrides: [(name: String, value: String)]) -> [(name: String, value: String)] {
        guard !overrides.isEmpty else { return base }
        var out = base.filter { b in !overrides.contains { $0.name == b.name } }
        out.append(contentsOf: overrides)
        out.sort { $0.name < $1.name }
        return out
    }

    private func translate(_ metric: Opentelemetry_Proto_Metrics_V1_Metric, resourcePairs: [PrometheusLabels.Entry], fixed: [PrometheusLabels.Entry], into out: inout Output) {
        let help = metric.description_p
        func name(_ kind: PrometheusNaming.Kind) -> String {
            names.name(metric.name, unit: metric.unit, kind: kind) {
                PrometheusNaming.metricName(metric.name, unit: metric.unit, kind: kind, namespace: namespace, addSuffixes: addMetricSuffixes)
            }
        }
        // A name with no letters or digits at all cannot be written; Prometheus would reject it.
        guard PrometheusNaming.isValidMetricName(name(.gauge)) else {
            out.unsupported += Self.pointCount(metric)
            return
        }
        switch metric.data {
        case .gauge(let g)?:
            let family = name(.gauge)
            for p in g.dataPoints {
                out.updates.append(SeriesUpdate(family: family, type: .gauge, help: help, labels: labels(p.attributes, resourcePairs, fixed),
                                                value: .number(Self.number(p)), startNanos: p.startTimeUnixNano, timeNanos: p.timeUnixNano,
                                                noRecordedValue: p.flags & 1 != 0))
            }
        case .sum(let s)?:
            let temporality: SeriesUpdate.Temporality
            switch s.aggregationTemporality {
            case .cumulative: temporality = .cumulative
            case .delta where s.isMonotonic: temporality = .delta
            default:
                out.unsupported += s.dataPoints.count
                return
            }
            let type: ExpositionType = s.isMonotonic ? .counter : .gauge
            let family = name(s.isMonotonic ? .counter : .nonMonotonicSum)
            for p in s.dataPoints {
                let exemplars: [Exemplar?] = s.isMonotonic ? [p.exemplars.last.map(Self.exemplar)] : []
                out.updates.append(SeriesUpdate(family: family, type: type, help: help, labels: labels(p.attributes, resourcePairs, fixed),
                                                value: .number(Self.number(p)), temporality: temporality, startNanos: p.startTimeUnixNano,
                                                timeNanos: p.timeUnixNano, exemplars: exemplars, noRecordedValue: p.flags & 1 != 0))
            }
        case .histogram(let h)?:
            guard let temporality = Self.temporality(h.aggregationTemporality) else { out.unsupported += h.dataPoints.count; return }
            let family = name(.histogram)
            for p in h.dataPoints {
                guard let labels = labels(p.attributes, resourcePairs, fixed, reserving: "le") else { out.conflicts += 1; continue }
                let value = HistogramValue(bounds: p.explicitBounds, counts: Self.counts(p.bucketCounts, buckets: p.explicitBounds.count + 1),
                                           sum: p.hasSum ? p.sum : 0, count: p.count)
                out.updates.append(SeriesUpdate(family: family, type: .histogram, help: help, labels: labels,
                                                value: .histogram(value), temporality: temporality, startNanos: p.startTimeUnixNano,
                                                timeNanos: p.timeUnixNano, exemplars: Self.bucketExemplars(p.exemplars, bounds: p.explicitBounds),
                                                noRecordedValue: p.flags & 1 != 0))
            }
        case .exponentialHistogram(let h)?:
            guard let temporality = Self.temporality(h.aggregationTemporality) else { out.unsupported += h.dataPoints.count; return }
            let family = name(.histogram)
            for p in h.dataPoints {
                guard p.positive.bucketCounts.count + p.negative.bucketCounts.count <= ExponentialBuckets.maxBuckets else { out.unsupported += 1; continue }
                guard let labels = labels(p.attributes, resourcePairs, fixed, reserving: "le") else { out.conflicts += 1; continue }
                let value = ExponentialBuckets.explicit(p)
                out.updates.append(SeriesUpdate(family: family, type: .histogram, help: help, labels: labels,
                                                value: .histogram(value), temporality: temporality, startNanos: p.startTimeUnixNano,
                                                timeNanos: p.timeUnixNano, noRecordedValue: p.flags & 1 != 0))
            }
        case .summary(let s)?:
            let family = name(.summary)
            for p in s.dataPoints {
                guard let labels = labels(p.attributes, resourcePairs, fixed, reserving: "quantile") else { out.conflicts += 1; continue }
                let value = SummaryValue(quantiles: p.quantileValues.map { ($0.quantile, $0.value) }, sum: p.sum, count: p.count)
                out.updates.append(SeriesUpdate(family: family, type: .summary, help: help, labels: labels,
                                                value: .summary(value), startNanos: p.startTimeUnixNano, timeNanos: p.timeUnixNano,
                                                noRecordedValue: p.flags & 1 != 0))
            }
        case nil:
            break
        }
    }

    static func pointCount(_ m: Opentelemetry_Proto_Metrics_V1_Metric) -> Int {
        switch m.data {
        case .gauge(let g)?: g.dataPoints.count
        case .sum(let s)?: s.dataPoints.count
        case .histogram(let h)?: h.dataPoints.count
        case .exponentialHistogram(let h)?: h.dataPoints.count
        case .summary(let s)?: s.dataPoints.count
        case nil: 0
        }
    }

    static func temporality(_ t: Opentelemetry_Proto_Metrics_V1_AggregationTemporality) -> SeriesUpdate.Temporality? {
        switch t {
        case .cumulative: .cumulative
        case .delta: .delta
        default: nil
        }
    }

    static func number(_ p: Opentelemetry_Proto_Metrics_V1_NumberDataPoint) -> Double {
        switch p.value {
        case .asDouble(let d)?: d
        case .asInt(let i)?: Double(i)
        case nil: 0
        }
    }

    /// `counts` padded or cut to `buckets` entries (a malformed point must not break the exposition).
    static func counts(_ counts: [UInt64], buckets: Int) -> [UInt64] {
        if counts.count == buckets { return counts }
        if counts.count > buckets { return Array(counts.prefix(buckets)) }
        return counts + Array(repeating: 0, count: buckets - counts.count)
    }

    static func exemplar(_ e: Opentelemetry_Proto_Metrics_V1_Exemplar) -> Exemplar {
        var labels = ""
        if !e.traceID.isEmpty { labels = "trace_id=\"\(hex(e.traceID))\"" }
        if !e.spanID.isEmpty { labels += (labels.isEmpty ? "" : ",") + "span_id=\"\(hex(e.spanID))\"" }
        let value: Double = switch e.value {
        case .asDouble(let d)?: d
        case .asInt(let i)?: Double(i)
        case nil: 0
        }
        return Exemplar(labels: labels, value: value, timestamp: e.timeUnixNano > 0 ? Double(e.timeUnixNano) / 1e9 : nil)
    }

    /// The last exemplar falling into each bucket (index `bounds.count` is `+Inf`).
    static func bucketExemplars(_ exemplars: [Opentelemetry_Proto_Metrics_V1_Exemplar], bounds: [Double]) -> [Exemplar?] {
        guard !exemplars.isEmpty else { return [] }
        var out = [Exemplar?](repeating: nil, count: bounds.count + 1)
        for e in exemplars {
            let x = exemplar(e)
            let i = bounds.firstIndex { x.value <= $0 } ?? bounds.count
            out[i] = x
        }
        return out
    }

    static func hex(_ data: Data) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var bytes = [UInt8]()
        bytes.reserveCapacity(data.count * 2)
        for b in data {
            bytes.append(digits[Int(b >> 4)])
            bytes.append(digits[Int(b & 0xf)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// An attribute value as a label value (otelcol's `AsString`: JSON for arrays and maps, base64 for bytes).
    static func string(_ v: AnyValue) -> String {
        switch v.value {
        case .stringValue(let s)?: return s
        case .boolValue(let b)?: return b ? "true" : "false"
        case .intValue(let i)?: return String(i)
        case .doubleValue(let d)?: return formatValue(d)
        case .bytesValue(let d)?: return d.base64EncodedString()
        case .arrayValue(let a)?: return "[" + a.values.map(json).joined(separator: ",") + "]"
        case .kvlistValue(let l)?: return "{" + l.values.map { jsonString($0.key) + ":" + json($0.value) }.joined(separator: ",") + "}"
        default: return ""  // string-table references (profiles only) carry no value here
        }
    }

    static func json(_ v: AnyValue) -> String {
        switch v.value {
        case .stringValue(let s)?: return jsonString(s)
        case .bytesValue(let d)?: return jsonString(d.base64EncodedString())
        case nil: return "null"
        default: return string(v)
        }
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 { out += String(format: "\\u%04x", c.value) } else { out.unicodeScalars.append(c) }
            }
        }
        return out + "\""
    }
}
