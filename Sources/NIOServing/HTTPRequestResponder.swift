import NIOCore
import NIOHTTP1

/// A complete HTTP/1.1 answer: status, content type, extra headers and the whole body.
public struct HTTPAnswer: Sendable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: HTTPResponseStatus, contentType: String, headers: [(String, String)] = [], body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }

    /// A `text/plain` answer whose body is `message` and a newline.
    public static func text(_ status: HTTPResponseStatus, _ message: String) -> HTTPAnswer {
        HTTPAnswer(status: status, contentType: "text/plain; charset=utf-8", body: Array((message + "\n").utf8))
    }
}

/// Serves request/answer HTTP/1.1 endpoints (the query API, `/metrics`, the `health_check` extension): waits for a whole request (its
/// body is ignored), computes the answer with `respond` on a task (never on the event loop), and writes it with
/// `Content-Length`, keep-alive as the request asked, no body for `HEAD`, and a close after the answer otherwise.
/// Put it after ``HTTP1ResponseGate`` (``ChannelPipeline/SynchronousOperations/configureBoundedHTTPServerPipeline(writeTimeout:)``),
/// which hands on one request at a time and the next only once this answer is written.
public final class HTTPRequestResponder: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias OutboundOut = HTTPServerResponsePart

    private let respond: @Sendable (HTTPRequestHead) async -> HTTPAnswer
    private var head: HTTPRequestHead?

    public init(respond: @escaping @Sendable (HTTPRequestHead) async -> HTTPAnswer) {
        self.respond = respond
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let respond = self.respond
            let promise = context.eventLoop.makePromise(of: HTTPAnswer.self)
            promise.completeWithTask { await respond(head) }
            promise.futureResult.assumeIsolated().whenSuccess { answer in
                self.write(answer, for: head, context: context)
            }
        }
    }

    /// An ``IdleStateHandler`` in front (the query API's) closes a connection left idle.
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func write(_ answer: HTTPAnswer, for head: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: answer.contentType)
        headers.add(name: "Content-Length", value: String(answer.body.count))
        for (name, value) in answer.headers { headers.add(name: name, value: value) }
        let keepAlive = head.isKeepAlive
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: answer.status, headers: headers))), promise: nil)
        if head.method != .HEAD && !answer.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: answer.body)))), promise: nil)
        }
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        if !keepAlive {
            done.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}
