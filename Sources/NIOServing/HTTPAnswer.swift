import NIOCore
import NIOHTTP1

/// A complete HTTP answer: status, content type, extra headers and the whole body — and the one way otelsink's HTTP
/// servers (OTLP/HTTP, the query API, `/metrics`, the health check) write an answer and keep or close the connection.
public struct HTTPAnswer: Sendable {
    public var status: HTTPResponseStatus
    /// Nil: the headers carry it, or there is none.
    public var contentType: String?
    public var headers: [(String, String)]
    public var body: [UInt8]
    /// Runs once the answer has been written (or the write failed), on the event loop.
    public var afterWrite: (@Sendable () -> Void)?

    public init(
        status: HTTPResponseStatus, contentType: String?, headers: [(String, String)] = [], body: [UInt8],
        afterWrite: (@Sendable () -> Void)? = nil
    ) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
        self.afterWrite = afterWrite
    }

    /// A `text/plain` answer whose body is `message` and a newline.
    public static func text(_ status: HTTPResponseStatus, _ message: String) -> HTTPAnswer {
        HTTPAnswer(status: status, contentType: "text/plain; charset=utf-8", body: Array((message + "\n").utf8))
    }

    /// Whether, and how, the connection closes after the answer.
    public enum Closing: Sendable {
        /// It stays open for the next request.
        case no
        /// Closed once the answer is written.
        case atOnce
        /// Output shut once the answer is written, the connection closed 2 s later: a client still sending (a body
        /// refused before it was read) reads the answer instead of a connection reset.
        case lingering
    }

    /// Writes the answer to `head` in `context`'s channel: the head with `Content-Length` (and, over HTTP/1,
    /// `Connection: keep-alive` or `close`), the body unless the request was `HEAD`, the end, one flush; then the
    /// connection closes as `closing` says.
    public func write(for head: HTTPRequestHead, closing: Closing, context: ChannelHandlerContext) {
        var fields = HTTPHeaders()
        if let contentType { fields.add(name: "Content-Type", value: contentType) }
        fields.add(contentsOf: headers)
        fields.add(name: "Content-Length", value: String(body.count))
        if head.version.major == 1 { fields.add(name: "Connection", value: closing == .no ? "keep-alive" : "close") }
        context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: head.version, status: status, headers: fields))), promise: nil)
        if head.method != .HEAD && !body.isEmpty {
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: done)
        if let afterWrite { done.futureResult.whenComplete { _ in afterWrite() } }
        switch closing {
        case .no:
            break
        case .atOnce:
            done.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        case .lingering:
            done.futureResult.assumeIsolated().whenComplete { _ in
                context.close(mode: .output, promise: nil)
                context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(2)) { context.close(promise: nil) }
            }
        }
    }
}
