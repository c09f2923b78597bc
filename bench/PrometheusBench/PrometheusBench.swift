import ArgumentParser
import CollectorCore
import Connectors
import Foundation
import Logging
import OTLP
import PrometheusExporter

#if canImport(Glibc)
    import Glibc
#endif

/// In-process costs of the Prometheus path (see docs/performance.md):
/// - `ingest`: OTLP metrics requests shaped like otelcol's Metric10kDPS workload (metrics of 7 data points),
///   protobuf-decoded and applied to the `prometheus` exporter, its queued requests included: CPU per data point
///   (`--cold`: with the CPU caches evicted between requests and before each pass over the queue, as a server that
///   sleeps between requests finds them).
/// - `render`: `/metrics` with N series: CPU per render, and the longest an ingest call waited while renders ran.
/// - `spanmetrics`: the standard span workload through the `spanmetrics` connector: CPU per span.
@main
struct PrometheusBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "otelsink-prometheus-bench", abstract: "Prometheus exporter and spanmetrics costs.")

    @Argument(help: "ingest | render | spanmetrics")
    var scenario: String

    @Option(help: "Series for render; distinct series for ingest.")
    var series: Int = 100_000

    @Option(help: "Iterations (requests for ingest/spanmetrics, renders for render).")
    var iterations: Int = 2000

    @Flag(help: "ingest: evict the CPU caches between requests (as a server idle between requests finds them), counting only the requests' CPU.")
    var cold = false

    func run() async throws {
        switch scenario {
        case "ingest": try await ingest()
        case "render": try await render()
        case "spanmetrics": try await spanmetrics()
        default: throw ValidationError("unknown scenario \(scenario)")
        }
    }

    func exporter() -> PrometheusExporter {
        var config = PrometheusExporterConfig()
        config.endpoint = "127.0.0.1:0"
        return PrometheusExporter(config: config, context: ComponentContext(id: ComponentID(type: "prometheus"), logger: Logger(label: "bench")))
    }

    /// One request: `metrics` gauges/counters/histograms with 7 data points each (otelcol's testbed shape), each point
    /// with a few attributes, over `distinct` label values.
    static func request(seq: Int, metrics: Int, distinct: Int) -> ExportMetricsRequest {
        var rm = ResourceMetrics()
        rm.resource.attributes = [kv("service.name", "load-generator"), kv("host.name", "bench-host")]
        var sm = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
        sm.scope.name = "bench"
        let now = UInt64(Date().timeIntervalSince1970 * 1e9)
        for m in 0..<metrics {
            var metric = Opentelemetry_Proto_Metrics_V1_Metric()
            metric.name = "load_generator.metric_\(m % 10)"
            metric.unit = m % 3 == 2 ? "ms" : "1"
            metric.description_p = "A load generator metric."
            var points: [Opentelemetry_Proto_Metrics_V1_NumberDataPoint] = []
            var hpoints: [Opentelemetry_Proto_Metrics_V1_HistogramDataPoint] = []
            for p in 0..<7 {
                let attrs = [kv("item_index", String((seq * 7 + p) % distinct)), kv("a", "value-\(p)"), kv("b", "constant")]
                if m % 3 == 2 {
                    var h = Opentelemetry_Proto_Metrics_V1_HistogramDataPoint()
                    h.attributes = attrs
                    h.explicitBounds = [1, 5, 10, 50, 100]
                    h.bucketCounts = [1, 2, 3, 4, 5, 6]
                    h.count = 21
                    h.sum = 500
                    h.startTimeUnixNano = now - 1_000_000_000
                    h.timeUnixNano = now
                    hpoints.append(h)
                } else {
                    var d = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
                    d.attributes = attrs
                    d.asDouble = Double(seq)
                    d.startTimeUnixNano = now - 1_000_000_000
                    d.timeUnixNano = now
                    points.append(d)
                }
            }
            switch m % 3 {
            case 0:
                var g = Opentelemetry_Proto_Metrics_V1_Gauge()
                g.dataPoints = points
                metric.gauge = g
            case 1:
                var s = Opentelemetry_Proto_Metrics_V1_Sum()
                s.isMonotonic = true
                s.aggregationTemporality = .cumulative
                s.dataPoints = points
                metric.sum = s
            default:
                var h = Opentelemetry_Proto_Metrics_V1_Histogram()
                h.aggregationTemporality = .cumulative
                h.dataPoints = hpoints
                metric.histogram = h
            }
            sm.metrics.append(metric)
        }
        rm.scopeMetrics = [sm]
        var r = ExportMetricsRequest()
        r.resourceMetrics = [rm]
        return r
    }

    static func kv(_ k: String, _ v: String) -> KeyValue {
        var x = KeyValue()
        x.key = k
        x.value = .string(v)
        return x
    }

    /// Two lines: `ingest`, the path the OTLP receiver takes (index the wire bytes, translate from them, apply),
    /// and `ingest_decoded`, the same requests decoded by swift-protobuf first (the path of requests the index
    /// leaves to swift-protobuf, and of metrics that went through an editing processor).
    func ingest() async throws {
        // 15 metrics x 7 points ≈ 100 points per request, as the testbed's 100 items per request.
        let bodies = try (0..<100).map { try Self.request(seq: $0, metrics: 15, distinct: 1000).serializedBytes() as [UInt8] }
        let points = try ExportMetricsRequest(serializedBytes: bodies[0]).dataPointCount
        for decoded in [false, true] {
            let e = exporter()
            func feed(_ body: [UInt8]) async throws {
                if decoded {
                    try await e.consume(try ExportMetricsRequest(serializedBytes: body))
                } else {
                    guard let encoded = EncodedMetrics(indexing: body) else { throw ValidationError("the bench request could not be indexed") }
                    try await e.consume(encoded)
                }
            }
            for b in bodies { try await feed(b) }  // warm-up
            var cpu: UInt64 = 0
            e.applyPending()
            if cold {
                // A buffer larger than the last-level cache, written between requests, and before each pass that
                // applies the queued requests: one pass per second of 10,000 points/s, as the server's timer does.
                var evict = [UInt8](repeating: 0, count: 64 << 20)
                func evictCaches(_ i: Int) {
                    evict.withUnsafeMutableBytes { b in
                        var j = i & 63
                        while j < b.count {
                            b[j] &+= 1
                            j += 64
                        }
                    }
                }
                let perPass = max(1, 10_000 / points)
                for i in 0..<iterations {
                    evictCaches(i)
                    var cpu0 = processCPUNanos()
                    try await feed(bodies[i % bodies.count])
                    cpu += processCPUNanos() - cpu0
                    if (i + 1) % perPass == 0 || i == iterations - 1 {
                        evictCaches(i)
                        cpu0 = processCPUNanos()
                        e.applyPending()
                        cpu += processCPUNanos() - cpu0
                    }
                }
            } else {
                let cpu0 = cpuNanos()
                for i in 0..<iterations { try await feed(bodies[i % bodies.count]) }
                e.applyPending()
                cpu = cpuNanos() - cpu0
            }
            report([
                "scenario": (decoded ? "ingest_decoded" : "ingest") + (cold ? "_cold" : ""), "points_per_request": points, "requests": iterations,
                "cpu_ns_per_point": Int(Double(cpu) / Double(iterations * points)),
            ])
        }
    }

    func render() async throws {
        let e = exporter()
        // `series` distinct series: 10 metrics (gauges) with series/10 label values each.
        var r = ExportMetricsRequest()
        var rm = ResourceMetrics()
        rm.resource.attributes = [Self.kv("service.name", "bench")]
        var sm = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
        for m in 0..<10 {
            var metric = Opentelemetry_Proto_Metrics_V1_Metric()
            metric.name = "bench.gauge_\(m)"
            var g = Opentelemetry_Proto_Metrics_V1_Gauge()
            for i in 0..<(series / 10) {
                var d = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
                d.attributes = [Self.kv("series", String(i)), Self.kv("region", "eu-west-\(i % 3)")]
                d.asDouble = Double(i) * 1.5
                g.dataPoints.append(d)
            }
            metric.gauge = g
            sm.metrics.append(metric)
        }
        rm.scopeMetrics = [sm]
        r.resourceMetrics = [rm]
        try await e.consume(r)
        let renders = max(1, min(iterations, 50))
        // Ingest keeps running (small requests) while rendering: the longest consume call shows any stall. The same
        // loop first runs alone for as long, so scheduling noise on a shared machine is visible as a baseline.
        let small = Self.request(seq: 0, metrics: 3, distinct: 100)
        func ingestLoop(_ stop: ManagedAtomicFlag) -> Task<(Int, Duration), Never> {
            Task.detached {
                var n = 0
                var worst: Duration = .zero
                while !stop.isSet {
                    let t0 = ContinuousClock.now
                    try? await e.consume(small)
                    worst = max(worst, ContinuousClock.now - t0)
                    n += 1
                }
                return (n, worst)
            }
        }
        let baselineStop = ManagedAtomicFlag()
        let baseline = ingestLoop(baselineStop)
        try await Task.sleep(for: .seconds(3))
        baselineStop.set()
        let (baselineCalls, baselineWorst) = await baseline.value
        let stop = ManagedAtomicFlag()
        let ingest = ingestLoop(stop)
        var bytes = 0
        var wall: Duration = .zero
        var cpuTotal: UInt64 = 0
        for _ in 0..<renders {
            let t0 = ContinuousClock.now
            let c0 = threadCPUNanos()
            bytes = e.render(format: .text).count
            cpuTotal += threadCPUNanos() - c0
            wall += ContinuousClock.now - t0
        }
        stop.set()
        let (calls, worst) = await ingest.value
        // Control: the same wall time of pure CPU work instead of rendering (no store access at all). If ingest
        // latency grows as much here, the cost during renders is CPU contention, not waiting for the store.
        let spinStop = ManagedAtomicFlag()
        let spinIngest = ingestLoop(spinStop)
        let spinEnd = ContinuousClock.now + wall
        var x: UInt64 = 1
        while ContinuousClock.now < spinEnd { for _ in 0..<10_000 { x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 } }
        spinStop.set()
        let (spinCalls, spinWorst) = await spinIngest.value
        if x == 42 { print("") }
        report([
            "scenario": "render", "series": series, "renders": renders, "bytes": bytes,
            "cpu_ms_per_render": Double(cpuTotal) / Double(renders) / 1e6,
            "wall_ms_per_render": ms(wall) / Double(renders),
            "ingest_calls_during_renders": calls, "ingest_worst_call_ms": ms(worst),
            "ingest_calls_per_s_alone": Double(baselineCalls) / 3, "ingest_calls_per_s_during_renders": Double(calls) / (ms(wall) / 1000),
            "ingest_worst_call_ms_alone": ms(baselineWorst),
            "ingest_calls_per_s_during_cpu_spin": Double(spinCalls) / (ms(wall) / 1000), "ingest_worst_call_ms_during_cpu_spin": ms(spinWorst),
        ])
    }

    func spanmetrics() async throws {
        let sink = NullMetrics()
        var config = SpanMetricsConfig()
        config.exemplars = true
        let c = SpanMetricsConnector(
            config: config, next: sink, context: ComponentContext(id: ComponentID(type: "spanmetrics"), logger: Logger(label: "bench")))
        // The testbed's trace shape: 100 spans per request, 1 ms each, 2 int attributes, 10 operations.
        let requests = (0..<50).map { seq -> ExportTraceRequest in
            var rs = ResourceSpans()
            rs.resource.attributes = [Self.kv("service.name", "load-generator")]
            var ss = ScopeSpans()
            let start = UInt64(Date().timeIntervalSince1970 * 1e9)
            let trace = Data((0..<16).map { _ in UInt8.random(in: 0...255) })
            for i in 0..<100 {
                var s = Span()
                s.traceID = trace
                s.spanID = Data((0..<8).map { _ in UInt8.random(in: 0...255) })
                s.name = "load-generator-span-\(i % 10)"
                s.kind = .client
                s.startTimeUnixNano = start
                s.endTimeUnixNano = start + 1_000_000
                var a = KeyValue()
                a.key = "load_generator.span_seq_num"
                a.value.intValue = Int64(i)
                var b = KeyValue()
                b.key = "load_generator.trace_seq_num"
                b.value.intValue = Int64(seq)
                s.attributes = [a, b]
                ss.spans.append(s)
            }
            rs.scopeSpans = [ss]
            var r = ExportTraceRequest()
            r.resourceSpans = [rs]
            return r
        }
        for r in requests { try await c.consume(r) }
        let cpu0 = cpuNanos()
        for i in 0..<iterations { try await c.consume(requests[i % requests.count]) }
        let cpu = cpuNanos() - cpu0
        report(["scenario": "spanmetrics", "spans": iterations * 100, "cpu_ns_per_span": Int(Double(cpu) / Double(iterations * 100))])
    }

    func ms(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s) * 1000 + Double(atto) / 1e15
    }

    func report(_ fields: [String: Any]) {
        if let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) { print(String(decoding: data, as: UTF8.self)) }
    }
}

struct NullMetrics: MetricsConsumer {
    func consume(_ metrics: ExportMetricsRequest) async throws {}
}

final class ManagedAtomicFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
    func set() {
        lock.lock()
        value = true
        lock.unlock()
    }
}

func cpuNanos() -> UInt64 {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return UInt64(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000_000 + UInt64(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1000
}

func processCPUNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

func threadCPUNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
