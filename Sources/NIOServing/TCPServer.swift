import NIOCore
import NIOPosix

/// A listening SwiftNIO TCP server with what otelsink's servers (OTLP/gRPC, OTLP/HTTP, query API) share: socket
/// options, tracking of accepted connections, the bound address as text, and a graceful shutdown that lets requests
/// in flight finish.
public final class TCPServer: Sendable {
    /// The bound address, `127.0.0.1:4317` or `[::1]:4317`.
    public let localAddress: String
    private let channel: any Channel
    private let connections: ConnectionTracker
    private let drainGrace: Duration

    private init(channel: any Channel, connections: ConnectionTracker, drainGrace: Duration) {
        self.channel = channel
        self.connections = connections
        self.drainGrace = drainGrace
        let a = channel.localAddress
        if let ip = a?.ipAddress, let port = a?.port {
            localAddress = a?.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        } else {
            localAddress = "\(String(describing: a))"
        }
    }

    /// Binds `host:port`; `configure` builds each accepted connection's pipeline, on the connection's event loop.
    /// - Parameter drainGrace: how long ``drain()`` lets open connections finish before closing them.
    public static func bind(
        host: String, port: Int, drainGrace: Duration, configure: @escaping @Sendable (any Channel) throws -> Void
    ) async throws -> TCPServer {
        let connections = ConnectionTracker()
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                connections.add(channel)
                return channel.eventLoop.makeCompletedFuture { try configure(channel) }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        return TCPServer(channel: channel, connections: connections, drainGrace: drainGrace)
    }

    /// Stops accepting connections; open ones finish their requests (see ``drain()``).
    public func beginGracefulShutdown() {
        channel.close(promise: nil)
    }

    public func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }

    /// After the listener closed: asks every connection to quiesce (`ChannelShouldQuiesceEvent`), waits up to the
    /// grace period for requests in flight, then closes what is left.
    public func drain() async {
        try? await channel.closeFuture.get()
        await connections.closeAll(after: drainGrace)
    }
}
