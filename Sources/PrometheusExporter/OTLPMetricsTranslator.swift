import CollectorCore
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
    /// Label sets already built, by attribute bytes (for ``translate(_:)-(EncodedMetrics)``).
    let labelSets = LabelSetCache()
    /// Resource and scope labels already built, by the bytes they come from (same).
    let scopeLabels = ScopeLabelsCache()

    public init() {}

    /// What one request becomes.
    public struct Output: Sendable, Equatable {
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
            let resource = resourceLabels(rm.resource.attributes)
            if let target = resource.target { out.targets.append(target) }
            for sm in rm.scopeMetrics {
                let fixed = fixedLabels(resource.identity, sm.scope, schemaURL: sm.schemaURL)
                for metric in sm.metrics {
                    translate(metric, resourcePairs: resource.pairs, fixed: fixed, into: &out)
                }
            }
        }
        return out
    }

    /// The same translation from the wire form: gauges, sums and histograms without exemplars (what exporters send
    /// over and over) are read from the index, their label sets taken from ``labelSets`` by attribute bytes;
    /// anything else is decoded and translated as above. Throws only when a part the index vouched for does not
    /// decode (which would be a bug in the index).
    public func translate(_ request: EncodedMetrics) throws -> Output {
        var out = Output()
        out.updates.reserveCapacity(request.dataPointCount)
        for re in request.resources {
            func resource() throws -> ResourceLabels {
                resourceLabels(try re.resource.map { try request.message($0, as: Resource.self).attributes } ?? [])
            }
            if re.scopes.isEmpty, let target = try resource().target { out.targets.append(target) }
            for scopeIndex in re.scopes {
                let se = request.scopes[scopeIndex]
                // An absent resource or scope reads as an empty one: the same bytes, the same labels.
                let key = ScopeLabelsCache.key(
                    resource: re.resource.map { request.bytes[$0] } ?? [],
                    scope: se.scope.map { request.bytes[$0] } ?? [], schemaURL: request.bytes[se.schemaURL])
                let labels = try scopeLabels.labels(key) {
                    let resource = try resource()
                    let scope = try se.scope.map { try request.message($0, as: InstrumentationScope.self) } ?? InstrumentationScope()
                    let fixed = fixedLabels(resource.identity, scope, schemaURL: request.string(se.schemaURL))
                    return ScopeLabelsCache.Labels(
                        target: resource.target, resourcePairs: resource.pairs, fixed: fixed,
                        context: labelSets.context(Self.contextText(resource.pairs, fixed)))
                }
                if scopeIndex == re.scopes.lowerBound, let target = labels.target { out.targets.append(target) }
                let fixed = labels.fixed
                let context = labels.context
                let resourcePairs = labels.resourcePairs
                var recent = RecentLabelSets()
                for metricIndex in se.metrics {
                    let m = request.metrics[metricIndex]
                    let fast: Bool =
                        switch m.kind {
                        case .gauge, .sum, .histogram: !request.points[m.points].contains { $0.hasExemplars }
                        case .none, .exponentialHistogram, .summary: false
                        }
                    if fast {
                        try translate(
                            m, of: request, context: context, resourcePairs: resourcePairs, fixed: fixed, recent: &recent, into: &out)
                    } else {
                        translate(
                            try request.message(m.body, as: Opentelemetry_Proto_Metrics_V1_Metric.self),
                            resourcePairs: resourcePairs, fixed: fixed, into: &out)
                    }
                }
            }
        }
        return out
    }

    /// What a resource contributes to labels.
    private struct ResourceLabels {
        /// `job` and `instance`.
        var identity: [(name: String, value: String)]
        /// With `resource_to_telemetry_conversion`, its attributes as label candidates.
        var pairs: [PrometheusLabels.Entry]
        /// Its `target_info` label set, when it has attributes other than the identifying ones.
        var target: String?
    }

    private func resourceLabels(_ attrs: [KeyValue]) -> ResourceLabels {
        let serviceName = attrs.stringValue("service.name") ?? ""
        let job = attrs.stringValue("service.namespace").map { ns in serviceName.isEmpty ? ns + "/" : ns + "/" + serviceName } ?? serviceName
        let instance = attrs.stringValue("service.instance.id") ?? ""
        var identity: [(name: String, value: String)] = []
        if !job.isEmpty { identity.append(("job", job)) }
        if !instance.isEmpty { identity.append(("instance", instance)) }

        let others = attrs.filter { !["service.name", "service.namespace", "service.instance.id"].contains($0.key) }
        var target: String?
        if !others.isEmpty {
            let pairs = others.map { ($0.key, Self.string($0.value)) }
            target = PrometheusLabels.render(Self.merge(PrometheusLabels.build(pairs), identity))
        }
        let resourcePairs: [PrometheusLabels.Entry] =
            resourceToTelemetry ? attrs.filter { !$0.key.isEmpty }.map { .attribute($0.key, Self.string($0.value)) } : []
        return ResourceLabels(identity: identity, pairs: resourcePairs, target: target)
    }

    /// The labels every point of a scope gets: `job`, `instance`, const labels and the `otel_scope_*` labels.
    private func fixedLabels(_ identity: [(name: String, value: String)], _ scope: InstrumentationScope, schemaURL: String) -> [PrometheusLabels
        .Entry]
    {
        var fixed = (identity + constLabels).map { PrometheusLabels.Entry.fixed($0.name, $0.value) }
        if !withoutScopeInfo {
            if !scope.name.isEmpty { fixed.append(.fixed("otel_scope_name", scope.name)) }
            if !scope.version.isEmpty { fixed.append(.fixed("otel_scope_version", scope.version)) }
            if !schemaURL.isEmpty { fixed.append(.fixed("otel_scope_schema_url", schemaURL)) }
            for kv in scope.attributes { fixed.append(.fixed(PrometheusLabels.sanitize("otel_scope_" + kv.key), Self.string(kv.value))) }
        }
        return fixed
    }

    /// Text that differs whenever the label candidates around a point differ (for ``LabelSetCache/context(_:)``).
    static func contextText(_ resourcePairs: [PrometheusLabels.Entry], _ fixed: [PrometheusLabels.Entry]) -> String {
        var text = ""
        for e in resourcePairs + fixed {
            text += e.fixed ? "F" : "A"
            text += String(e.name.utf8.count) + ":" + e.name + String(e.key.utf8.count) + ":" + e.key + String(e.value.utf8.count) + ":" + e.value
        }
        return text
    }

    /// A gauge, sum or histogram without exemplars, from the index.
    private func translate(
        _ m: EncodedMetrics.MetricEntry, of request: EncodedMetrics, context: UInt64, resourcePairs: [PrometheusLabels.Entry],
        fixed: [PrometheusLabels.Entry], recent: inout RecentLabelSets, into out: inout Output
    ) throws {
        recent.startMetric()
        let kind: PrometheusNaming.Kind =
            switch m.kind {
            case .sum: m.isMonotonic ? .counter : .nonMonotonicSum
            case .histogram: .histogram
            case .gauge, .none, .exponentialHistogram, .summary: .gauge
            }
        // The closure takes the two settings it needs, not `self` (which it copied for every metric).
        let (namespace, addSuffixes) = (namespace, addMetricSuffixes)
        let translated = request.bytes.withUnsafeBytes { bytes in
            names.entry(name: UnsafeRawBufferPointer(rebasing: bytes[m.name]), unit: UnsafeRawBufferPointer(rebasing: bytes[m.unit]), kind: kind) {
                Self.translatedNames(request.string(m.name), unit: request.string(m.unit), kind: kind, namespace: namespace, addSuffixes: addSuffixes)
            }
        }
        guard translated.writable else {
            out.unsupported += m.points.count
            return
        }
        let family = translated.family
        let help = request.string(m.description)
        func labels(_ p: EncodedMetrics.PointEntry, reserving reserved: LabelSetCache.Reserved) throws -> LabelSet? {
            if let hit = recent.labels(of: p.attributes, reserving: reserved, in: request) { return hit }
            let made = try cachedLabels(p, reserving: reserved)
            recent.record(p.attributes, reserving: reserved, made)
            return made
        }
        func cachedLabels(_ p: EncodedMetrics.PointEntry, reserving reserved: LabelSetCache.Reserved) throws -> LabelSet? {
            let key = LabelSetCache.Key(context: context, reserved: reserved, attributes: request.slice(p.attributes))
            if let hit = labelSets.lookup(key) { return hit }
            var entries = self.entries(try request.attributes(of: p), resourcePairs, fixed)
            let made: LabelSet? =
                switch reserved {
                case .none: LabelSet(PrometheusLabels.labelSet(&entries) ?? "")
                case .le: PrometheusLabels.labelSet(&entries, reserving: "le").map { LabelSet($0) }
                case .quantile: PrometheusLabels.labelSet(&entries, reserving: "quantile").map { LabelSet($0) }
                }
            labelSets.insert(key, made)
            return made
        }
        let temporality: SeriesUpdate.Temporality? =
            switch m.temporality {
            case 2: .cumulative
            case 1: .delta
            default: nil
            }
        switch m.kind {
        case .gauge:
            for p in request.points[m.points] {
                out.updates.append(
                    SeriesUpdate(
                        family: family, type: .gauge, help: help, labels: try labels(p, reserving: .none) ?? .empty,
                        value: .number(p.value), startNanos: p.start, timeNanos: p.time,
                        noRecordedValue: p.flags & 1 != 0))
            }
        case .sum:
            guard let temporality, temporality == .cumulative || m.isMonotonic else {
                out.unsupported += m.points.count
                return
            }
            let type: ExpositionType = m.isMonotonic ? .counter : .gauge
            // No exemplars here: a monotonic sum's series still gets its one (empty) exemplar slot.
            let exemplars: [Exemplar?] = m.isMonotonic ? [nil] : []
            for p in request.points[m.points] {
                out.updates.append(
                    SeriesUpdate(
                        family: family, type: type, help: help, labels: try labels(p, reserving: .none) ?? .empty,
                        value: .number(p.value), temporality: temporality, startNanos: p.start,
                        timeNanos: p.time, exemplars: exemplars, noRecordedValue: p.flags & 1 != 0))
            }
        case .histogram:
            guard let temporality else {
                out.unsupported += m.points.count
                return
            }
            // Points of one metric nearly always share their bounds: decode them once and share the array.
            var boundsBytes: Range<Int>?
            var bounds: [Double] = []
            for p in request.points[m.points] {
                guard let labels = try labels(p, reserving: .le) else {
                    out.conflicts += 1
                    continue
                }
                if boundsBytes.map({ !request.bytesEqual($0, p.explicitBounds) }) ?? true {
                    bounds = request.doubles(p.explicitBounds)
                    boundsBytes = p.explicitBounds
                }
                let value = HistogramValue(
                    bounds: bounds, counts: Self.counts(request.fixed64s(p.bucketCounts), buckets: bounds.count + 1),
                    sum: p.sum ?? 0, count: p.count)
                out.updates.append(
                    SeriesUpdate(
                        family: family, type: .histogram, help: help, labels: labels,
                        value: .histogram(value), temporality: temporality, startNanos: p.start,
                        timeNanos: p.time, noRecordedValue: p.flags & 1 != 0))
            }
        case .none, .exponentialHistogram, .summary:
            break
        }
    }

    private func labels(_ attributes: [KeyValue], _ resourcePairs: [PrometheusLabels.Entry], _ fixed: [PrometheusLabels.Entry]) -> LabelSet {
        var entries = self.entries(attributes, resourcePairs, fixed)
        return LabelSet(PrometheusLabels.labelSet(&entries) ?? "")
    }

    /// Labels of a histogram or summary point, or `nil` when an attribute would clash with the `le` / `quantile`
    /// label the exposition adds (Prometheus rejects such a series; otelcol fails to collect it).
    private func labels(
        _ attributes: [KeyValue], _ resourcePairs: [PrometheusLabels.Entry], _ fixed: [PrometheusLabels.Entry], reserving reserved: String
    ) -> LabelSet? {
        var entries = self.entries(attributes, resourcePairs, fixed)
        return PrometheusLabels.labelSet(&entries, reserving: reserved).map { LabelSet($0) }
    }

    private func entries(_ attributes: [KeyValue], _ resourcePairs: [PrometheusLabels.Entry], _ fixed: [PrometheusLabels.Entry]) -> [PrometheusLabels
        .Entry]
    {
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

    private func translate(
        _ metric: Opentelemetry_Proto_Metrics_V1_Metric, resourcePairs: [PrometheusLabels.Entry], fixed: [PrometheusLabels.Entry],
        into out: inout Output
    ) {
        let help = metric.description_p
        let kind: PrometheusNaming.Kind =
            switch metric.data {
            case .sum(let s)?: s.isMonotonic ? .counter : .nonMonotonicSum
            case .histogram?, .exponentialHistogram?: .histogram
            case .summary?: .summary
            case .gauge?, nil: .gauge
            }
        let translated = names.entry(name: metric.name, unit: metric.unit, kind: kind) {
            Self.translatedNames(metric.name, unit: metric.unit, kind: kind, namespace: namespace, addSuffixes: addMetricSuffixes)
        }
        // A name with no letters or digits at all cannot be written; Prometheus would reject it.
        guard translated.writable else {
            out.unsupported += Self.pointCount(metric)
            return
        }
        let family = translated.family
        switch metric.data {
        case .gauge(let g)?:
            for p in g.dataPoints {
                out.updates.append(
                    SeriesUpdate(
                        family: family, type: .gauge, help: help, labels: labels(p.attributes, resourcePairs, fixed),
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
            for p in s.dataPoints {
                let exemplars: [Exemplar?] = s.isMonotonic ? [p.exemplars.last.map(Self.exemplar)] : []
                out.updates.append(
                    SeriesUpdate(
                        family: family, type: type, help: help, labels: labels(p.attributes, resourcePairs, fixed),
                        value: .number(Self.number(p)), temporality: temporality, startNanos: p.startTimeUnixNano,
                        timeNanos: p.timeUnixNano, exemplars: exemplars, noRecordedValue: p.flags & 1 != 0))
            }
        case .histogram(let h)?:
            guard let temporality = Self.temporality(h.aggregationTemporality) else {
                out.unsupported += h.dataPoints.count
                return
            }
            for p in h.dataPoints {
                guard let labels = labels(p.attributes, resourcePairs, fixed, reserving: "le") else {
                    out.conflicts += 1
                    continue
                }
                let value = HistogramValue(
                    bounds: p.explicitBounds, counts: Self.counts(p.bucketCounts, buckets: p.explicitBounds.count + 1),
                    sum: p.hasSum ? p.sum : 0, count: p.count)
                out.updates.append(
                    SeriesUpdate(
                        family: family, type: .histogram, help: help, labels: labels,
                        value: .histogram(value), temporality: temporality, startNanos: p.startTimeUnixNano,
                        timeNanos: p.timeUnixNano, exemplars: Self.bucketExemplars(p.exemplars, bounds: p.explicitBounds),
                        noRecordedValue: p.flags & 1 != 0))
            }
        case .exponentialHistogram(let h)?:
            guard let temporality = Self.temporality(h.aggregationTemporality) else {
                out.unsupported += h.dataPoints.count
                return
            }
            for p in h.dataPoints {
                guard p.positive.bucketCounts.count + p.negative.bucketCounts.count <= ExponentialBuckets.maxBuckets else {
                    out.unsupported += 1
                    continue
                }
                guard let labels = labels(p.attributes, resourcePairs, fixed, reserving: "le") else {
                    out.conflicts += 1
                    continue
                }
                let value = ExponentialBuckets.explicit(p)
                out.updates.append(
                    SeriesUpdate(
                        family: family, type: .histogram, help: help, labels: labels,
                        value: .histogram(value), temporality: temporality, startNanos: p.startTimeUnixNano,
                        timeNanos: p.timeUnixNano, noRecordedValue: p.flags & 1 != 0))
            }
        case .summary(let s)?:
            for p in s.dataPoints {
                guard let labels = labels(p.attributes, resourcePairs, fixed, reserving: "quantile") else {
                    out.conflicts += 1
                    continue
                }
                let value = SummaryValue(quantiles: p.quantileValues.map { ($0.quantile, $0.value) }, sum: p.sum, count: p.count)
                out.updates.append(
                    SeriesUpdate(
                        family: family, type: .summary, help: help, labels: labels,
                        value: .summary(value), startNanos: p.startTimeUnixNano, timeNanos: p.timeUnixNano,
                        noRecordedValue: p.flags & 1 != 0))
            }
        case nil:
            break
        }
    }

    /// The family name of a metric for `kind`, and whether the metric can be written at all.
    private static func translatedNames(
        _ name: String, unit: String, kind: PrometheusNaming.Kind, namespace: String, addSuffixes: Bool
    ) -> MetricNameCache.Entry {
        func translated(_ kind: PrometheusNaming.Kind) -> String {
            PrometheusNaming.metricName(name, unit: unit, kind: kind, namespace: namespace, addSuffixes: addSuffixes)
        }
        let gauge = translated(.gauge)
        return MetricNameCache.Entry(family: kind == .gauge ? gauge : translated(kind), writable: PrometheusNaming.isValidMetricName(gauge))
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
        let value: Double =
            switch e.value {
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

    static func jsonString(_ s: String) -> String { JSONStringLiteral.quoted(s) }
}
