import CollectorCore
import Foundation
import OTLP
import ServiceLifecycle
import Synchronization

/// The `spanmetrics` connector: RED metrics from spans. For every distinct (service, span name, kind, status code,
/// configured dimensions) it counts `calls` and records `duration` in a histogram, and sends both, cumulative,
/// down the metrics pipelines that list it every `metrics_flush_interval` (and once more at shutdown).
///
/// `consume` only aggregates (one lock per request); the SQLite exporter beside it in the traces pipeline stores the
/// same spans, so an exemplar's trace ID is a trace the store holds once the export was acknowledged.
public final class SpanMetricsConnector: Connector, TracesConsumer, Sendable {
    let config: SpanMetricsConfig
    let next: any MetricsConsumer
    let context: ComponentContext
    let overflowSpans: TelemetryCounter
    private let state = Mutex(State())
    private let startNanos = UInt64(Date().timeIntervalSince1970 * 1e9)
    private let includeDefault: (service: Bool, name: Bool, kind: Bool, status: Bool)

    struct Key: Hashable, Sendable {
        var service: String
        var name: String
        var kind: Int
        var status: Int
        var dimensions: [String?]
        var overflow = false
    }

    /// The latest span seen in a bucket (turned into an OTLP exemplar at flush).
    struct SpanSample: Sendable {
        var value: Double
        var trace: Data
        var span: Data
    }

    struct Entry: Sendable {
        var calls: UInt64 = 0
        var counts: [UInt64]
        var sum: Double = 0
        var exemplars: [SpanSample?]
    }

    struct State: Sendable {
        var entries: [Key: Entry] = [:]
    }

    public init(config: SpanMetricsConfig, next: any MetricsConsumer, context: ComponentContext) {
        self.config = config
        self.next = next
        self.context = context
        let excluded = Set(config.excludeDimensions)
        includeDefault = (
            !excluded.contains("service.name"), !excluded.contains("span.name"), !excluded.contains("span.kind"), !excluded.contains("status.code")
        )
        overflowSpans = context.telemetry.counter(
            "otelsink_spanmetrics_overflow_spans_total",
            help: "Spans counted in the overflow series because dimensions_cache_size was reached.",
            labels: ["connector": context.id.description])
    }

    public var consumers: SignalConsumers { SignalConsumers(traces: self) }

    public func consume(_ request: ExportTraceRequest) async throws {
        let scale = config.unit == .ms ? 1e-6 : 1e-9
        let buckets = config.buckets
        let limit = config.dimensionsCacheSize
        let exemplars = config.exemplars
        let dimensions = config.dimensions
        let include = includeDefault
        // One pass under the lock (a few hundred ns per span): no intermediate array of keys.
        let overflowed = state.withLock { s -> Int in
            var overflowed = 0
            for rs in request.resourceSpans {
                let service = include.service ? (rs.resource.attributes.stringValue("service.name") ?? "") : ""
                for ss in rs.scopeSpans {
                    for span in ss.spans {
                        var dims: [String?] = []
                        if !dimensions.isEmpty {
                            dims.reserveCapacity(dimensions.count)
                            for d in dimensions {
                                dims.append(
                                    Self.attribute(d.name, span.attributes) ?? Self.attribute(d.name, rs.resource.attributes) ?? d.defaultValue)
                            }
                        }
                        let key = Key(
                            service: service, name: include.name ? span.name : "", kind: include.kind ? span.kind.rawValue : -1,
                            status: include.status ? span.status.code.rawValue : -1, dimensions: dims)
                        let nanos = span.endTimeUnixNano > span.startTimeUnixNano ? span.endTimeUnixNano - span.startTimeUnixNano : 0
                        let value = Double(nanos) * scale
                        var bucket = 0
                        while bucket < buckets.count && value > buckets[bucket] { bucket += 1 }
                        // One hash per span: find the entry, create it (or fall back to the overflow series) only when new.
                        var index = s.entries.index(forKey: key)
                        if index == nil {
                            var newKey = key
                            if s.entries.count >= limit {
                                newKey = Key(service: "", name: "", kind: -1, status: -1, dimensions: [], overflow: true)
                                overflowed += 1
                            }
                            index = s.entries.index(forKey: newKey)
                            if index == nil {
                                s.entries[newKey] = Entry(
                                    counts: Array(repeating: 0, count: buckets.count + 1),
                                    exemplars: exemplars ? Array(repeating: nil, count: buckets.count + 1) : [])
                                index = s.entries.index(forKey: newKey)
                            }
                        }
                        guard let i = index else { continue }
                        s.entries.values[i].calls += 1
                        s.entries.values[i].counts[bucket] += 1
                        s.entries.values[i].sum += value
                        if exemplars { s.entries.values[i].exemplars[bucket] = SpanSample(value: value, trace: span.traceID, span: span.spanID) }
                    }
                }
            }
            return overflowed
        }
        overflowSpans.add(overflowed)
    }

    static func attribute(_ key: String, _ attributes: [KeyValue]) -> String? {
        for kv in attributes where kv.key == key {
            switch kv.value.value {
            case .stringValue(let s)?: return s
            case .intValue(let i)?: return String(i)
            case .doubleValue(let d)?: return String(d)
            case .boolValue(let b)?: return b ? "true" : "false"
            default: return nil
            }
        }
        return nil
    }

    /// The cumulative metrics as of now, one resource per service.
    public func metrics(nowNanos: UInt64 = UInt64(Date().timeIntervalSince1970 * 1e9)) -> ExportMetricsRequest {
        let entries = state.withLock { $0.entries }
        var byService: [String: [(Key, Entry)]] = [:]
        for (k, e) in entries { byService[k.service, default: []].append((k, e)) }
        var request = ExportMetricsRequest()
        for service in byService.keys.sorted() {
            guard let list = byService[service] else { continue }
            var calls = Opentelemetry_Proto_Metrics_V1_Metric()
            calls.name = config.namespace + ".calls"
            var sum = Opentelemetry_Proto_Metrics_V1_Sum()
            sum.isMonotonic = true
            sum.aggregationTemporality = .cumulative
            var duration = Opentelemetry_Proto_Metrics_V1_Metric()
            duration.name = config.namespace + ".duration"
            duration.unit = config.unit.rawValue
            var histogram = Opentelemetry_Proto_Metrics_V1_Histogram()
            histogram.aggregationTemporality = .cumulative
            for (k, e) in list {
                let attributes = self.attributes(k)
                var p = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
                p.attributes = attributes
                p.asInt = Int64(e.calls)
                p.startTimeUnixNano = startNanos
                p.timeUnixNano = nowNanos
                if let last = e.exemplars.last(where: { $0 != nil }) ?? nil {
                    p.exemplars = [Self.exemplar(last, value: 1, nowNanos: nowNanos)]
                }
                sum.dataPoints.append(p)
                var h = Opentelemetry_Proto_Metrics_V1_HistogramDataPoint()
                h.attributes = attributes
                h.explicitBounds = config.buckets
                h.bucketCounts = e.counts
                h.count = e.calls
                h.sum = e.sum
                h.startTimeUnixNano = startNanos
                h.timeUnixNano = nowNanos
                h.exemplars = e.exemplars.compactMap { $0 }.map { Self.exemplar($0, value: $0.value, nowNanos: nowNanos) }
                histogram.dataPoints.append(h)
            }
            calls.sum = sum
            duration.histogram = histogram
            var rm = ResourceMetrics()
            if !service.isEmpty { rm.resource.attributes = [Self.kv("service.name", service)] }
            var sm = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
            sm.scope.name = "spanmetricsconnector"
            sm.metrics = [calls, duration]
            rm.scopeMetrics = [sm]
            request.resourceMetrics.append(rm)
        }
        return request
    }

    static func exemplar(_ sample: SpanSample, value: Double, nowNanos: UInt64) -> Opentelemetry_Proto_Metrics_V1_Exemplar {
        var x = Opentelemetry_Proto_Metrics_V1_Exemplar()
        x.asDouble = value
        x.traceID = sample.trace
        x.spanID = sample.span
        x.timeUnixNano = nowNanos
        return x
    }

    func attributes(_ k: Key) -> [KeyValue] {
        if k.overflow {
            var kv = KeyValue()
            kv.key = "otel.metric.overflow"
            kv.value.boolValue = true
            return [kv]
        }
        var out: [KeyValue] = []
        if includeDefault.service { out.append(Self.kv("service.name", k.service)) }
        if includeDefault.name { out.append(Self.kv("span.name", k.name)) }
        if includeDefault.kind { out.append(Self.kv("span.kind", Self.kindName(k.kind))) }
        if includeDefault.status { out.append(Self.kv("status.code", Self.statusName(k.status))) }
        for (d, v) in zip(config.dimensions, k.dimensions) { if let v { out.append(Self.kv(d.name, v)) } }
        return out
    }

    static func kv(_ key: String, _ value: String) -> KeyValue {
        var kv = KeyValue()
        kv.key = key
        kv.value = .string(value)
        return kv
    }

    static func kindName(_ kind: Int) -> String {
        ["SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"][
            safe: kind] ?? "SPAN_KIND_UNSPECIFIED"
    }

    static func statusName(_ code: Int) -> String {
        ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"][safe: code] ?? "STATUS_CODE_UNSET"
    }

    /// Sends the cumulative metrics downstream.
    public func flush() async {
        let request = metrics()
        guard !request.resourceMetrics.isEmpty else { return }
        do { try await next.consume(request) } catch {
            context.logger.warning("span metrics were not accepted downstream", metadata: ["error": "\(error)"])
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await self.context.clock.sleep(for: self.config.flushInterval) } catch { break }
                await self.flush()
            }
        }
        await flush()
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { i >= 0 && i < count ? self[i] : nil }
}

/// Registers the `spanmetrics` connector.
public struct SpanMetricsConnectorFactory: ConnectorFactory {
    public init() {}
    public var type: String { "spanmetrics" }
    public var kind: ComponentKind { .connector }
    public var signals: Set<Signal> { [.traces, .metrics] }
    public var exporterSignals: Set<Signal> { [.traces] }
    public var receiverSignals: Set<Signal> { [.metrics] }
    public var summary: String { "RED metrics (calls, duration histogram) from spans: traces in, metrics out" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { SpanMetricsConfig(reading: reader) }

    public func makeConnector(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Connector {
        guard let metrics = next.metrics else { throw PipelineError.permanent("spanmetrics needs a metrics pipeline to feed") }
        return SpanMetricsConnector(config: try config.as(SpanMetricsConfig.self, for: type), next: metrics, context: context)
    }
}
