import CollectorCore
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOServing

/// The OTLP/gRPC listener: HTTP/2 (cleartext with prior knowledge, as gRPC clients speak it, or TLS with ALPN
/// `h2`) on SwiftNIO, one ``GRPCConnectionHandler`` per connection.
///
/// Built on swift-nio-http2 directly rather than grpc-swift: otelsink serves four unary methods and one
/// server-streaming health watch, and grpc-swift's general machinery (a channel, an async sequence and several
/// tasks per call) cost more CPU per request than the data itself at OTLP request rates (docs/architecture.md,
/// "The gRPC server").
enum OTLPGRPCServer {
    static func bind(
        endpoint: ListenEndpoint, services: OTLPGRPCServices, budget: InFlightBudget, maxConcurrentStreams: Int,
        options: ListenerOptions, keepalive: GRPCKeepalive, logger: Logger
    ) async throws -> TCPServer {
        try await TCPServer.bind(
            host: endpoint.host, port: endpoint.port, drainGrace: .seconds(10), options: options, logger: logger
        ) { channel in
            try configure(channel, services: services, budget: budget, maxConcurrentStreams: maxConcurrentStreams, keepalive: keepalive)
        }
    }

    /// One connection's pipeline after TLS: HTTP/2 with otelsink's settings, then ``GRPCConnectionHandler``.
    static func configure(
        _ channel: any Channel, services: OTLPGRPCServices, budget: InFlightBudget, maxConcurrentStreams: Int, keepalive: GRPCKeepalive
    ) throws {
        let settings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: maxConcurrentStreams),
            HTTP2Setting(parameter: .initialWindowSize, value: GRPCConnectionHandler.windowSize),
            HTTP2Setting(parameter: .maxHeaderListSize, value: HPACKDecoder.defaultMaxHeaderListSize),
        ]
        // Calls resume on the loop that reads their connection (see EventLoopTaskExecutor).
        let executor = EventLoopTaskExecutor(channel.eventLoop)
        let sync = channel.pipeline.syncOperations
        try sync.addHandler(HTTP2GoAwayWatcher())
        // Header blocks are checked by GRPCConnectionHandler (GRPCRequestHead), at a fraction of the library's cost.
        try sync.addHandler(NIOHTTP2Handler(mode: .server, initialSettings: settings, headerBlockValidation: .disabled))
        try sync.addHandler(GRPCConnectionHandler(services: services, budget: budget, executor: executor, keepalive: keepalive))
    }
}
