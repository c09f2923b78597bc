import CollectorCore
import GzipCompression
import Logging
import NIOCore
import NIOHTTP1
import NIOServing
import ServiceLifecycle

/// Something `GET /metrics` can render.
public protocol MetricsSource: Sendable {
    /// Whether OpenMetrics may be served when the scraper asks for it.
    var allowsOpenMetrics: Bool { get }
    /// The exposition in `format`. Called off the event loop.
    func render(format: ExpositionFormat) -> [UInt8]
}

/// A small HTTP/1.1 server for `GET /metrics` on SwiftNIO (the same stack as the OTLP/HTTP receiver, so no further
/// dependency). Each scrape renders on a task of the concurrency pool, never on the event loop, so a large
/// exposition does not delay other connections; gzip when `Accept-Encoding` allows it.
public enum MetricsHTTPServer {
    /// Binds `address` (`host:port`; `localhost` is the IPv4 loopback) and serves `source` at `path`.
    public static func bind(
        address: String, path: String = "/metrics", listener: ListenerSettings, source: any MetricsSource, logger: Logger
    ) async throws -> TCPServer {
        guard let endpoint = ListenEndpoint(parsing: address) else {
            throw PipelineError.permanent("invalid listen address \"\(address)\": expected host:port with an IP address or localhost")
        }
        let options = try ListenerOptions(listener, applicationProtocols: ["http/1.1"])
        return try await TCPServer.bind(host: endpoint.host, port: endpoint.port, drainGrace: .seconds(5), options: options, logger: logger) { channel in
            try channel.pipeline.syncOperations.configureBoundedHTTPServerPipeline(writeTimeout: options.writeTimeout)
            try channel.pipeline.syncOperations.addHandler(MetricsHTTPHandler(path: path, source: source))
        }
    }

    /// Serves until graceful shutdown or cancellation, logging the bound address as `listening`; then stops
    /// accepting and lets scrapes in flight finish (up to 5 s).
    public static func serve(
        address: String, listener: ListenerSettings, source: any MetricsSource, context: ComponentContext, protocolName: String
    ) async throws {
        let server = try await bind(address: address, listener: listener, source: source, logger: context.logger)
        context.announceListening(protocolName: protocolName, address: server.localAddress)
        await withTaskCancellationOrGracefulShutdownHandler {
            await server.waitUntilClosed()
        } onCancelOrGracefulShutdown: {
            server.beginGracefulShutdown()
        }
        await server.drain()
    }
}

/// Answers `GET <path>` with the rendered metrics, anything else with 404/405.
final class MetricsHTTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let path: String
    let source: any MetricsSource
    private var head: HTTPRequestHead?

    init(path: String, source: any MetricsSource) {
        self.path = path
        self.source = source
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(context: context, head: head)
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead) {
        let target = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard target == path else { return send(context: context, head: head, status: .notFound, body: Array("not found; metrics are at \(path)\n".utf8), contentType: "text/plain") }
        guard head.method == .GET || head.method == .HEAD else {
            return send(context: context, head: head, status: .methodNotAllowed, body: Array("use GET\n".utf8), contentType: "text/plain")
        }
        let format = ExpositionFormat.negotiate(accept: head.headers.first(name: "accept"), allowOpenMetrics: source.allowsOpenMetrics)
        let gzip = head.headers[canonicalForm: "accept-encoding"].contains { $0.lowercased().hasPrefix("gzip") }
        let source = self.source
        let loop = context.eventLoop
        let ctx = NIOLoopBound(context, eventLoop: loop)
        let me = NIOLoopBound(self, eventLoop: loop)
        Task {
            let body = source.render(format: format)
            let compressed = gzip ? Gzip.compress(body) : nil
            loop.execute {
                me.value.send(context: ctx.value, head: head, status: .ok, body: compressed ?? body, contentType: format.contentType,
                              encoding: compressed == nil ? nil : "gzip")
            }
        }
    }

    private func send(context: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus, body: [UInt8], contentType: String, encoding: String? = nil) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.count))
        if let encoding { headers.add(name: "Content-Encoding", value: encoding) }
        let keepAlive = head.isKeepAlive
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: body.count)
            buffer.writeBytes(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
