import CollectorCore
import Logging
import NIOCore
import NIOServing
import NIOHTTP1
import NIOPosix
import Synchronization

/// The query API's HTTP/1.1 listener (SwiftNIO; see docs/architecture.md for why not Hummingbird).
enum QueryHTTPServer {
    /// Requests in flight get 5 s to finish on shutdown.
    static func bind(endpoint: ListenEndpoint, router: QueryRouter, options: ListenerOptions, logger: Logger) async throws -> TCPServer {
        try await TCPServer.bind(host: endpoint.host, port: endpoint.port, drainGrace: .seconds(5), options: options, logger: logger) { channel in
            try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: options.idleTimeout))
            try channel.pipeline.syncOperations.configureBoundedHTTPServerPipeline(writeTimeout: options.writeTimeout)
            try channel.pipeline.syncOperations.addHandler(QueryHTTPHandler(router: router))
        }
    }
}

/// One connection: reads a request (the body of a GET is ignored), answers it through the router.
final class QueryHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let router: QueryRouter
    private var head: HTTPRequestHead?
    private var busy = false

    init(router: QueryRouter) { self.router = router }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body:
            break
        case .end:
            guard let head, !busy else { return }
            busy = true
            let router = self.router
            let method = head.method
            let uri = head.uri
            let credentials = router.authenticator.flatMap { head.headers.first(name: $0.headerName) }
            let flags = head.headers["X-Loki-Response-Encoding-Flags"].map { ("X-Loki-Response-Encoding-Flags", $0) }
            let promise = context.eventLoop.makePromise(of: QueryResponse.self)
            promise.completeWithTask { await router.handle(method: method, uri: uri, credentials: credentials, headers: flags) }
            promise.futureResult.assumeIsolated().whenSuccess { response in
                self.busy = false
                self.head = nil
                self.write(response, head: head, context: context)
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func write(_ response: QueryResponse, head: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        let keepAlive = head.isKeepAlive
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers))), promise: nil)
        let sendBody = head.method != .HEAD && !response.body.isEmpty
        if sendBody {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        }
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        if !keepAlive {
            done.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
