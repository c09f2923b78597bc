import CollectorCore
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOServing
import ServiceLifecycle

/// The `otlp` receiver: OTLP/gRPC and OTLP/HTTP servers feeding the pipelines that list it.
///
/// On graceful shutdown it stops accepting connections and requests, lets in-flight exports finish (they are
/// waiting for their commit) and returns.
public struct OTLPReceiver: Receiver {
    let config: OTLPReceiverConfig
    let handler: OTLPExportHandler
    let context: ComponentContext

    public init(config: OTLPReceiverConfig, next: SignalConsumers, context: ComponentContext) {
        self.config = config
        self.handler = OTLPExportHandler(next: next)
        self.context = context
    }

    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            if let grpc = config.grpc {
                group.addTask { try await runGRPC(grpc) }
            }
            if let http = config.http {
                group.addTask { try await runHTTP(http) }
            }
        }
    }

    private func runGRPC(_ settings: OTLPReceiverConfig.GRPC) async throws {
        let limit = settings.maxRecvMsgSizeMiB << 20
        var handler = self.handler
        handler.transport = "grpc"
        var services: [any RegistrableRPCService] = []
        var names: Set<String> = []
        if handler.next.traces != nil {
            services.append(OTLPTraceService(handler: handler, limit: limit))
            names.insert("opentelemetry.proto.collector.trace.v1.TraceService")
        }
        if handler.next.metrics != nil {
            services.append(OTLPMetricsService(handler: handler, limit: limit))
            names.insert("opentelemetry.proto.collector.metrics.v1.MetricsService")
        }
        if handler.next.logs != nil {
            services.append(OTLPLogsService(handler: handler, limit: limit))
            names.insert("opentelemetry.proto.collector.logs.v1.LogsService")
        }
        services.append(HealthService(services: names))
        let address: GRPCNIOTransportCore.SocketAddress = settings.endpoint.host.contains(":")
            ? .ipv6(host: settings.endpoint.host, port: settings.endpoint.port)
            : .ipv4(host: settings.endpoint.host, port: settings.endpoint.port)
        // RPC handlers run on the event loops that serve their connections (see EventLoopTaskExecutor), instead of
        // hopping to the global concurrency pool and back for every request.
        let loops = MultiThreadedEventLoopGroup.singleton
        let executor = EventLoopTaskExecutor(loops)
        let transport = HTTP2ServerTransport.Posix(
            address: address,
            transportSecurity: .plaintext,
            config: .defaults { c in
                // Up to twice the limit reaches SizeLimitedDeserializer, which answers RESOURCE_EXHAUSTED; beyond
                // that the transport resets the stream without reading more (clients see UNAVAILABLE).
                c.rpc.maxRequestPayloadSize = 2 * limit
                c.compression.enabledAlgorithms = .all
                c.http2.maxConcurrentStreams = settings.maxConcurrentStreams
                c.http2.targetWindowSize = 4 << 20
            },
            eventLoopGroup: loops
        )
        let server = GRPCServer(transport: transport, services: services)
        // serve() returns once graceful shutdown has let in-flight RPCs finish. Cancellation (the other protocol
        // failed to start) stops it too, so a half-started receiver never lingers.
        try await withTaskCancellationOrGracefulShutdownHandler {
            // Report the bound address from a detached task: `listeningAddress` never returns if the server is
            // stopped before its transport starts (a startup failure elsewhere), and must not hold up shutdown.
            let context = self.context
            Task {
                guard let bound = try? await transport.listeningAddress else { return }
                let text = bound.ipv4.map { "\($0.host):\($0.port)" } ?? bound.ipv6.map { "[\($0.host)]:\($0.port)" } ?? "\(bound)"
                context.announceListening(protocolName: "grpc", address: text)
            }
            try await withTaskExecutorPreference(executor) {
                try await server.serve()
            }
        } onCancelOrGracefulShutdown: {
            server.beginGracefulShutdown()
        }
    }

    private func runHTTP(_ settings: OTLPReceiverConfig.HTTP) async throws {
        var handler = self.handler
        handler.transport = "http"
        let service = OTLPHTTPService(handler: handler, maxBodySize: settings.maxRequestBodySize)
        let budget = InFlightBudget(limit: settings.maxInFlightBytes)
        let server = try await OTLPHTTPServer.bind(endpoint: settings.endpoint, service: service, budget: budget)
        let text = server.localAddress
        context.announceListening(protocolName: "http", address: text)
        await withTaskCancellationOrGracefulShutdownHandler {
            await server.waitUntilClosed()
        } onCancelOrGracefulShutdown: {
            server.beginGracefulShutdown()
        }
        await server.drain()
    }
}

/// Registers the `otlp` receiver.
public struct OTLPReceiverFactory: ReceiverFactory {
    public init() {}
    public var type: String { "otlp" }
    public var kind: ComponentKind { .receiver }
    public var signals: Set<Signal> { [.traces, .metrics, .logs] }
    public var summary: String { "receives OTLP over gRPC (4317) and HTTP/1.1 + h2c (4318), protobuf and JSON, gzip" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { OTLPReceiverConfig(reading: reader) }

    public func makeReceiver(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Receiver {
        OTLPReceiver(config: try config.as(OTLPReceiverConfig.self, for: "otlp"), next: next, context: context)
    }
}
