import CollectorCore
import NIOCore
import NIOServing
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import Synchronization

/// The OTLP/HTTP listener: HTTP/1.1 and cleartext HTTP/2 (prior knowledge) on one port.
///
/// Built directly on SwiftNIO: Hummingbird serves HTTP/1.1 or plaintext HTTP/2 on a port, not both, and the
/// receiver needs byte-level control of body limits (see docs/architecture.md).
final class OTLPHTTPServer: Sendable {
    let channel: any Channel
    let localAddress: String
    /// Open child channels, so graceful shutdown can wait for in-flight requests.
    private let connections: ConnectionTracker

    private init(channel: any Channel, connections: ConnectionTracker) {
        self.channel = channel
        self.connections = connections
        let a = channel.localAddress
        if let ip = a?.ipAddress, let port = a?.port {
            localAddress = a?.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        } else {
            localAddress = "\(String(describing: a))"
        }
    }

    static func bind(endpoint: ListenEndpoint, service: OTLPHTTPService, budget: InFlightBudget) async throws -> OTLPHTTPServer {
        let connections = ConnectionTracker()
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                connections.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    // A connection that sends nothing for a minute is closed (idle keep-alive or a stalled client).
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(60)))
                    try channel.pipeline.syncOperations.addHandler(IdleConnectionCloser())
                    let sniffer = HTTPProtocolSniffer(
                        http1: { channel in
                            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                            try channel.pipeline.syncOperations.addHandler(OTLPHTTPHandler(service: service, budget: budget))
                        },
                        http2: { channel in
                            _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                                mode: .server,
                                connectionConfiguration: .init(),
                                streamConfiguration: .init()
                            ) { stream in
                                stream.eventLoop.makeCompletedFuture {
                                    try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                                    try stream.pipeline.syncOperations.addHandler(OTLPHTTPHandler(service: service, budget: budget))
                                }
                            }
                        })
                    try channel.pipeline.syncOperations.addHandler(sniffer)
                }
            }
        let channel = try await bootstrap.bind(host: endpoint.host, port: endpoint.port).get()
        return OTLPHTTPServer(channel: channel, connections: connections)
    }

    /// Stops accepting new connections; open connections finish their requests (see ``drain()``).
    func beginGracefulShutdown() {
        channel.close(promise: nil)
    }

    func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }

    /// Waits (bounded) for open connections to finish in-flight requests, then closes them.
    func drain() async {
        try? await channel.closeFuture.get()
        await connections.closeAll(after: .seconds(10))
    }
}

/// Closes the connection when `IdleStateHandler` reports no reads for its timeout.
final class IdleConnectionCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
