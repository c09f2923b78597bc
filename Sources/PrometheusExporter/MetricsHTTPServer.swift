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
        return try await TCPServer.bind(host: endpoint.host, port: endpoint.port, drainGrace: .seconds(5), options: options, logger: logger) {
            channel in
            try channel.pipeline.syncOperations.configureBoundedHTTPServerPipeline(writeTimeout: options.writeTimeout)
            try channel.pipeline.syncOperations.addHandler(HTTPRequestResponder { head in Self.answer(head, path: path, source: source) })
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

    /// `GET <path>` gets the rendered metrics (gzip when accepted); anything else 404/405. Runs off the event loop.
    static func answer(_ head: HTTPRequestHead, path: String, source: any MetricsSource) -> HTTPAnswer {
        let target = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard target == path else { return .text(.notFound, "not found; metrics are at \(path)") }
        guard head.method == .GET || head.method == .HEAD else { return .text(.methodNotAllowed, "use GET") }
        let format = ExpositionFormat.negotiate(accept: head.headers.first(name: "accept"), allowOpenMetrics: source.allowsOpenMetrics)
        let gzip = head.headers[canonicalForm: "accept-encoding"].contains { $0.lowercased().hasPrefix("gzip") }
        let body = source.render(format: format)
        if gzip, let compressed = Gzip.compress(body) {
            return HTTPAnswer(status: .ok, contentType: format.contentType, headers: [("Content-Encoding", "gzip")], body: compressed)
        }
        return HTTPAnswer(status: .ok, contentType: format.contentType, body: body)
    }
}
