import CollectorCore
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOServing

/// The OTLP/gRPC listener: cleartext HTTP/2 (prior knowledge, as gRPC clients speak it) on SwiftNIO, one
/// ``GRPCConnectionHandler`` per connection.
///
/// Built on swift-nio-http2 directly rather than grpc-swift: otelsink serves four unary methods and one
/// server-streaming health watch, and grpc-swift's general machinery (a channel, an async sequence and several
/// tasks per call) cost more CPU per request than the data itself at OTLP request rates (docs/architecture.md,
/// "The gRPC server").
enum OTLPGRPCServer {
    static func bind(
        endpoint: ListenEndpoint, services: OTLPGRPCServices, budget: InFlightBudget, maxConcurrentStreams: Int
    ) async throws -> TCPServer {
        let settings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: maxConcurrentStreams),
            HTTP2Setting(parameter: .initialWindowSize, value: GRPCConnectionHandler.windowSize),
            HTTP2Setting(parameter: .maxHeaderListSize, value: HPACKDecoder.defaultMaxHeaderListSize),
        ]
        return try await TCPServer.bind(host: endpoint.host, port: endpoint.port, drainGrace: .seconds(10)) { channel in
            // Calls resume on the loop that reads their connection (see EventLoopTaskExecutor).
            let executor = EventLoopTaskExecutor(channel.eventLoop)
            try channel.pipeline.syncOperations.addHandler(NIOHTTP2Handler(mode: .server, initialSettings: settings))
            try channel.pipeline.syncOperations.addHandler(GRPCConnectionHandler(services: services, budget: budget, executor: executor))
        }
    }
}
