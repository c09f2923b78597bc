import CollectorCore
import CollectorService
import CollectorTesting
import Foundation
import Logging
import OTLP
import Testing

@testable import Connectors
@testable import PrometheusExporter

/// Builds spans and requests for the service graph tests: every span of a test shares one trace unless told.
struct GraphSpans {
    static let trace = Data((1...16).map { UInt8($0) })

    static func id(_ n: UInt64) -> Data { withUnsafeBytes(of: n.littleEndian) { Data($0) } }

    static func span(
        _ kind: Span.SpanKind, id: UInt64, parent: UInt64? = nil, ms: Double = 10, error: Bool = false,
        attributes: [(String, String)] = [], trace: Data = GraphSpans.trace
    ) -> Span {
        var s = Span()
        s.traceID = trace
        s.spanID = Self.id(id)
        if let parent { s.parentSpanID = Self.id(parent) }
        s.name = "op"
        s.kind = kind
        s.startTimeUnixNano = 1_000_000_000
        s.endTimeUnixNano = 1_000_000_000 + UInt64(ms * 1_000_000)
        if error { s.status.code = .error }
        s.attributes = attributes.map { k, v in
            var kv = KeyValue()
            kv.key = k
            kv.value = .string(v)
            return kv
        }
        return s
    }

    static func request(_ service: String, _ spans: [Span], resource: [(String, String)] = []) -> ExportTraceRequest {
        var rs = ResourceSpans()
        rs.resource.attributes = ([("service.name", service)] + resource).map { k, v in
            var kv = KeyValue()
            kv.key = k
            kv.value = .string(v)
            return kv
        }
        var ss = ScopeSpans()
        ss.spans = spans
        rs.scopeSpans = [ss]
        var r = ExportTraceRequest()
        r.resourceSpans = [rs]
        return r
    }
}

/// Reads the connector's metrics back by name and labels.
struct GraphMetrics {
    let request: ExportMetricsRequest

    var metrics: [Opentelemetry_Proto_Metrics_V1_Metric] { request.resourceMetrics.flatMap { $0.scopeMetrics.flatMap(\.metrics) } }

    func labels(_ attributes: [KeyValue]) -> [String: String] {
        var out: [String: String] = [:]
        for kv in attributes {
            switch kv.value.value {
            case .stringValue(let s)?: out[kv.key] = s
            case .boolValue(let b)?: out[kv.key] = b ? "true" : "false"
            default: break
            }
        }
        return out
    }

    /// The value of counter `name` for the series whose labels include `match`.
    func counter(_ name: String, _ match: [String: String]) -> Int64? {
        guard let m = metrics.first(where: { $0.name == name }) else { return nil }
        let points = m.sum.dataPoints.filter { p in match.allSatisfy { labels(p.attributes)[$0.key] == $0.value } }
        return points.isEmpty ? nil : points.reduce(0) { $0 + $1.asInt }
    }

    func histogram(_ name: String, _ match: [String: String]) -> Opentelemetry_Proto_Metrics_V1_HistogramDataPoint? {
        metrics.first { $0.name == name }?.histogram.dataPoints.first { p in match.allSatisfy { labels(p.attributes)[$0.key] == $0.value } }
    }

    /// The label sets of `traces_service_graph_request_total`.
    var series: [[String: String]] {
        metrics.first { $0.name == "traces_service_graph_request_total" }?.sum.dataPoints.map { labels($0.attributes) } ?? []
    }
}

@Suite struct ServiceGraphConnectorTests {
    let clock = ManualClock()
    let telemetry = TelemetryRegistry()

    func connector(_ configure: (inout ServiceGraphConfig) -> Void = { _ in }) -> (ServiceGraphConnector, TracesSink) {
        var config = ServiceGraphConfig()
        configure(&config)
        let sink = TracesSink()
        let context = ComponentContext(id: ComponentID(type: "servicegraph"), logger: Logger(label: "t"), clock: clock, telemetry: telemetry)
        return (ServiceGraphConnector(config: config, next: sink, context: context), sink)
    }

    func read(_ c: ServiceGraphConnector) -> GraphMetrics { GraphMetrics(request: c.metrics(nowNanos: 2_000_000_000)) }

    // MARK: Configuration

    @Test func defaultConfigMatchesOtelcol() {
        let (config, problems) = readComponentConfig(ServiceGraphConnectorFactory(), yaml: "")
        #expect(problems.isEmpty)
        let c = config as? ServiceGraphConfig
        #expect(c?.storeTTL == .seconds(2))
        #expect(c?.storeMaxItems == 1000)
        #expect(c?.cacheLoop == .seconds(60))
        #expect(c?.storeExpirationLoop == .seconds(2))
        #expect(c?.metricsFlushInterval == .seconds(60))
        #expect(c?.virtualNodePeerAttributes == ["peer.service", "db.name", "db.system"])
        #expect(c?.virtualNodeExtraLabel == false)
        #expect(c?.databaseNameAttributes == ["db.name"])
        #expect(c?.dimensions == [])
        #expect(c?.latencyHistogramBuckets == [0.002, 0.004, 0.006, 0.008, 0.01, 0.05, 0.1, 0.2, 0.4, 0.8, 1, 1.4, 2, 5, 10, 15])
        #expect(c?.metricsTimestampOffset == .zero)
    }

    @Test func everyOtelcolKeyIsRead() {
        let yaml = """
            latency_histogram_buckets: [100ms, 250ms, 1s]
            dimensions: [http.method, k8s.namespace.name]
            store:
              ttl: 5s
              max_items: 50
            cache_loop: 2m
            store_expiration_loop: 500ms
            virtual_node_peer_attributes: [db.system, messaging.system]
            virtual_node_extra_label: true
            metrics_flush_interval: 15s
            database_name_attributes: [db.namespace, db.name]
            metrics_timestamp_offset: 1s
            metrics_exporter: prometheus
            """
        let (config, problems) = readComponentConfig(ServiceGraphConnectorFactory(), yaml: yaml)
        #expect(problems.isEmpty)
        let c = config as? ServiceGraphConfig
        #expect(c?.latencyHistogramBuckets == [0.1, 0.25, 1])
        #expect(c?.dimensions == ["http.method", "k8s.namespace.name"])
        #expect(c?.storeTTL == .seconds(5))
        #expect(c?.storeMaxItems == 50)
        #expect(c?.cacheLoop == .seconds(120))
        #expect(c?.storeExpirationLoop == .milliseconds(500))
        #expect(c?.virtualNodePeerAttributes == ["db.system", "messaging.system"])
        #expect(c?.virtualNodeExtraLabel == true)
        #expect(c?.metricsFlushInterval == .seconds(15))
        #expect(c?.databaseNameAttributes == ["db.namespace", "db.name"])
        #expect(c?.metricsTimestampOffset == .seconds(1))
    }

    @Test func deprecatedSingleDatabaseNameAttributeIsTheListWhenTheListIsAbsent() {
        let c = readComponentConfig(ServiceGraphConnectorFactory(), yaml: "database_name_attribute: db.namespace").config as? ServiceGraphConfig
        #expect(c?.databaseNameAttributes == ["db.namespace"])
    }

    @Test func bareBucketNumbersAreNanosecondsAsInGo() {
        let c = readComponentConfig(ServiceGraphConnectorFactory(), yaml: "latency_histogram_buckets: [1000000, 2s]").config as? ServiceGraphConfig
        #expect(c?.latencyHistogramBuckets == [0.001, 2])
    }

    @Test func zeroLoopsMeanTheDefaultAsInOtelcol() {
        let c = readComponentConfig(ServiceGraphConnectorFactory(), yaml: "cache_loop: 0s\nstore_expiration_loop: 0\n").config as? ServiceGraphConfig
        #expect(c?.cacheLoop == .seconds(60))
        #expect(c?.storeExpirationLoop == .seconds(2))
    }

    @Test func badValuesAndUnknownKeysAreReportedWithTheirPaths() {
        let yaml = """
            latency_histogram_buckets: [1s, soon]
            store:
              ttl: forever
              max_items: 0
              size: 3
            virtual_node_extra_label: maybe
            exponential_histogram_max_size: 160
            metrics_flush_intervall: 1s
            """
        let problems = readComponentConfig(ServiceGraphConnectorFactory(), yaml: yaml).problems
        for path in [
            "connectors::servicegraph::latency_histogram_buckets::1", "connectors::servicegraph::store::ttl",
            "connectors::servicegraph::store::max_items", "connectors::servicegraph::store::size: unknown key",
            "connectors::servicegraph::virtual_node_extra_label", "connectors::servicegraph::exponential_histogram_max_size",
            "connectors::servicegraph::metrics_flush_intervall: unknown key",
        ] {
            #expect(problems.contains { $0.contains(path) }, "no problem at \(path): \(problems)")
        }
        let unordered = readComponentConfig(ServiceGraphConnectorFactory(), yaml: "latency_histogram_buckets: [2s, 1s]").problems
        #expect(unordered.contains { $0.contains("connectors::servicegraph::latency_histogram_buckets: must be strictly increasing") })
    }

    @Test func collectorConfigWithServiceGraphLoads() throws {
        let yaml = """
            receivers:
              otlp:
                protocols:
                  grpc:
                    endpoint: 127.0.0.1:0
            exporters:
              prometheus:
                endpoint: 127.0.0.1:0
              nop:
            connectors:
              servicegraph:
                store: {ttl: 1s}
            service:
              pipelines:
                traces:
                  receivers: [otlp]
                  exporters: [nop, servicegraph]
                metrics:
                  receivers: [servicegraph]
                  exporters: [prometheus]
            """
        let config = try CollectorConfig.load(yaml: yaml, environment: [:], registry: .builtin)
        #expect(config.connectors.keys.map(\.description) == ["servicegraph"])
        _ = try Collector(config: config, logger: Logger(label: "t"))
    }

    // MARK: Pairing

    @Test func clientAndServerSpansOfTwoServicesMakeOneRequest() async throws {
        let (c, _) = connector()
        try await c.consume(GraphSpans.request("frontend", [GraphSpans.span(.client, id: 10, parent: 1, ms: 30)]))
        #expect(c.pendingEdges == 1)
        try await c.consume(GraphSpans.request("backend", [GraphSpans.span(.server, id: 11, parent: 10, ms: 20)]))
        #expect(c.pendingEdges == 0)
        let m = read(c)
        #expect(m.series == [["client": "frontend", "server": "backend", "connection_type": "", "failed": "false"]])
        #expect(m.counter("traces_service_graph_request_total", ["client": "frontend", "server": "backend"]) == 1)
        #expect(m.metrics.first { $0.name == "traces_service_graph_request_failed_total" } == nil)
        let server = try #require(m.histogram("traces_service_graph_request_server", ["client": "frontend"]))
        let client = try #require(m.histogram("traces_service_graph_request_client", ["client": "frontend"]))
        #expect(abs(server.sum - 0.020) < 1e-9 && server.count == 1)
        #expect(abs(client.sum - 0.030) < 1e-9 && client.count == 1)
        #expect(
            m.metrics.filter { $0.name.hasPrefix("traces_service_graph_request_s") || $0.name.hasSuffix("_client") }.allSatisfy { $0.unit == "s" })
        #expect(m.metrics.first?.sum.aggregationTemporality == .cumulative && m.metrics.first?.sum.isMonotonic == true)
        #expect(m.request.resourceMetrics.first?.scopeMetrics.first?.scope.name == "traces_service_graph")
        #expect(c.totalEdges.value == 1 && c.expiredEdges.value == 0)
    }

    @Test func serverSpanArrivingFirstWaitsForItsClient() async throws {
        let (c, _) = connector()
        try await c.consume(GraphSpans.request("backend", [GraphSpans.span(.server, id: 11, parent: 10)]))
        try await c.consume(GraphSpans.request("frontend", [GraphSpans.span(.client, id: 10, parent: 1)]))
        #expect(read(c).counter("traces_service_graph_request_total", ["client": "frontend", "server": "backend"]) == 1)
    }

    @Test func spansOfDifferentTracesOrUnrelatedParentsDoNotPair() async throws {
        let (c, _) = connector()
        let other = Data(repeating: 9, count: 16)
        try await c.consume(GraphSpans.request("frontend", [GraphSpans.span(.client, id: 10), GraphSpans.span(.internal, id: 12, parent: 10)]))
        try await c.consume(
            GraphSpans.request(
                "backend",
                [
                    GraphSpans.span(.server, id: 11, parent: 10, trace: other),
                    GraphSpans.span(.server, id: 13, parent: 99),
                ]))
        #expect(read(c).series.isEmpty)
        #expect(c.pendingEdges == 3)
    }

    @Test func producerAndConsumerPairAsMessagingSystem() async throws {
        let (c, _) = connector()
        try await c.consume(GraphSpans.request("orders", [GraphSpans.span(.producer, id: 20, parent: 1)]))
        try await c.consume(GraphSpans.request("billing", [GraphSpans.span(.consumer, id: 21, parent: 20)]))
        #expect(read(c).series == [["client": "orders", "server": "billing", "connection_type": "messaging_system", "failed": "false"]])
    }

    @Test func clientSpanWithDatabaseNameIsADatabaseRequestRecordedAtOnce() async throws {
        let (c, _) = connector()
        try await c.consume(
            GraphSpans.request(
                "orders", [GraphSpans.span(.client, id: 30, ms: 4, attributes: [("db.system", "postgresql"), ("db.name", "ordersdb")])]))
        #expect(c.pendingEdges == 0)
        let m = read(c)
        #expect(m.series == [["client": "orders", "server": "ordersdb", "connection_type": "database", "failed": "false"]])
        let server = try #require(m.histogram("traces_service_graph_request_server", ["server": "ordersdb"]))
        #expect(abs(server.sum - 0.004) < 1e-9)  // the client's duration stands for both sides
        #expect(c.totalEdges.value == 1)
    }

    @Test func databaseNameAttributesAreTriedInOrderResourceBeforeSpan() async throws {
        let (c, _) = connector { $0.databaseNameAttributes = ["db.namespace", "db.name"] }
        try await c.consume(
            GraphSpans.request(
                "orders", [GraphSpans.span(.client, id: 31, attributes: [("db.name", "fromspan"), ("db.namespace", "ns-span")])],
                resource: [("db.name", "fromresource")]))
        try await c.consume(
            GraphSpans.request(
                "orders", [GraphSpans.span(.client, id: 32, attributes: [("db.name", "fromspan")])],
                resource: [("db.name", "fromresource")]))
        #expect(Set(read(c).series.map { $0["server"] ?? "" }) == ["ns-span", "fromresource"])
    }

    @Test func eitherSideWithErrorStatusFailsTheRequest() async throws {
        let (c, _) = connector()
        try await c.consume(
            GraphSpans.request(
                "frontend", [GraphSpans.span(.client, id: 10, error: true), GraphSpans.span(.client, id: 20), GraphSpans.span(.client, id: 30)]))
        try await c.consume(
            GraphSpans.request(
                "backend",
                [
                    GraphSpans.span(.server, id: 11, parent: 10), GraphSpans.span(.server, id: 21, parent: 20, error: true),
                    GraphSpans.span(.server, id: 31, parent: 30),
                ]))
        let m = read(c)
        #expect(m.counter("traces_service_graph_request_total", ["failed": "true"]) == 2)
        #expect(m.counter("traces_service_graph_request_total", ["failed": "false"]) == 1)
        #expect(m.counter("traces_service_graph_request_failed_total", ["client": "frontend", "server": "backend"]) == 2)
    }

    @Test func dimensionsArePrefixedWithTheSideTheyComeFromResourceFirst() async throws {
        let (c, _) = connector { $0.dimensions = ["http.method", "region"] }
        try await c.consume(
            GraphSpans.request(
                "frontend", [GraphSpans.span(.client, id: 10, attributes: [("http.method", "GET"), ("region", "span-value")])],
                resource: [("region", "eu")]))
        try await c.consume(GraphSpans.request("backend", [GraphSpans.span(.server, id: 11, parent: 10, attributes: [("http.method", "POST")])]))
        #expect(
            read(c).series == [
                [
                    "client": "frontend", "server": "backend", "connection_type": "", "failed": "false",
                    "client_http.method": "GET", "client_region": "eu", "server_http.method": "POST",
                ]
            ])
    }

    @Test func spansWithoutServiceNameOrOfOtherKindsAreIgnored() async throws {
        let (c, _) = connector()
        var r = GraphSpans.request("x", [GraphSpans.span(.client, id: 10)])
        r.resourceSpans[0].resource.attributes = []
        try await c.consume(r)
        try await c.consume(GraphSpans.request("frontend", [GraphSpans.span(.internal, id: 40), GraphSpans.span(.unspecified, id: 41)]))
        #expect(c.pendingEdges == 0 && c.totalEdges.value == 0)
    }

    // MARK: Expiry and virtual nodes

    @Test func unpairedClientExpiresCountedWithVirtualServerNamedByPeerAttribute() async throws {
        let (c, _) = connector()
        try await c.consume(
            GraphSpans.request(
                "frontend",
                [
                    GraphSpans.span(.client, id: 10, attributes: [("db.system", "redis"), ("peer.service", "payments")]),
                    GraphSpans.span(.client, id: 20),
                ]))
        clock.advance(by: .milliseconds(1999))
        c.expire()
        #expect(c.pendingEdges == 2 && c.expiredEdges.value == 0)
        clock.advance(by: .milliseconds(1))
        c.expire()
        #expect(c.pendingEdges == 0)
        #expect(c.expiredEdges.value == 2)
        let m = read(c)
        #expect(
            Set(m.series) == [
                ["client": "frontend", "server": "payments", "connection_type": "virtual_node", "failed": "false"],
                ["client": "frontend", "server": "unknown", "connection_type": "virtual_node", "failed": "false"],
            ])
        let server = try #require(m.histogram("traces_service_graph_request_server", ["server": "payments"]))
        #expect(server.sum == 0 && server.bucketCounts[0] == 1)
    }

    @Test func rootServerSpanExpiresWithTheUserAsClient() async throws {
        let (c, _) = connector { $0.virtualNodeExtraLabel = true }
        try await c.consume(GraphSpans.request("frontend", [GraphSpans.span(.server, id: 1)]))
        clock.advance(by: .seconds(3))
        c.expire()
        #expect(
            read(c).series == [
                ["client": "user", "server": "frontend", "connection_type": "virtual_node", "failed": "false", "virtual_node": "client"]
            ])
    }

    @Test func serverSpanWhoseClientNeverArrivesIsCountedButNotRecorded() async throws {
        let (c, _) = connector()
        try await c.consume(GraphSpans.request("backend", [GraphSpans.span(.server, id: 11, parent: 10)]))
        clock.advance(by: .seconds(3))
        c.expire()
        #expect(c.expiredEdges.value == 1 && c.pendingEdges == 0)
        #expect(read(c).series.isEmpty)
    }

    @Test func emptyPeerAttributesTurnVirtualNodesOff() async throws {
        let (c, _) = connector { $0.virtualNodePeerAttributes = [] }
        try await c.consume(
            GraphSpans.request("frontend", [GraphSpans.span(.server, id: 1), GraphSpans.span(.client, id: 10, attributes: [("peer.service", "p")])]))
        clock.advance(by: .seconds(3))
        c.expire()
        #expect(c.expiredEdges.value == 2)
        #expect(read(c).series.isEmpty)
    }

    @Test func virtualNodeExtraLabelMarksEverySeries() async throws {
        let (c, _) = connector { $0.virtualNodeExtraLabel = true }
        try await c.consume(
            GraphSpans.request(
                "frontend", [GraphSpans.span(.client, id: 10, attributes: [("peer.service", "payments")]), GraphSpans.span(.client, id: 20)]))
        try await c.consume(GraphSpans.request("backend", [GraphSpans.span(.server, id: 21, parent: 20)]))
        clock.advance(by: .seconds(3))
        c.expire()
        #expect(
            Set(read(c).series) == [
                ["client": "frontend", "server": "payments", "connection_type": "virtual_node", "failed": "false", "virtual_node": "server"],
                ["client": "frontend", "server": "backend", "connection_type": "", "failed": "false", "virtual_node": ""],
            ])
    }

    @Test func expiryRunsOnTheStoreExpirationLoopAndShutdownFlushesOnce() async throws {
        let (c, sink) = connector { $0.metricsFlushInterval = .seconds(3600) }
        let running = RunningService(c)
        await clock.waitForSleepers(3)  // expiry, cache and flush loops
        try await c.consume(GraphSpans.request("frontend", [GraphSpans.span(.client, id: 10, attributes: [("peer.service", "payments")])]))
        clock.advance(by: .seconds(2))  // the first expiration tick: the edge has waited its ttl
        while c.expiredEdges.value == 0 { await Task.yield() }
        #expect(c.pendingEdges == 0)
        #expect(sink.receivedMetrics.isEmpty)
        try await running.stop()
        #expect(sink.receivedMetrics.count == 1)
        let m = GraphMetrics(request: try #require(sink.receivedMetrics.last))
        #expect(m.counter("traces_service_graph_request_total", ["server": "payments"]) == 1)
    }

    @Test func metricsAreFlushedEveryIntervalAndAfterEachRequestWhenItIsZero() async throws {
        let (c, sink) = connector { $0.metricsFlushInterval = .zero }
        try await c.consume(GraphSpans.request("frontend", [GraphSpans.span(.client, id: 30, attributes: [("db.name", "d")])]))
        try await c.consume(GraphSpans.request("frontend", [GraphSpans.span(.client, id: 31, attributes: [("db.name", "d")])]))
        #expect(sink.receivedMetrics.count == 2)
        #expect(GraphMetrics(request: sink.receivedMetrics[1]).counter("traces_service_graph_request_total", ["server": "d"]) == 2)
    }

    // MARK: Bounds

    @Test func fullStoreDropsNewUnpairedSpansAndCountsThem() async throws {
        let (c, _) = connector { $0.storeMaxItems = 2 }
        try await c.consume(GraphSpans.request("frontend", (1...5).map { GraphSpans.span(.client, id: UInt64($0)) }))
        #expect(c.pendingEdges == 2)
        #expect(c.droppedSpans.value == 3)
        // A span joining an edge already held still pairs, and the pair's leaving makes room for a new edge.
        try await c.consume(
            GraphSpans.request("backend", [GraphSpans.span(.server, id: 100, parent: 1), GraphSpans.span(.server, id: 101, parent: 5)]))
        #expect(read(c).counter("traces_service_graph_request_total", ["server": "backend"]) == 1)
        #expect(c.pendingEdges == 2 && c.droppedSpans.value == 3)
        try await c.consume(GraphSpans.request("frontend", [GraphSpans.span(.client, id: 6)]))
        #expect(c.droppedSpans.value == 4)
        // Once the oldest have expired, a full store makes room for new edges by removing them (counted as expired).
        clock.advance(by: .seconds(2))
        try await c.consume(GraphSpans.request("frontend", [GraphSpans.span(.client, id: 7), GraphSpans.span(.client, id: 8)]))
        #expect(c.expiredEdges.value == 2)
        #expect(c.pendingEdges == 2)
        #expect(c.droppedSpans.value == 4)
        #expect(read(c).counter("traces_service_graph_request_total", ["server": "unknown"]) == 1)  // client 2's virtual server
    }

    @Test func seriesBeyondMaxSeriesGoToOneOverflowSeries() async throws {
        let (c, _) = connector { $0.maxSeries = 2 }
        try await c.consume(
            GraphSpans.request("frontend", (1...5).map { GraphSpans.span(.client, id: UInt64($0), attributes: [("db.name", "db\($0)")]) }))
        let m = read(c)
        #expect(m.series.count == 3)
        #expect(m.series.contains(["otel.metric.overflow": "true"]))
        #expect(m.counter("traces_service_graph_request_total", ["otel.metric.overflow": "true"]) == 3)
        #expect(c.overflowEdges.value == 3)
    }

    @Test func seriesNotUpdatedForFifteenMinutesAreRemoved() async throws {
        let (c, _) = connector()
        try await c.consume(GraphSpans.request("frontend", [GraphSpans.span(.client, id: 1, attributes: [("db.name", "old")])]))
        clock.advance(by: .seconds(600))
        try await c.consume(GraphSpans.request("frontend", [GraphSpans.span(.client, id: 2, attributes: [("db.name", "new")])]))
        clock.advance(by: .seconds(300))
        c.removeStaleSeries()
        #expect(read(c).series.map { $0["server"] } == ["new"])
    }

    // MARK: Histograms

    @Test func latencyBucketsHaveInclusiveUpperBoundsInSeconds() async throws {
        let (c, _) = connector { $0.latencyHistogramBuckets = [0.01, 0.1] }
        // 10 ms (on the first bound), 50 ms, 100 ms (on the second), 2 s (beyond the last).
        for (i, ms) in [10.0, 50, 100, 2000].enumerated() {
            try await c.consume(GraphSpans.request("frontend", [GraphSpans.span(.client, id: UInt64(i + 1), ms: ms, attributes: [("db.name", "d")])]))
        }
        let h = try #require(read(c).histogram("traces_service_graph_request_client", ["server": "d"]))
        #expect(h.explicitBounds == [0.01, 0.1])
        #expect(h.bucketCounts == [1, 2, 1])
        #expect(h.count == 4)
        #expect(abs(h.sum - 2.16) < 1e-9)
    }

    @Test func defaultBucketsAreOtelcolsInSeconds() async throws {
        let (c, _) = connector()
        try await c.consume(GraphSpans.request("frontend", [GraphSpans.span(.client, id: 1, ms: 3, attributes: [("db.name", "d")])]))
        let h = try #require(read(c).histogram("traces_service_graph_request_server", [:]))
        #expect(h.explicitBounds == ServiceGraphConfig.defaultBucketsSeconds)
        #expect(h.bucketCounts.count == 17)
        #expect(h.bucketCounts[1] == 1)  // 3 ms in (2 ms, 4 ms]
    }

    @Test func prometheusExporterWritesOtelcolsServiceGraphNames() async throws {
        let (c, _) = connector()
        try await c.consume(GraphSpans.request("frontend", [GraphSpans.span(.client, id: 10, error: true)]))
        try await c.consume(GraphSpans.request("backend", [GraphSpans.span(.server, id: 11, parent: 10)]))
        var config = PrometheusExporterConfig()
        config.endpoint = "127.0.0.1:0"
        let exporter = PrometheusExporter(
            config: config, context: ComponentContext(id: ComponentID(type: "prometheus"), logger: Logger(label: "t"), clock: clock))
        try await exporter.consume(c.metrics())
        let text = String(decoding: exporter.render(format: .text), as: UTF8.self)
        #expect(text.contains("# TYPE traces_service_graph_request_total counter"))
        #expect(text.contains("# TYPE traces_service_graph_request_failed_total counter"))
        #expect(text.contains("# TYPE traces_service_graph_request_server_seconds histogram"))
        #expect(text.contains("# TYPE traces_service_graph_request_client_seconds histogram"))
        #expect(
            text.contains(
                #"traces_service_graph_request_total{client="frontend",failed="true",otel_scope_name="traces_service_graph",server="backend"} 1"#),
            "\(text)")
        #expect(
            text.contains(
                #"traces_service_graph_request_server_seconds_bucket{client="frontend",failed="true",otel_scope_name="traces_service_graph",server="backend",le="0.01"} 1"#
            ), "\(text)")
    }
}

/// The edge store against a plain model of it, on random operations.
@Suite struct ServiceGraphEdgeStoreTests {
    @Test(arguments: [UInt64(1), 2, 3, 5, 7, 0xC0FFEE])
    func storeAgreesWithAModelOnRandomOperations(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        // Odd seeds: a store large enough that its table grows (and probe runs form); even seeds: a small one, full
        // most of the time.
        let maxItems = seed % 2 == 1 ? 300 : 8
        let advance: UInt64 = seed % 2 == 1 ? 10 : 300
        var store = ServiceGraphEdgeStore(maxItems: maxItems, ttl: .seconds(2))
        // Model: key -> (sides seen, insertion time), in insertion order.
        var model: [(key: ServiceGraphEdgeKey, client: Bool, server: Bool, at: Duration)] = []
        var now = Duration.zero
        var peak = 0
        for step in 0..<5000 {
            now += .milliseconds(Int64(rng.next() % advance))
            let key = ServiceGraphEdgeKey(traceHigh: 1, traceLow: rng.next() % 40, span: rng.next() % 20)
            let side: ServiceGraphSide = rng.next() % 2 == 0 ? .client : .server
            // Names are numbers of a table the store does not see: any non-negative one will do.
            let span = ServiceGraphInternedSide(
                key: key, side: side, messaging: false, service: side == .client ? 0 : 1, seconds: 0.001,
                failed: false, peer: -1, database: -1, dimensions: -1)
            if rng.next() % 5 == 0 {
                var expiredKeys: [ServiceGraphEdgeKey] = []
                while let e = store.popExpired(now: now) { expiredKeys.append(e.key) }
                var expected: [ServiceGraphEdgeKey] = []
                while let first = model.first, now - first.at >= .seconds(2) {
                    expected.append(first.key)
                    model.removeFirst()
                }
                #expect(expiredKeys == expected, "seed \(seed) step \(step): expired \(expiredKeys) expected \(expected)")
            }
            var expired: [ServiceGraphEdge] = []
            let outcome = store.upsert(span, now: now, expired: &expired)
            var expectedExpired: [ServiceGraphEdgeKey] = []
            let held = model.firstIndex { $0.key == key }
            switch (outcome, held) {
            case (.completed, let i?):
                let other = side == .client ? model[i].server : model[i].client
                #expect(other, "seed \(seed) step \(step): completed without the other side")
                model.remove(at: i)
            case (.updated, let i?):
                if side == .client { model[i].client = true } else { model[i].server = true }
                #expect(!(model[i].client && model[i].server), "seed \(seed) step \(step): both sides but not completed")
            case (.inserted, nil), (.dropped, nil):
                while model.count >= maxItems, let first = model.first, now - first.at >= .seconds(2) {
                    expectedExpired.append(first.key)
                    model.removeFirst()
                }
                if case .inserted = outcome {
                    #expect(model.count < maxItems, "seed \(seed) step \(step): inserted into a full store")
                    model.append((key, side == .client, side == .server, now))
                } else {
                    #expect(model.count >= maxItems, "seed \(seed) step \(step): dropped with room left")
                }
            default:
                Issue.record("seed \(seed) step \(step): outcome \(outcome) with model entry \(String(describing: held))")
            }
            #expect(expired.map(\.key) == expectedExpired, "seed \(seed) step \(step)")
            #expect(store.count == model.count && store.count <= maxItems, "seed \(seed) step \(step)")
            peak = max(peak, store.count)
        }
        #expect(maxItems < 100 || peak > 64, "seed \(seed): the table never grew (peak \(peak))")
    }
}

/// The wire-form path (`consume(EncodedTraces)`, what the OTLP receiver hands on) gives the same graph as the
/// decoded path, on random requests.
@Suite struct ServiceGraphWirePathTests {
    static func randomRequest(_ rng: inout SplitMix64, traces: [Data]) -> ExportTraceRequest {
        var request = ExportTraceRequest()
        for r in 0..<(1 + rng.below(3)) {
            var rs = ResourceSpans()
            var resource: [KeyValue] = []
            if rng.below(8) != 0 {
                var kv = KeyValue()
                kv.key = "service.name"
                if rng.below(10) == 0 { kv.value.intValue = Int64(r) } else { kv.value = .string(rng.pick(["frontend", "backend", "db-proxy"])) }
                resource.append(kv)
            }
            if rng.chance(0.5) {
                var kv = KeyValue()
                kv.key = "region"
                kv.value = .string(rng.pick(["eu", "us"]))
                resource.append(kv)
            }
            if rng.chance(0.1) {
                var kv = KeyValue()
                kv.key = "db.name"
                kv.value = .string("resource-db")
                resource.append(kv)
            }
            rs.resource.attributes = resource
            var ss = ScopeSpans()
            for _ in 0..<rng.below(20) {
                var s = Span()
                s.traceID = rng.pick(traces)
                s.spanID = GraphSpans.id(UInt64(1 + rng.below(30)))
                if rng.chance(0.8) { s.parentSpanID = GraphSpans.id(UInt64(1 + rng.below(30))) }
                s.kind = Span.SpanKind(rawValue: rng.below(6)) ?? .internal
                s.startTimeUnixNano = 1_000_000_000
                s.endTimeUnixNano = 1_000_000_000 + UInt64(rng.below(3_000_000_000))
                if rng.chance(0.2) { s.status.code = .error }
                var attributes: [KeyValue] = []
                for key in ["peer.service", "db.name", "db.system", "region", "http.method", "padding.attribute.with.a.long.name"]
                where rng.chance(0.2) {
                    var kv = KeyValue()
                    kv.key = key
                    switch rng.below(4) {
                    case 0: kv.value.intValue = Int64(rng.below(1000)) - 500
                    case 1: kv.value.boolValue = rng.chance(0.5)
                    case 2: kv.value.doubleValue = rng.chance(0.5) ? 2.5 : 3
                    default: kv.value = .string("\(key)-\(rng.below(3))")
                    }
                    attributes.append(kv)
                }
                s.attributes = attributes
                ss.spans.append(s)
            }
            rs.scopeSpans = [ss]
            request.resourceSpans.append(rs)
        }
        return request
    }

    @Test(arguments: [UInt64(7), 42, 0xBADC0DE, 2026])
    func wirePathAndDecodedPathGiveTheSameGraph(seed: UInt64) async throws {
        var rng = SplitMix64(seed: seed)
        let clock = ManualClock()
        func make() -> ServiceGraphConnector {
            var config = ServiceGraphConfig()
            config.dimensions = ["region", "http.method"]
            config.storeMaxItems = 50
            return ServiceGraphConnector(
                config: config, next: TracesSink(),
                context: ComponentContext(id: ComponentID(type: "servicegraph"), logger: Logger(label: "t"), clock: clock))
        }
        let decoded = make()
        let wire = make()
        let traces = (0..<4).map { _ in GraphSpans.id(rng.next() | 1) + GraphSpans.id(rng.next()) }
        for _ in 0..<40 {
            let request = Self.randomRequest(&rng, traces: traces)
            try await decoded.consume(request)
            try await wire.consume(try EncodedTraces(encoding: request))
            clock.advance(by: .milliseconds(Int64(rng.below(800))))
            decoded.expire()
            wire.expire()
        }
        clock.advance(by: .seconds(10))
        decoded.expire()
        wire.expire()
        // The two connectors started at different instants: compare everything but the start times.
        func normalized(_ c: ServiceGraphConnector) -> ExportMetricsRequest {
            var r = c.metrics(nowNanos: 1)
            for i in r.resourceMetrics.indices {
                for j in r.resourceMetrics[i].scopeMetrics.indices {
                    for k in r.resourceMetrics[i].scopeMetrics[j].metrics.indices {
                        var m = r.resourceMetrics[i].scopeMetrics[j].metrics[k]
                        for p in m.sum.dataPoints.indices { m.sum.dataPoints[p].startTimeUnixNano = 0 }
                        for p in m.histogram.dataPoints.indices { m.histogram.dataPoints[p].startTimeUnixNano = 0 }
                        r.resourceMetrics[i].scopeMetrics[j].metrics[k] = m
                    }
                }
            }
            return r
        }
        let a = normalized(decoded)
        let b = normalized(wire)
        #expect(a == b, "seed \(seed): the two paths differ")
        #expect(!GraphMetrics(request: a).series.isEmpty, "seed \(seed): nothing was graphed")
        #expect(decoded.droppedSpans.value == wire.droppedSpans.value && decoded.expiredEdges.value == wire.expiredEdges.value, "seed \(seed)")
    }
}

/// The names table holds exactly what waiting edges and live series refer to: references are counted right
/// through pairing, updates, drops, expiry, overflow and stale-series removal.
@Suite struct ServiceGraphNamesTests {
    /// The names the store's edges and the series keys refer to, with how often.
    static func referenced(_ s: ServiceGraphConnector.State) -> (text: [Int32: Int], dimensions: [Int32: Int]) {
        var text: [Int32: Int] = [s.names.user: 1, s.names.unknown: 1]
        var dimensions: [Int32: Int] = [:]
        var store = s.store
        for e in store.removeAll() {
            for n in [e.client, e.server, e.peer] where n >= 0 { text[n, default: 0] += 1 }
            for n in [e.clientDimensions, e.serverDimensions] where n >= 0 { dimensions[n, default: 0] += 1 }
        }
        for k in s.series.entries.keys {
            for n in [k.client, k.server] where n >= 0 { text[n, default: 0] += 1 }
            for n in [k.clientDimensions, k.serverDimensions] where n >= 0 { dimensions[n, default: 0] += 1 }
        }
        return (text, dimensions)
    }

    @Test(arguments: [UInt64(3), 99, 0xFEED, 2027])
    func namesAreHeldExactlyWhileEdgesAndSeriesReferToThem(seed: UInt64) async throws {
        var rng = SplitMix64(seed: seed)
        let clock = ManualClock()
        var config = ServiceGraphConfig()
        config.dimensions = ["region", "http.method"]
        config.storeMaxItems = 30
        config.maxSeries = seed % 2 == 0 ? 6 : 10_000
        let c = ServiceGraphConnector(
            config: config, next: TracesSink(),
            context: ComponentContext(id: ComponentID(type: "servicegraph"), logger: Logger(label: "t"), clock: clock))
        let traces = (0..<4).map { _ in GraphSpans.id(rng.next() | 1) + GraphSpans.id(rng.next()) }
        func check(_ step: String) {
            c.state.withLock { s in
                let (text, dimensions) = Self.referenced(s)
                #expect(s.names.text.count == text.count, "seed \(seed) \(step): \(s.names.text.count) names held, \(text.count) referred to")
                #expect(s.names.dimensions.count == dimensions.count, "seed \(seed) \(step): dimension tuples")
                for n in text.keys { #expect(s.names.text[n] != nil, "seed \(seed) \(step): name \(n) referred to but forgotten") }
                for n in dimensions.keys { #expect(s.names.dimensions[n] != nil, "seed \(seed) \(step): tuple \(n) forgotten") }
            }
        }
        for step in 0..<60 {
            try await c.consume(ServiceGraphWirePathTests.randomRequest(&rng, traces: traces))
            clock.advance(by: .milliseconds(Int64(rng.below(800))))
            if rng.chance(0.5) { c.expire() }
            check("step \(step)")
        }
        clock.advance(by: .seconds(10))
        c.expire()
        check("after expiry")
        #expect(c.pendingEdges == 0)
        clock.advance(by: ServiceGraphConfig.staleSeriesAge + .seconds(1))
        c.removeStaleSeries()
        c.state.withLock { s in
            #expect(s.series.entries.isEmpty)
            #expect(s.names.text.count == 2 && s.names.dimensions.count == 0, "seed \(seed): only user and unknown stay")
        }
    }

    @Test func aForgottenNumberIsReusedForTheNextName() {
        var t = ServiceGraphInterned<String>()
        let a = t.intern("a")
        #expect(t.intern("a") == a)
        t.release(a)
        #expect(t[a] == "a" && t.count == 1)
        t.release(a)
        #expect(t[a] == nil && t.count == 0)
        let b = t.intern("b")
        #expect(b == a && t[b] == "b")
        t.release(ServiceGraphInterned<String>.none)
        #expect(t.count == 1)
    }
}

@Suite struct ServiceGraphExpiryBatchTests {
    @Test func expiryTakesEveryExpiredEdgeAcrossSeveralHoldsOfTheLock() async throws {
        let clock = ManualClock()
        var config = ServiceGraphConfig()
        config.storeMaxItems = 10_000
        let c = ServiceGraphConnector(
            config: config, next: TracesSink(),
            context: ComponentContext(id: ComponentID(type: "servicegraph"), logger: Logger(label: "t"), clock: clock))
        let count = ServiceGraphConnector.expiryBatch * 2 + 5
        try await c.consume(GraphSpans.request("frontend", (1...count).map { GraphSpans.span(.client, id: UInt64($0)) }))
        clock.advance(by: .seconds(2))
        c.expire()
        #expect(c.pendingEdges == 0)
        #expect(c.expiredEdges.value == UInt64(count))
        #expect(GraphMetrics(request: c.metrics(nowNanos: 1)).counter("traces_service_graph_request_total", ["server": "unknown"]) == Int64(count))
    }
}
