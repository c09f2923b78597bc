import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A listening SwiftNIO TCP server with what otelsink's servers (OTLP/gRPC, OTLP/HTTP, query API, metrics) share:
/// socket options, a bound on open connections, accept back-off when the process runs out of descriptors, TLS,
/// connection deadlines that trickled bytes do not extend, the bound address as text, and a graceful shutdown
/// that lets requests in flight finish.
public final class TCPServer: Sendable {
    /// The bound address, `127.0.0.1:4317` or `[::1]:4317`.
    public let localAddress: String
    private let channel: any Channel
    private let connections: ConnectionTracker
    private let drainGrace: Duration
    private let reloader: Task<Void, Never>?

    private init(channel: any Channel, connections: ConnectionTracker, drainGrace: Duration, reloader: Task<Void, Never>?) {
        self.channel = channel
        self.connections = connections
        self.drainGrace = drainGrace
        self.reloader = reloader
        let a = channel.localAddress
        if let ip = a?.ipAddress, let port = a?.port {
            localAddress = a?.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
        } else {
            localAddress = "\(String(describing: a))"
        }
    }

    /// Binds `host:port`. Each accepted connection gets, in front: a ``ConnectionDeadlineHandler``, then the TLS
    /// handler when `options.tls` is set; `configure` adds the protocol's handlers after them, on the connection's
    /// event loop. Past `options.maxConnections` a new connection is closed as soon as it is accepted.
    /// - Parameters:
    ///   - drainGrace: how long ``drain()`` lets open connections finish before closing them.
    ///   - group: the event loops that accept and serve connections (the process-wide ones unless a server needs
    ///     loops of its own, as the query API does: it reads the database on them).
    public static func bind(
        host: String, port: Int, drainGrace: Duration, options: ListenerOptions, logger: Logger,
        group: MultiThreadedEventLoopGroup = .singleton,
        configure: @escaping @Sendable (any Channel) throws -> Void
    ) async throws -> TCPServer {
        let connections = ConnectionTracker()
        let refusals = RefusalLog(logger: logger, limit: options.maxConnections)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { server in
                // Out of descriptors (EMFILE/ENFILE) or another accept error: wait a moment instead of retrying
                // at once, which would spin a core.
                server.eventLoop.makeCompletedFuture {
                    try server.pipeline.syncOperations.addHandler(
                        AcceptBackoffHandler(
                            shouldForwardIOErrorCaught: false, backoffProvider: { _ in .milliseconds(250) }))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard connections.admit(channel, limit: options.maxConnections) else {
                    refusals.refused()
                    return channel.eventLoop.makeFailedFuture(ConnectionLimitReached())
                }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(ConnectionDeadlineHandler(headerTimeout: options.headerTimeout, idleTimeout: options.idleTimeout))
                    if let tls = options.tls { try sync.addHandler(tls.makeHandler()) }
                    try configure(channel)
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        var reloader: Task<Void, Never>?
        if let tls = options.tls, let interval = tls.settings.reloadInterval {
            reloader = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    if Task.isCancelled { break }
                    do {
                        if try tls.reloadIfChanged() {
                            logger.info("reloaded TLS certificate", metadata: ["cert_file": "\(tls.settings.certFile)"])
                        }
                    } catch {
                        logger.warning("TLS files changed but cannot be used; keeping the previous certificate", metadata: ["error": "\(error)"])
                    }
                }
            }
        }
        return TCPServer(channel: channel, connections: connections, drainGrace: drainGrace, reloader: reloader)
    }

    /// Stops accepting connections; open ones finish their requests (see ``drain()``).
    public func beginGracefulShutdown() {
        reloader?.cancel()
        channel.close(promise: nil)
    }

    public func waitUntilClosed() async {
        try? await channel.closeFuture.get()
    }

    /// After the listener closed: asks every connection to quiesce (`ChannelShouldQuiesceEvent`), waits up to the
    /// grace period for requests in flight, then closes what is left.
    public func drain() async {
        try? await channel.closeFuture.get()
        reloader?.cancel()
        await connections.closeAll(after: drainGrace)
    }
}

/// A connection closed on arrival because the listener holds its maximum.
struct ConnectionLimitReached: Error {}

/// Logs refused connections: the first at once, then at most one line per 10 s with the count since.
final class RefusalLog: Sendable {
    private let logger: Logger
    private let limit: Int
    private let state = Mutex<(count: Int, lastLog: ContinuousClock.Instant?)>((0, nil))

    init(logger: Logger, limit: Int) {
        self.logger = logger
        self.limit = limit
    }

    func refused() {
        let now = ContinuousClock.now
        let toLog: Int? = state.withLock { s in
            s.count += 1
            if let last = s.lastLog, now - last < .seconds(10) { return nil }
            s.lastLog = now
            defer { s.count = 0 }
            return s.count
        }
        if let toLog {
            logger.warning("connection limit reached; refusing new connections", metadata: ["max_connections": "\(limit)", "refused": "\(toLog)"])
        }
    }
}
