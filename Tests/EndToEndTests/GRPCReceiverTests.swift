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

/// End-to-end over real sockets: the collector from YAML, a grpc-swift-2 client, SQLite on disk.
@Suite("OTLP/gRPC receiver end to end")
struct GRPCReceiverTests {
    @Test func exportedSpansAreStoredAndReadBackUnchanged() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("traces.db").path
        let collector = try await TestCollector(yaml: sqliteConfig(db: db))
        let port = try await collector.address("otlp", "grpc").port
        let request = SpanFactory.request(service: "cart", traces: 3, spansPerTrace: 4)
        let response = try await withOTLPClient(port: port) { client in
            try await Opentelemetry_Proto_Collector_Trace_V1_TraceService.Client(wrapping: client).export(request)
        }
        #expect(!response.hasPartialSuccess)
        // Acknowledged means committed: readable from a separate read-only connection before shutdown.
        let reader = try TraceReader(path: db)
        #expect(try reader.spanCount() == 12)
        let traceID = request.resourceSpans[0].scopeSpans[0].spans[0].traceID
        let stored = try #require(try reader.trace(id: traceID))
        var expected = request
        expected.resourceSpans[0].scopeSpans[0].spans = request.resourceSpans[0].scopeSpans[0].spans.filter { $0.traceID == traceID }
        #expect(stored == expected)
        try await collector.stop()
    }

    @Test func invalidSpanIDsAreRejectedOneByOneThroughPartialSuccess() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("traces.db").path
        let collector = try await TestCollector(yaml: sqliteConfig(db: db))
        var request = SpanFactory.request(traces: 1, spansPerTrace: 5)
        request.resourceSpans[0].scopeSpans[0].spans[1].traceID = Data(count: 16)  // all zeros
        request.resourceSpans[0].scopeSpans[0].spans[3].spanID = Data([1, 2, 3])  // wrong length
        let response = try await withOTLPClient(port: try await collector.address("otlp", "grpc").port) { client in
            try await Opentelemetry_Proto_Collector_Trace_V1_TraceService.Client(wrapping: client).export(request)
        }
        #expect(response.partialSuccess.rejectedSpans == 2)
        #expect(response.partialSuccess.errorMessage.contains("trace id is all zeros"))
        #expect(try TraceReader(path: db).spanCount() == 3)
        try await collector.stop()
    }

    @Test func emptyRequestSucceeds() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let collector = try await TestCollector(yaml: sqliteConfig(db: dir.appendingPathComponent("t.db").path))
        let response = try await withOTLPClient(port: try await collector.address("otlp", "grpc").port) { client in
            try await Opentelemetry_Proto_Collector_Trace_V1_TraceService.Client(wrapping: client).export(ExportTraceRequest())
        }
        #expect(!response.hasPartialSuccess)
        try await collector.stop()
    }

    @Test func malformedProtobufIsInvalidArgumentAndServerKeepsServing() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("traces.db").path
        let collector = try await TestCollector(yaml: sqliteConfig(db: db))
        let port = try await collector.address("otlp", "grpc").port
        let good = SpanFactory.request(traces: 1, spansPerTrace: 2)
        let goodBytes: [UInt8] = try good.serializedBytes()
        try await withOTLPClient(port: port) { client in
            #expect(try await exportRaw(goodBytes, client: client) == nil)
            let garbage = try #require(try await exportRaw([0xFF, 0xFF, 0xFF, 0x0F, 0x01], client: client))
            #expect(garbage.code == .invalidArgument)
            let truncated = try #require(try await exportRaw(Array(goodBytes.prefix(goodBytes.count - 7)), client: client))
            #expect(truncated.code == .invalidArgument)
            // Still serving, earlier data untouched.
            #expect(try await exportRaw(try SpanFactory.request().serializedBytes(), client: client) == nil)
        }
        #expect(try TraceReader(path: db).spanCount() == 5)
        try await collector.stop()
    }

    @Test func requestOverTheSizeLimitIsResourceExhausted() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let collector = try await TestCollector(
            yaml: sqliteConfig(
                db: dir.appendingPathComponent("t.db").path, grpcExtra: "max_recv_msg_size_mib: 1"))
        var request = SpanFactory.request()
        request.resourceSpans[0].scopeSpans[0].spans[0].name = String(repeating: "x", count: 3 << 19)  // 1.5 MiB, limit 1 MiB
        let error = try await withOTLPClient(port: try await collector.address("otlp", "grpc").port) { client in
            try await exportRaw(try request.serializedBytes(), client: client)
        }
        #expect(error?.code == .resourceExhausted)
        try await collector.stop()
    }

    @Test func retryableRefusalIsUnavailableWithRetryInfo() async throws {
        let sink = TracesSink()
        let collector = try await collectorWithTestExporter(sink: sink, signal: "traces", settings: "refuse: retryable")
        let error = try await withOTLPClient(port: try await collector.address("otlp", "grpc").port) { client in
            try await exportRaw(try SpanFactory.request().serializedBytes(), client: client)
        }
        let rpcError = try #require(error)
        #expect(rpcError.code == .unavailable)
        let status = try #require(try rpcError.unpackGoogleRPCStatus())
        let retryDelays = status.details.compactMap { $0.retryInfo?.delay }
        #expect(retryDelays == [.seconds(3)])
        #expect(sink.spanCount == 0)
        try await collector.stop()
    }

    @Test func metricsAndLogsReachTheirPipelinesAndUnconfiguredSignalsAreUnimplemented() async throws {
        let sink = TracesSink()
        let collector = try await collectorWithTestExporter(sink: sink, signal: "metrics")
        var metrics = ExportMetricsRequest()
        var rm = ResourceMetrics()
        var sm = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
        var metric = Opentelemetry_Proto_Metrics_V1_Metric()
        metric.name = "requests"
        var gauge = Opentelemetry_Proto_Metrics_V1_Gauge()
        var point = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
        point.asInt = 7
        gauge.dataPoints = [point, point]
        metric.gauge = gauge
        sm.metrics = [metric]
        rm.scopeMetrics = [sm]
        metrics.resourceMetrics = [rm]
        try await withOTLPClient(port: try await collector.address("otlp", "grpc").port) { client in
            _ = try await Opentelemetry_Proto_Collector_Metrics_V1_MetricsService.Client(wrapping: client).export(metrics)
            let error = try await exportRaw(try SpanFactory.request().serializedBytes(), client: client)
            #expect(error?.code == .unimplemented)
        }
        #expect(sink.receivedMetrics.map(\.dataPointCount) == [2])
        try await collector.stop()
    }

    @Test func healthServiceReportsServing() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let collector = try await TestCollector(yaml: sqliteConfig(db: dir.appendingPathComponent("t.db").path))
        try await withOTLPClient(port: try await collector.address("otlp", "grpc").port) { client in
            let health = Grpc_Health_V1_Health.Client(wrapping: client)
            var all = Grpc_Health_V1_HealthCheckRequest()
            let overall = try await health.check(all)
            #expect(overall.status == .serving)
            all.service = "opentelemetry.proto.collector.trace.v1.TraceService"
            let traces = try await health.check(all)
            #expect(traces.status == .serving)
            var unknown = Grpc_Health_V1_HealthCheckRequest()
            unknown.service = "no.such.Service"
            await #expect(throws: RPCError.self) { try await health.check(unknown) }
        }
        try await collector.stop()
    }

    @Test func healthListNamesServedServicesAndWatchEndsWhenTheServerStops() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let collector = try await TestCollector(yaml: sqliteConfig(db: dir.appendingPathComponent("t.db").path))
        let stopped = try await withOTLPClient(port: try await collector.address("otlp", "grpc").port) { client in
            let health = Grpc_Health_V1_Health.Client(wrapping: client)
            let list = try await health.list(Grpc_Health_V1_HealthListRequest())
            #expect(Set(list.statuses.keys) == ["", "opentelemetry.proto.collector.trace.v1.TraceService"])
            #expect(list.statuses.values.allSatisfy { $0.status == .serving })
            // A watch stays open after its first answer; a graceful stop ends it with OK instead of hanging.
            let stop = LockedValue<Task<Void, any Error>?>(nil)
            let seen = try await health.watch(Grpc_Health_V1_HealthCheckRequest()) { response in
                var seen: [Grpc_Health_V1_HealthCheckResponse.ServingStatus] = []
                for try await message in response.messages {
                    seen.append(message.status)
                    stop.withLock { $0 = Task { try await collector.stop() } }
                }
                return seen
            }
            #expect(seen == [.serving])
            return stop.withLock { $0 }
        }
        try await #require(stopped).value
    }

    @Test func gracefulStopCommitsEveryAcknowledgedExport() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("traces.db").path
        let collector = try await TestCollector(yaml: sqliteConfig(db: db))
        let port = try await collector.address("otlp", "grpc").port
        let acknowledged = LockedValue(0)
        try await withOTLPClient(port: port) { client in
            let service = Opentelemetry_Proto_Collector_Trace_V1_TraceService.Client(wrapping: client)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        let request = SpanFactory.request(traces: 5, spansPerTrace: 10)
                        if (try? await service.export(request)) != nil { acknowledged.withLock { $0 += 50 } }
                    }
                }
                try await group.waitForAll()
            }
        }
        try await collector.stop()
        let stored = try TraceReader(path: db).spanCount()
        #expect(acknowledged.withLock { $0 } == 1000)
        #expect(stored == 1000)
    }
}
