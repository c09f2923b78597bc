import CollectorCore
import CollectorService
import CollectorTesting
import Foundation
import Logging
import OTLP
import OTLPExporters
import SQLiteStore
import Synchronization
import Testing

/// A resolver whose answer the test changes.
final class SwitchableResolver: BackendResolver {
    private let current: Mutex<[String]>
    init(_ endpoints: [String]) { current = Mutex(endpoints) }
    func set(_ endpoints: [String]) { current.withLock { $0 = endpoints } }
    func resolve() async throws -> [String] { current.withLock { $0 } }
    var interval: Duration? { .milliseconds(50) }
    var name: String { "test" }
}

/// The loadbalancing exporter in front of three real gateways (sqlite), over real sockets.
@Suite("loadbalancing exporter → three gateways")
struct LoadBalancingEndToEndTests {
    func gatewayConfig(db: String) -> String {
        """
        receivers:
          otlp:
            protocols:
              grpc:
                endpoint: 127.0.0.1:0
        exporters:
          sqlite:
            path: \(db)
        service:
          pipelines:
            traces:
              receivers: [otlp]
              exporters: [sqlite]
        """
    }

    /// Spans the gateway's receiver accepted (counting any sent twice).
    func accepted(_ gateway: TestCollector) -> Double {
        gateway.collector.telemetry.snapshot().first { $0.name == "otelcol_receiver_accepted_spans_total" }?.series.reduce(0.0) { sum, s in
            if case .number(let n) = s.value { return sum + n }
            return sum
        } ?? 0
    }

    /// Splits each trace of `request` into two requests (first half, second half of its spans).
    func halves(_ request: ExportTraceRequest) -> (ExportTraceRequest, ExportTraceRequest) {
        var first = request
        var second = request
        let spans = request.resourceSpans[0].scopeSpans[0].spans
        let byTrace = Dictionary(grouping: spans.enumerated(), by: { $0.element.traceID })
        var firstIDs = Set<Data>()
        for (_, group) in byTrace { for item in group.prefix(group.count / 2) { firstIDs.insert(item.element.spanID) } }
        first.resourceSpans[0].scopeSpans[0].spans = spans.filter { firstIDs.contains($0.spanID) }
        second.resourceSpans[0].scopeSpans[0].spans = spans.filter { !firstIDs.contains($0.spanID) }
        return (first, second)
    }

    func waitUntil(_ what: String, timeout: Duration = .seconds(30), _ done: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? done()) == true { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("timed out waiting until \(what)")
    }

    @Test func everySpanOfATraceReachesOneGatewayAndARemovedGatewaysDataGoesToTheOthers() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var gateways: [TestCollector] = []
        var dbs: [String] = []
        var endpoints: [String] = []
        for i in 0..<3 {
            let db = dir.appendingPathComponent("gw\(i).db").path
            let g = try await TestCollector(yaml: gatewayConfig(db: db))
            gateways.append(g)
            dbs.append(db)
            endpoints.append("127.0.0.1:\(try await g.address("otlp", "grpc").port)")
        }
        var config = LoadBalancingExporterConfig()
        config.backend.tls.insecure = true
        config.backend.timeout = .seconds(2)
        config.backend.retry.initialInterval = .milliseconds(100)
        config.backend.retry.maxInterval = .milliseconds(200)
        let resolver = SwitchableResolver(endpoints)
        var logger = Logger(label: "lb")
        logger.logLevel = .warning
        let exporter = LoadBalancingExporter(
            config: config, context: ComponentContext(id: ComponentID(type: "loadbalancing"), logger: logger),
            resolver: resolver)
        let running = RunningService(exporter)
        try await waitUntil("three backends") { exporter.backendEndpoints.count == 3 }

        // Phase 1: each trace arrives in two requests; all of its spans land on one gateway.
        let phase1 = SpanFactory.request(service: "cart", traces: 30, spansPerTrace: 6)
        let (a, b) = halves(phase1)
        try await exporter.consume(try EncodedTraces(encoding: a))
        try await exporter.consume(try EncodedTraces(encoding: b))
        let readers = dbs.map { db in { try TraceReader(path: db) } }
        try await waitUntil("phase 1 stored") { try readers.reduce(0) { $0 + (try $1().spanCount()) } == 180 }
        let traceIDs = Set(phase1.resourceSpans[0].scopeSpans[0].spans.map(\.traceID))
        var owners: [Data: Int] = [:]
        for id in traceIDs {
            let holders = try (0..<3).filter { try readers[$0]().trace(id: id) != nil }
            #expect(holders.count == 1, "trace \(id.map { String(format: "%02x", $0) }.joined()) is on gateways \(holders)")
            owners[id] = holders.first
            let spans = try readers[holders[0]]().trace(id: id)?.resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) }.count
            #expect(spans == 6)
        }
        #expect(Set(owners.values).count == 3, "30 traces should use all three gateways")

        // Phase 2: gateway 1 goes down; its share waits in its queue, the others' parts are delivered once.
        try await gateways[1].stop()
        let phase2 = SpanFactory.request(service: "cart", traces: 30, spansPerTrace: 6)
        try await exporter.consume(try EncodedTraces(encoding: phase2))
        let ring = HashRing(backends: endpoints)
        let forGone = phase2.resourceSpans[0].scopeSpans[0].spans.filter { ring.backends[ring.owner(of: $0.traceID) ?? 0] == endpoints[1] }.count
        #expect(forGone > 0)
        try await waitUntil("the others' parts stored") {
            try readers[0]().spanCount() + readers[2]().spanCount() == 180 - owners.values.filter { $0 == 1 }.count * 6 + 180 - forGone
        }
        // Then the resolver drops it: what was queued for it is routed to the remaining two.
        resolver.set([endpoints[0], endpoints[2]])
        try await waitUntil("the removed gateway's spans re-routed") {
            try readers[0]().spanCount() + readers[2]().spanCount() == 180 - owners.values.filter { $0 == 1 }.count * 6 + 180
        }
        for id in Set(phase2.resourceSpans[0].scopeSpans[0].spans.map(\.traceID)) {
            let holders = try [0, 2].filter { try readers[$0]().trace(id: id) != nil }
            #expect(holders.count == 1)
        }
        // A retry resent only the failed part: no gateway received a span twice.
        for i in [0, 2] { #expect(accepted(gateways[i]) == Double(try readers[i]().spanCount()), "gateway \(i) received duplicates") }
        #expect(exporter.backendEndpoints == [endpoints[0], endpoints[2]].sorted())

        try await running.stop()
        try await gateways[0].stop()
        try await gateways[2].stop()
    }
}
