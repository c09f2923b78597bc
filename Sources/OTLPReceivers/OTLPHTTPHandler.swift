import CollectorCore
import NIOCore
import NIOHTTP1
import NIOServing
import Synchronization

/// One OTLP/HTTP request at a time on an HTTP/1.1 connection or an HTTP/2 stream.
///
/// Bodies are accumulated up to the limit; a body known (Content-Length) or found to be over it is answered 413 at
/// once and the connection (or stream) closed, so the rest is never read into memory.
final class OTLPHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let service: OTLPHTTPService
    private let budget: InFlightBudget

    private enum State {
        case idle
        /// Reading a request's body into ``body``; `reserved` of its bytes are reserved from the budget.
        case receiving(head: HTTPRequestHead, signal: Signal, encoding: OTLPHTTPService.Encoding, reserved: Int)
        /// Reading and dropping the body of a request whose answer is already known (an error, a CORS preflight);
        /// answered at its end.
        case discarding(head: HTTPRequestHead, response: OTLPHTTPService.Response)
        case processing
        /// The answer was sent early; ignore the rest of the request.
        case rejected
    }

    private var state = State.idle
    /// The body being received. Held here, not in ``State``: `channelRead` switches over a copy of the state, and an
    /// array referenced from that copy as well would be copied whole by every append (quadratic in the body's size;
    /// a 15 MB body in 16 KiB HTTP/2 frames spent most of its time copying).
    private var body: [UInt8] = []
    private var loopExecutor: EventLoopTaskExecutor?

    private func executor(for loop: any EventLoop) -> EventLoopTaskExecutor {
        if let loopExecutor { return loopExecutor }
        let made = EventLoopTaskExecutor(loop)
        loopExecutor = made
        return made
    }

    init(service: OTLPHTTPService, budget: InFlightBudget) {
        self.service = service
        self.budget = budget
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .idle):
            if let cors = service.cors, CORSPolicy.isPreflight(head) {
                state = .discarding(head: head, response: cors.preflightResponse(head))
                return
            }
            let expectsContinue =
                head.version.major == 1 && head.version.minor >= 1
                && head.headers.first(name: "expect")?.lowercased() == "100-continue"
            switch service.checkHead(head) {
            case .failure(let error) where error.status == .payloadTooLarge || expectsContinue:
                // The client has not sent the body (or must not, for 413): answer now and close.
                rejectNow(context: context, head: head, error: error)
            case .failure(let error):
                state = .discarding(head: head, response: error.response)
            case .success(let (signal, encoding)):
                // Bytes are reserved from the budget as they arrive, not on the promise of a Content-Length, so
                // clients that announce large bodies and send nothing cannot starve the others.
                let expected = head.headers.first(name: "content-length").flatMap(Int.init) ?? 0
                body = []
                body.reserveCapacity(min(expected, 256 << 10))
                state = .receiving(head: head, signal: signal, encoding: encoding, reserved: 0)
                if expectsContinue {
                    // RFC 9110 §10.1.1: tell the client to send the body instead of letting it wait.
                    let interim = HTTPResponseHead(version: head.version, status: .continue)
                    context.writeAndFlush(wrapOutboundOut(.head(interim)), promise: nil)
                }
            }
        case (.body(let chunk), .receiving(let head, let signal, let encoding, var reserved)):
            if body.count + chunk.readableBytes > service.maxBodySize {
                budget.release(reserved)
                rejectNow(
                    context: context, head: head,
                    error: ResponseError(
                        .payloadTooLarge, "request body exceeds the limit of \(service.maxBodySize) bytes", encoding))
                return
            }
            let needed = body.count + chunk.readableBytes - reserved
            if needed > 0 {
                guard budget.reserve(needed, holding: reserved) else {
                    budget.release(reserved)
                    rejectNow(
                        context: context, head: head,
                        error: ResponseError(
                            .serviceUnavailable, "too many request bytes in flight; retry later", encoding, headers: [("Retry-After", "1")]))
                    return
                }
                reserved += needed
            }
            body.append(contentsOf: chunk.readableBytesView)
            state = .receiving(head: head, signal: signal, encoding: encoding, reserved: reserved)
        case (.end, .receiving(let head, let signal, let encoding, let reserved)):
            state = .processing
            let body = self.body
            self.body = []
            let gzip = head.headers.first(name: "content-encoding")?.lowercased() == "gzip"
            let verify = service.credentialsToVerify(head)
            let service = self.service
            let budget = self.budget
            // The request runs on this connection's event loop (no hop to the global pool and back), and the
            // answer is written from there.
            let loop = context.eventLoop
            let target = NIOLoopBound((handler: self, context: context), eventLoop: loop)
            Task(executorPreference: executor(for: loop)) {
                let response = await service.handle(
                    signal: signal, encoding: encoding, gzip: gzip, body: body, budget: budget, holding: reserved,
                    verify: verify)
                budget.release(reserved)
                let deliver: @Sendable () -> Void = {
                    target.value.handler.state = .idle
                    target.value.handler.write(response, head: head, context: target.value.context, close: false)
                }
                if loop.inEventLoop { deliver() } else { loop.execute(deliver) }
            }
        case (.end, .discarding(let head, let response)):
            state = .idle
            write(response, head: head, context: context, close: false)
        case (.body, .discarding), (_, .rejected):
            break
        default:
            // A part out of order (e.g. a new head while processing, which HTTP/1 pipelining assistance prevents).
            state = .rejected
            context.close(promise: nil)
        }
    }

    private func rejectNow(context: ChannelHandlerContext, head: HTTPRequestHead, error: ResponseError) {
        state = .rejected
        body = []
        write(error.response, head: head, context: context, close: true)
    }

    private func write(_ response: OTLPHTTPService.Response, head: HTTPRequestHead, context: ChannelHandlerContext, close: Bool) {
        var headers = response.headers
        if let cors = service.cors, !CORSPolicy.isPreflight(head) { headers += cors.responseHeaders(head) }
        // Not kept alive: a lingering close, so that a client still sending reads the answer, not a reset.
        HTTPAnswer(status: response.status, contentType: nil, headers: headers, body: response.body)
            .write(for: head, closing: head.isKeepAlive && !close ? .no : .lingering, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .receiving(_, _, _, let reserved) = state { budget.release(reserved) }
        state = .rejected
        body = []
        context.fireChannelInactive()
    }
}
