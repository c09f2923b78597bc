import NIOCore
import NIOHTTP1

/// Serves request/answer HTTP/1.1 endpoints (the query API, `/metrics`, the `health_check` extension): waits for a whole request (its
/// body is ignored), computes the answer with `respond` on a task (on the executor chosen for the request), and writes it with
/// `Content-Length`, keep-alive as the request asked, no body for `HEAD`, and a close after the answer otherwise.
/// Put it after ``HTTP1ResponseGate`` (``ChannelPipeline/SynchronousOperations/configureBoundedHTTPServerPipeline(writeTimeout:)``),
/// which hands on one request at a time and the next only once this answer is written.
public final class HTTPRequestResponder: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias OutboundOut = HTTPServerResponsePart

    private let respond: @Sendable (HTTPRequestHead) async -> HTTPAnswer
    private let executor: @Sendable (HTTPRequestHead) -> (any TaskExecutor)?
    private var head: HTTPRequestHead?

    /// `executor`: where the answer's task prefers to run (nil: Swift's global executor).
    public convenience init(executor: (any TaskExecutor)? = nil, respond: @escaping @Sendable (HTTPRequestHead) async -> HTTPAnswer) {
        self.init(executorFor: { _ in executor }, respond: respond)
    }

    /// `executorFor`: where a request's task prefers to run, chosen by its head (nil: Swift's global executor). An
    /// ``EventLoopTaskExecutor`` of the connection's loop answers without any thread hand-off.
    public init(
        executorFor: @escaping @Sendable (HTTPRequestHead) -> (any TaskExecutor)?,
        respond: @escaping @Sendable (HTTPRequestHead) async -> HTTPAnswer
    ) {
        self.respond = respond
        self.executor = executorFor
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
            Task(executorPreference: executor(head)) { promise.succeed(await respond(head)) }
            promise.futureResult.assumeIsolated().whenSuccess { answer in
                self.write(answer, for: head, context: context)
            }
        }
    }

    /// An `IdleStateHandler` (NIO) in front (the query API's) closes a connection left idle.
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    private func write(_ answer: HTTPAnswer, for head: HTTPRequestHead, context: ChannelHandlerContext) {
        answer.write(for: head, closing: head.isKeepAlive ? .no : .atOnce, context: context)
    }
}
