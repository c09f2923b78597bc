import NIOCore
import NIOHTTP1

/// Back-pressure and request boundaries for an HTTP/1.1 server connection, between NIO's HTTP server pipeline
/// and the application handler.
///
/// - The next request is handed on only once the previous response has been written to the socket (its `.end`
///   write completed), and nothing more is read from the socket meanwhile; so a client that sends many requests
///   and never reads the answers holds at most one response in memory.
/// - A response the client has not taken within the write timeout closes the connection.
/// - It tells ``ConnectionDeadlineHandler`` when a request head arrives and when its response is out.
public final class HTTP1ResponseGate: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias InboundOut = HTTPServerRequestPart
    public typealias OutboundIn = HTTPServerResponsePart
    public typealias OutboundOut = HTTPServerResponsePart

    private let writeTimeout: TimeAmount
    /// A request was handed on and its response has not been written to the socket yet.
    private var responsePending = false
    /// The response's `.end` is being written.
    private var writing = false
    /// Parts of the next request(s), held until the pending response is out.
    private var held = CircularBuffer<HTTPServerRequestPart>()
    private var readHeld = false
    private var writeTimer: Scheduled<Void>?

    public init(writeTimeout: TimeAmount) { self.writeTimeout = writeTimeout }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if !held.isEmpty || (responsePending && part.isHead) {
            held.append(part)
        } else {
            deliver(part, context: context)
        }
    }

    private func deliver(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        if part.isHead {
            responsePending = true
            context.triggerUserOutboundEvent(ConnectionActivity.requestStarted, promise: nil)
        }
        context.fireChannelRead(wrapInboundOut(part))
    }

    /// Reads wait while a response is being written or a next request is held (the body of the request being
    /// answered is still read: a handler may answer before it has all of it).
    public func read(context: ChannelHandlerContext) {
        if writing || !held.isEmpty {
            readHeld = true
        } else {
            context.read()
        }
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else { return context.write(data, promise: promise) }
        writing = true
        let done = promise ?? context.eventLoop.makePromise()
        writeTimer?.cancel()
        writeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: writeTimeout) {
            // The client has not read the response for the whole write timeout.
            context.close(promise: nil)
        }
        context.write(data, promise: done)
        done.futureResult.assumeIsolated().whenComplete { _ in self.written(context: context) }
    }

    private func written(context: ChannelHandlerContext) {
        writeTimer?.cancel()
        writeTimer = nil
        writing = false
        responsePending = false
        context.triggerUserOutboundEvent(ConnectionActivity.requestFinished, promise: nil)
        // Hand on the next request (up to, not including, the head after it).
        while let part = held.first, !(responsePending && part.isHead) {
            held.removeFirst()
            deliver(part, context: context)
        }
        if readHeld, !writing, held.isEmpty {
            readHeld = false
            context.read()
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        writeTimer?.cancel()
        writeTimer = nil
        held.removeAll()
        context.fireChannelInactive()
    }
}

extension HTTPServerRequestPart {
    fileprivate var isHead: Bool { if case .head = self { true } else { false } }
}

extension ChannelPipeline.SynchronousOperations {
    /// NIO's HTTP/1.1 server pipeline (with pipelining assistance and error handling) plus ``HTTP1ResponseGate``;
    /// the application handler goes after it.
    public func configureBoundedHTTPServerPipeline(writeTimeout: TimeAmount) throws {
        try configureHTTPServerPipeline(withErrorHandling: true)
        try addHandler(HTTP1ResponseGate(writeTimeout: writeTimeout))
    }
}
