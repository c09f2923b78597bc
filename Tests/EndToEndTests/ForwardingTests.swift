import CollectorCore
import CollectorService
import CollectorTesting
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import OTLP
import OTLPGRPCStubs
import SQLiteStore
import Testing

/// An edge collector forwarding with the `otlp` exporter to a gateway that stores, over real sockets.
@Suite("otlp exporter: edge → gateway")
struct ForwardingTests {
    func edgeConfig(gatewayPort: Int, exporterExtra: String = "") -> String {
        """
        receivers:
          otlp:
            protocols:
              grpc:
                endpoint: 127.0.0.1:0
        exporters:
          otlp:
            endpoint: 127.0.0.1:\(gatewayPort)
            tls:
              insecure: true
            \(exporterExtra)
        service:
          pipelines:
            traces:
              receivers: [otlp]
              exporters: [otlp]
            metrics:
              receivers: [otlp]
              exporters: [otlp]
        """
    }

    func gatewayConfig(db: String, port: Int) -> String {
        """
        receivers:
          otlp:
            protocols:
              grpc:
                endpoint: 127.0.0.1:\(port)
              http:
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

    func waitForSpans(_ db: String, _ count: Int) async throws -> TraceReader {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if FileManager.default.fileExists(atPath: db), let reader = try? TraceReader(path: db), (try? reader.spanCount()) ?? 0 >= count {
                return reader
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestCollectorError.notListening("gateway never stored \(count) spans")
    }

    @Test func spansSentToTheEdgeAreStoredByTheGatewayFieldForField() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("gateway.db").path
        let gateway = try await TestCollector(yaml: gatewayConfig(db: db, port: 0))
        let gatewayPort = try await gateway.address("otlp", "grpc").port
        let edge = try await TestCollector(yaml: edgeConfig(gatewayPort: gatewayPort, exporterExtra: "compression: gzip"))
        let edgePort = try await edge.address("otlp", "grpc").port

        let request = SpanFactory.request(service: "cart", traces: 4, spansPerTrace: 5)
        _ = try await withOTLPClient(port: edgePort) { client in
            try await Opentelemetry_Proto_Collector_Trace_V1_TraceService.Client(wrapping: client).export(request)
        }
        let reader = try await waitForSpans(db, 20)
        #expect(try reader.spanCount() == 20)
        let traceID = request.resourceSpans[0].scopeSpans[0].spans[0].traceID
        var expected = request
        expected.resourceSpans[0].scopeSpans[0].spans = request.resourceSpans[0].scopeSpans[0].spans.filter { $0.traceID == traceID }
        #expect(try reader.trace(id: traceID) == expected)
        // sent counts what the gateway accepted, once the edge has its answer (just after the gateway stored it).
        func sent() -> Double? {
            let series = edge.collector.telemetry.snapshot().first { $0.name == "otelcol_exporter_sent_spans_total" }?
                .series.first { $0.labels.contains { $0 == ("exporter", "otlp") } }
            if case .number(let n)? = series?.value { return n }
            return nil
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while sent() != 20, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(sent() == 20)
        try await edge.stop()
        try await gateway.stop()
    }

    @Test(arguments: ["proto", "json"])
    func theOTLPHTTPExporterForwardsInEitherEncoding(_ encoding: String) async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("gateway.db").path
        let gateway = try await TestCollector(yaml: gatewayConfig(db: db, port: 0))
        let gatewayHTTP = try await gateway.address("otlp", "http").port
        let edgeYAML = edgeConfig(gatewayPort: 1)
            .replacingOccurrences(
                of: "otlp:\n    endpoint: 127.0.0.1:1\n    tls:\n      insecure: true",
                with: "otlphttp:\n    endpoint: http://127.0.0.1:\(gatewayHTTP)\n    encoding: \(encoding)"
            )
            .replacingOccurrences(of: "exporters: [otlp]", with: "exporters: [otlphttp]")
        let edge = try await TestCollector(yaml: edgeYAML)
        let edgePort = try await edge.address("otlp", "grpc").port
        let request = SpanFactory.request(service: "cart", traces: 3, spansPerTrace: 2)
        _ = try await withOTLPClient(port: edgePort) { client in
            try await Opentelemetry_Proto_Collector_Trace_V1_TraceService.Client(wrapping: client).export(request)
        }
        let reader = try await waitForSpans(db, 6)
        let traceID = request.resourceSpans[0].scopeSpans[0].spans[0].traceID
        var expected = request
        expected.resourceSpans[0].scopeSpans[0].spans = request.resourceSpans[0].scopeSpans[0].spans.filter { $0.traceID == traceID }
        #expect(try reader.trace(id: traceID) == expected)
        try await edge.stop()
        try await gateway.stop()
    }

    @Test func exportsQueuedWhileTheGatewayIsDownAreDeliveredWhenItComesUp() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("gateway.db").path
        // A free port for the gateway, left closed for a while. Outside the kernel's ephemeral range (32768–60999
        // here), where no other test's port-0 listener or outgoing connection can take it meanwhile.
        var gatewayPort = 0
        for _ in 0..<100 where gatewayPort == 0 {
            let port = Int.random(in: 20_000..<32_000)
            let probe = try await TestCollector(yaml: gatewayConfig(db: dir.appendingPathComponent("probe.db").path, port: port))
            if (try? await probe.address("otlp", "grpc")) != nil { gatewayPort = port }
            try? await probe.stop()
        }
        #expect(gatewayPort != 0)
        let retry = """
            retry_on_failure:
                  initial_interval: 100ms
                  max_interval: 200ms
            """
        let edge = try await TestCollector(yaml: edgeConfig(gatewayPort: gatewayPort, exporterExtra: retry))
        let edgePort = try await edge.address("otlp", "grpc").port
        let request = SpanFactory.request(service: "cart", traces: 2, spansPerTrace: 3)
        _ = try await withOTLPClient(port: edgePort) { client in
            try await Opentelemetry_Proto_Collector_Trace_V1_TraceService.Client(wrapping: client).export(request)
        }
        try await Task.sleep(for: .milliseconds(500))
        let gateway = try await TestCollector(yaml: gatewayConfig(db: db, port: gatewayPort))
        _ = try await gateway.address("otlp", "grpc")
        let reader = try await waitForSpans(db, 6)
        #expect(try reader.spanCount() == 6)
        try await edge.stop()
        try await gateway.stop()
    }

    @Test func anEndpointWithoutPortAndAnUnknownTLSVersionAreConfigErrors() throws {
        let yaml = edgeConfig(gatewayPort: 1).replacingOccurrences(of: "endpoint: 127.0.0.1:1", with: "endpoint: gateway")
            .replacingOccurrences(of: "insecure: true", with: "insecure: true\n      min_version: \"1.4\"")
        do {
            _ = try CollectorConfig.load(yaml: yaml, environment: [:], registry: .builtin)
            Issue.record("loaded")
        } catch {
            #expect(
                Set(error.problems.map(\.description)) == [
                    "exporters::otlp::endpoint: expected host:port, got \"gateway\"",
                    "exporters::otlp::tls::min_version: expected 1.0, 1.1, 1.2 or 1.3, got \"1.4\"",
                ])
        }
    }
}
