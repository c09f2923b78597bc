import CollectorCore
import Logging
import NIOCore
import NIOServing

/// The OTLP/gRPC listener: HTTP/2 (cleartext with prior knowledge, as gRPC clients speak it, or TLS with ALPN
/// `h2`) on SwiftNIO, one ``GRPCHTTP2Handler`` and one ``GRPCConnectionHandler`` per connection.
///
/// Not built on grpc-swift, nor on swift-nio-http2's connection handler: otelsink serves four unary methods and one
/// server-streaming health watch, and their general machinery cost more CPU per request than the data itself at
/// OTLP request rates (docs/architecture.md, "The gRPC server").
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

    /// One connection's pipeline after TLS: reads paused while answers cannot be written, HTTP/2
    /// (``GRPCHTTP2Handler``), then ``GRPCConnectionHandler``.
    static func configure(
        _ channel: any Channel, services: OTLPGRPCServices, budget: InFlightBudget, maxConcurrentStreams: Int, keepalive: GRPCKeepalive
    ) throws {
        // Calls resume on the loop that reads their connection (see EventLoopTaskExecutor).
        let executor = EventLoopTaskExecutor(channel.eventLoop)
        let sync = channel.pipeline.syncOperations
        // A client that sends calls but does not read their answers: while its answers wait in the socket's buffer
        // (the channel is not writable), nothing more is read from it, so what it can make the server hold is
        // bounded (the calls already read and their answers).
        try sync.addHandler(BackPressureHandler())
        try sync.addHandler(HTTP2GoAwayWatcher())
        try sync.addHandler(GRPCHTTP2Handler(maxConcurrentStreams: maxConcurrentStreams))
        try sync.addHandler(GRPCConnectionHandler(services: services, budget: budget, executor: executor, keepalive: keepalive))
    }
}
