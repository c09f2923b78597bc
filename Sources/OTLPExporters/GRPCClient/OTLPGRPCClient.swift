import CollectorCore
import Foundation
import GzipCompression
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import NIOSSL
import Synchronization

/// A unary gRPC client for one upstream address on swift-nio-http2: one long-lived HTTP/2 connection with many
/// concurrent calls on it (as many as the upstream's SETTINGS allow; more wait in `NIOHTTP2Handler`), connected
/// when first needed and again after it closes or goes away. Retries and their backoff belong to the caller (the
/// sending queue): a call that cannot get a connection ends UNAVAILABLE with the cause (refused, TLS, timeout).
final class OTLPGRPCClient: Sendable {
    struct Settings: Sendable {
        var host: String
        var port: Int
        /// `:authority`, also the TLS server name unless the host is an IP address and no override is set.
        var authority: String
        var tls: ClientTLSSettings?
        var timeout: Duration
        var keepalive: GRPCClientConnectionHandler.Keepalive?
        var gzip: Bool
        var headers: [(String, String)]
    }

    private struct Live: Sendable {
        var channel: any Channel
        var health: GRPCConnectionHealth
    }

    private enum Slot {
        case idle
        case connecting([CheckedContinuation<Result<Live, any Error>, Never>])
        case ready(Live)
        case closed
    }

    let settings: Settings
    private let slot = Mutex(Slot.idle)
    private let tls: ClientTLSContextSource?
    private let group: any EventLoopGroup

    init(settings: Settings, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        self.settings = settings
        self.group = group
        tls = try settings.tls.map { try ClientTLSContextSource(settings: $0) }
    }

    var target: String { "\(settings.host.contains(":") ? "[\(settings.host)]" : settings.host):\(settings.port)" }

    /// Calls `path` with `message` (the serialized request) and returns how it ended; never throws.
    func call(path: String, message: [UInt8], extraHeaders: [(name: String, value: String)] = []) async -> GRPCCallAnswer {
        let live: Live
        switch await connection() {
        case .success(let l): live = l
        case .failure(let error): return .unavailable("cannot connect to \(target): \(GRPCClientConnectionHandler.describe(error))")
        }
        var headers = HPACKHeaders()
        headers.add(name: ":method", value: "POST")
        headers.add(name: ":scheme", value: tls == nil ? "http" : "https")
        headers.add(name: ":path", value: path)
        headers.add(name: ":authority", value: settings.authority)
        headers.add(name: "content-type", value: "application/grpc")
        headers.add(name: "te", value: "trailers")
        headers.add(name: "user-agent", value: "otelsink")
        headers.add(name: "grpc-accept-encoding", value: "identity")
        let millis = settings.timeout.components.seconds * 1000 + settings.timeout.components.attoseconds / 1_000_000_000_000_000
        headers.add(name: "grpc-timeout", value: millis < 100_000_000 ? "\(millis)m" : "\(min(millis / 1000, 99_999_999))S")
        var payload = message
        var flag: UInt8 = 0
        if settings.gzip, let compressed = Gzip.compress(message) {
            headers.add(name: "grpc-encoding", value: "gzip")
            payload = compressed
            flag = 1
        }
        for (name, value) in settings.headers { headers.add(name: name, value: value) }
        for (name, value) in extraHeaders { headers.replaceOrAdd(name: name, value: value) }
        var buffer = live.channel.allocator.buffer(capacity: payload.count + 5)
        buffer.writeInteger(flag)
        buffer.writeInteger(UInt32(truncatingIfNeeded: payload.count))
        buffer.writeBytes(payload)
        let promise = live.channel.eventLoop.makePromise(of: GRPCCallAnswer.self)
        let nanos = settings.timeout.components.seconds * 1_000_000_000 + settings.timeout.components.attoseconds / 1_000_000_000
        live.channel.triggerUserOutboundEvent(GRPCStartCall(headers: headers, message: buffer, timeout: .nanoseconds(nanos), promise: promise))
            .whenFailure { error in
                // The connection closed before the call could start: say why it closed (a failed TLS handshake
                // closes it right after the TCP connect succeeds), not only that it is closed.
                promise.succeed(.unavailable(live.health.failureReason ?? "the connection to \(self.target) is closed: \(error)"))
            }
        do { return try await promise.futureResult.get() } catch { return .unavailable("\(error)") }
    }

    /// The connection in use, or a new one: one connection attempt at a time; callers arriving meanwhile wait for it.
    private func connection() async -> Result<Live, any Error> {
        enum Step {
            case use(Live)
            case connect, wait, closed
        }
        return await withCheckedContinuation { (c: CheckedContinuation<Result<Live, any Error>, Never>) in
            let step: Step = slot.withLock { s in
                switch s {
                case .ready(let live) where live.health.isUsable && live.channel.isActive:
                    return .use(live)
                case .connecting(var waiters):
                    waiters.append(c)
                    s = .connecting(waiters)
                    return .wait  // resumed when the attempt ends
                case .closed:
                    return .closed
                case .idle, .ready:
                    s = .connecting([c])
                    return .connect
                }
            }
            switch step {
            case .use(let live): c.resume(returning: .success(live))
            case .connect: Task { await self.connect() }
            case .wait: break
            case .closed: c.resume(returning: .failure(PipelineError.retryable("the exporter is shutting down")))
            }
        }
    }

    private func connect() async {
        let result: Result<Live, any Error>
        do {
            result = .success(try await open())
        } catch {
            result = .failure(error)
        }
        let (waiters, orphan): ([CheckedContinuation<Result<Live, any Error>, Never>], Live?) = slot.withLock { s in
            guard case .connecting(let waiters) = s else { return ([], try? result.get()) }
            switch result {
            case .success(let live): s = .ready(live)
            case .failure: s = .idle
            }
            return (waiters, nil)
        }
        orphan?.channel.close(promise: nil)  // closed while connecting
        for w in waiters { w.resume(returning: result) }
    }

    private func open() async throws -> Live {
        let health = GRPCConnectionHealth()
        let sslContext = try tls?.context()
        let serverName = settings.tls?.serverNameOverride ?? (ListenEndpoint.isIPLiteral(settings.host) ? nil : settings.host)
        let keepalive = settings.keepalive
        let timeout = settings.timeout
        let target = self.target
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let sslContext {
                        try sync.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: serverName))
                    }
                    try sync.addHandler(HTTP2AnswerCheck(health: health, target: target))
                    try sync.addHandler(
                        NIOHTTP2Handler(
                            mode: .client,
                            initialSettings: [
                                HTTP2Setting(parameter: .maxConcurrentStreams, value: 100),
                                HTTP2Setting(parameter: .initialWindowSize, value: 65_535),
                                HTTP2Setting(parameter: .maxHeaderListSize, value: 16_384),
                                HTTP2Setting(parameter: .enablePush, value: 0),
                            ]))
                    try sync.addHandler(GRPCClientConnectionHandler(health: health, keepalive: keepalive))
                }
            }
        let channel = try await bootstrap.connect(host: settings.host, port: settings.port).get()
        return Live(channel: channel, health: health)
    }

    /// Closes the connection (open calls end UNAVAILABLE) and takes no more calls.
    func close() {
        let (live, waiters): (Live?, [CheckedContinuation<Result<Live, any Error>, Never>]) = slot.withLock { s in
            defer { s = .closed }
            switch s {
            case .ready(let live): return (live, [])
            case .connecting(let waiters): return (nil, waiters)
            default: return (nil, [])
            }
        }
        live?.channel.close(promise: nil)
        for w in waiters { w.resume(returning: .failure(PipelineError.retryable("the exporter is shutting down"))) }
    }
}
