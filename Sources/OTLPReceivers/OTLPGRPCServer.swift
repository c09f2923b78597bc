import CollectorCore
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import NIOServing

/// The OTLP/gRPC listener: cleartext HTTP/2 (prior knowledge, as gRPC clients speak it) on SwiftNIO, one
/// ``GRPCConnectionHandler`` per connection.
///
/// Built on swift-nio-http2 directly rather than grpc-swift: otelsink serves four unary methods and one
/// server-streaming health watch, and grpc-swift's general machinery (a channel, an async sequence and several
/// tasks per call) cost ~3× more CPU per request than the data itself at OTLP request rates
/// (docs/performance.md, "gRPC receiver").
final class OTLPGRPCServer: Sendable {
    let channel: any Channel
    let localAddress: String
    private let connections: ConnectionTracker

    private init(channel: any Channel, connections: ConnectionTracker) {
        self.channel = channel
        self.connections = connections
        localAddress = channel.localAddress.map(Self.describe) ?? "unknown"
    }

    static func bind(
        endpoint: ListenEndpoint, services: OTLPGRPCServices, budget: InFlightBudget, maxConcurrentStreams: Int
    ) async throws -> OTLPGRPCServer {
        let connections = ConnectionTracker()
        let loops = MultiThreadedEventLoopGroup.singleton
        let settings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: maxConcurrentStreams),
            HTTP2Setting(parameter: .initialWindowSize, value: GRPCConnectionHandler.windowSize),
            HTTP2Setting(parameter: .maxHeaderListSize, value: HPACKDecoder.defaultMaxHeaderListSize),
        ]
        let bootstrap = ServerBootstrap(group: loops)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                connections.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    // Calls resume on the loop that reads their connection (see EventLoopTaskExecutor).
                    let executor = EventLoopTaskExecutor(channel.eventLoop)
                    try channel.pipeline.syncOperations.addHandler(NIOHTTP2Handler(mode: .server, initialSettings: settings))
                    try channel.pipeline.syncOperations.addHandler(GRPCConnectionHandler(services: services, budget: budget, executor: executor))
                }
            }
        let channel = try await bootstrap.bind(host: endpoint.host, port: endpoint.port).get()
        return OTLPGRPCServer(channel: channel, connections: connections)
    }

    /// Stops accepting connections; open ones finish their calls (see ``drain()``).
    func beginGracefulShutdown() {
        channel.close(promise: nil)
    }

    func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }

    /// Sends GOAWAY on every connection, waits (bounded) for calls in flight to be answered, then closes.
    func drain() async {
        try? await channel.closeFuture.get()
        await connections.closeAll(after: .seconds(10))
    }

    private static func describe(_ a: SocketAddress) -> String {
        guard let ip = a.ipAddress, let port = a.port else { return "\(a)" }
        return a.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
