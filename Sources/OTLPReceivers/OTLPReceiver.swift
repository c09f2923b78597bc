import CollectorCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOServing
import OTLP
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
        if config.http != nil {
            context.telemetry.observedCounter(
                "otelsink_receiver_json_base64_ids_total",
                help: "Trace and span IDs in OTLP/JSON requests written in base64 (protobuf's JSON mapping) instead of hex, accepted."
            ) {
                Double(OTLPJSON.base64IDsAccepted)
            }
        }
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
        var handler = self.handler
        handler.transport = .grpc
        var services = OTLPGRPCServices(handler: handler, limit: settings.maxRecvMsgSizeMiB << 20)
        services.authenticator = try settings.auth.map { try context.extensions.authenticator($0) }
        let options = try ListenerOptions(settings.listener, applicationProtocols: ["h2"])
        let server = try await OTLPGRPCServer.bind(
            endpoint: settings.endpoint, services: services, budget: InFlightBudget(limit: settings.maxInFlightBytes),
            maxConcurrentStreams: settings.maxConcurrentStreams, options: options, keepalive: settings.keepalive,
            logger: context.logger)
        context.announceListening(protocolName: "grpc", address: server.localAddress)
        await withTaskCancellationOrGracefulShutdownHandler {
            await server.waitUntilClosed()
        } onCancelOrGracefulShutdown: {
            server.beginGracefulShutdown()
        }
        await server.drain()
    }

    private func runHTTP(_ settings: OTLPReceiverConfig.HTTP) async throws {
        var handler = self.handler
        handler.transport = .http
        var service = OTLPHTTPService(handler: handler, maxBodySize: settings.maxRequestBodySize)
        service.authenticator = try settings.auth.map { try context.extensions.authenticator($0) }
        service.cors = settings.cors
        let budget = InFlightBudget(limit: settings.maxInFlightBytes)
        let options = try ListenerOptions(settings.listener, applicationProtocols: ["h2", "http/1.1"])
        let server = try await OTLPHTTPServer.bind(
            endpoint: settings.endpoint, service: service, budget: budget, options: options, logger: context.logger)
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
