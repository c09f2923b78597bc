import NIOCore
import NIOHPACK
import NIOHTTP2

/// Starts one unary call on a connection: sent to the channel as an outbound user event, so callers need no
/// reference to the handler.
struct GRPCStartCall: Sendable {
    var headers: HPACKHeaders
    /// The length-prefixed request message.
    var message: ByteBuffer
    var timeout: TimeAmount
    var promise: EventLoopPromise<GRPCCallAnswer>
}

/// Runs unary gRPC calls on one client HTTP/2 connection, at the frame level: a call is a HEADERS and a DATA
/// frame out and headers, at most one message and trailers back, gathered here; there is no channel per stream.
///
/// It also keeps the connection's inbound window open, enforces each call's deadline (RST_STREAM CANCEL, then
/// DEADLINE_EXCEEDED), pings with keepalive settings, stops taking calls after a GOAWAY (the calls the server did
/// not process fail UNAVAILABLE, to be retried on a new connection) and fails every open call, naming the cause
/// (a TLS handshake error, a keepalive timeout), when the connection closes.
final class GRPCClientConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    /// Responses are small (an export's answer is a partial-success message); anything larger is refused, so
    /// stream windows never need topping up.
    static let maxResponseBytes = 60_000
    static let connectionWindow = 1 << 20

    struct Keepalive {
        var time: TimeAmount
        var timeout: TimeAmount
        var permitWithoutStream: Bool
    }

    private struct Call {
        var promise: EventLoopPromise<GRPCCallAnswer>
        var deadline: Scheduled<Void>?
        var httpStatus: Int?
        var grpcEncoding: String?
        var body = ByteBuffer()
        var tooLarge = false
    }

    private let health: GRPCConnectionHealth
    private let keepalive: Keepalive?
    private var calls: [HTTP2StreamID: Call] = [:]
    private var nextStreamID: Int32 = 1
    private var accepting = true
    /// Why the connection is failing, for the calls it fails.
    private var failure: String?
    private var pingTimer: RepeatedTask?
    private var pingTimeout: Scheduled<Void>?
    /// When a frame last arrived: keepalive pings only a connection that has been quiet for `keepalive.time`, as
    /// gRPC clients do, so a busy connection never trips the server's ping enforcement.
    private var lastRead = NIODeadline.now()
    private static let pingData = HTTP2PingData(withInteger: 0x6f74_656c_7369_6e6b)

    init(health: GRPCConnectionHealth, keepalive: Keepalive?) {
        self.health = health
        self.keepalive = keepalive
    }

    func channelActive(context: ChannelHandlerContext) {
        lastRead = context.eventLoop.now
        let increment = Self.connectionWindow - 65_535
        context.writeAndFlush(
            wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: increment))), promise: nil)
        if let keepalive {
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            pingTimer = context.eventLoop.scheduleRepeatedTask(initialDelay: keepalive.time, delay: keepalive.time) { _ in
                let (handler, context) = loopBound.value
                handler.ping(context: context)
            }
        }
        context.fireChannelActive()
    }

    private func ping(context: ChannelHandlerContext) {
        guard let keepalive, pingTimeout == nil, !calls.isEmpty || keepalive.permitWithoutStream,
            context.eventLoop.now - lastRead >= keepalive.time
        else { return }
        context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .ping(Self.pingData, ack: false))), promise: nil)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        pingTimeout = context.eventLoop.scheduleTask(in: keepalive.timeout) {
            let (handler, context) = loopBound.value
            handler.fail(
                context: context, because: "the upstream did not answer a keepalive ping within \(keepalive.timeout.nanoseconds / 1_000_000) ms")
        }
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let start = event as? GRPCStartCall else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        promise?.succeed()
        guard accepting, nextStreamID < Int32.max - 2 else {
            if nextStreamID >= Int32.max - 2 { stopAccepting() }
            start.promise.succeed(.unavailable(failure ?? "the connection to the upstream is closing"))
            return
        }
        let id = HTTP2StreamID(nextStreamID)
        nextStreamID += 2
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let deadline = context.eventLoop.scheduleTask(in: start.timeout) {
            let (handler, context) = loopBound.value
            handler.expire(id, context: context)
        }
        calls[id] = Call(promise: start.promise, deadline: deadline)
        context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: start.headers)))), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { error in
            let (handler, context) = loopBound.value
            handler.finish(
                id, .unavailable("sending to the upstream failed: \(handler.health.failureReason ?? handler.failure ?? "\(error)")"),
                context: context)
        }
        context.writeAndFlush(
            wrapOutboundOut(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(start.message), endStream: true)))),
            promise: written)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        lastRead = context.eventLoop.now
        switch frame.payload {
        case .headers(let h):
            guard var call = calls[frame.streamID] else { return }
            if call.httpStatus == nil, let status = h.headers.first(name: ":status").flatMap({ Int($0) }) {
                call.httpStatus = status
                call.grpcEncoding = h.headers.first(name: "grpc-encoding")
                calls[frame.streamID] = call
            }
            if h.headers.contains(name: "grpc-status") || h.endStream {
                finish(frame.streamID, answer(call, trailers: h.headers), context: context)
            }
        case .data(let d):
            guard var call = calls[frame.streamID] else { return }
            if case .byteBuffer(var bytes) = d.data {
                if call.body.readableBytes + bytes.readableBytes > Self.maxResponseBytes {
                    call.tooLarge = true
                } else {
                    call.body.writeBuffer(&bytes)
                }
            }
            calls[frame.streamID] = call
            if d.endStream { finish(frame.streamID, answer(call, trailers: [:]), context: context) }
        case .rstStream(let code):
            let status = code == .cancel ? 1 : 14
            finish(frame.streamID, GRPCCallAnswer(status: status, message: "the upstream reset the stream (\(code))"), context: context)
        case .goAway(let last, let code, _):
            stopAccepting()
            // Calls above `last` were not processed: retried elsewhere.
            for id in calls.keys where id > last {
                finish(id, .unavailable("the upstream is going away (GOAWAY \(code)) and did not process the export"), context: context)
            }
            closeIfDone(context: context)
        case .ping(_, ack: true):
            pingTimeout?.cancel()
            pingTimeout = nil
        default:
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let window = event as? NIOHTTP2WindowUpdatedEvent, window.streamID == .rootStream,
            let inbound = window.inboundWindowSize, inbound <= Self.connectionWindow / 2
        {
            context.writeAndFlush(
                wrapOutboundOut(
                    HTTP2Frame(
                        streamID: .rootStream, payload: .windowUpdate(windowSizeIncrement: Self.connectionWindow - inbound))), promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, because: Self.describe(error))
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopAccepting()
        pingTimer?.cancel()
        pingTimeout?.cancel()
        let reason = health.failureReason ?? failure ?? "the upstream closed the connection"
        for id in Array(calls.keys) { finish(id, .unavailable(reason), context: context) }
        context.fireChannelInactive()
    }

    // MARK: -

    private func stopAccepting() {
        accepting = false
        health.markUnusable()
    }

    private func fail(context: ChannelHandlerContext, because reason: String) {
        health.recordFailure(reason)
        if failure == nil { failure = health.failureReason ?? reason }
        stopAccepting()
        context.close(promise: nil)
    }

    private func closeIfDone(context: ChannelHandlerContext) {
        if !accepting && calls.isEmpty { context.close(promise: nil) }
    }

    private func expire(_ id: HTTP2StreamID, context: ChannelHandlerContext) {
        guard calls[id] != nil else { return }
        context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .rstStream(.cancel))), promise: nil)
        finish(id, GRPCCallAnswer(status: 4, message: "no answer from the upstream within the timeout"), context: context)
    }

    private func finish(_ id: HTTP2StreamID, _ answer: GRPCCallAnswer, context: ChannelHandlerContext) {
        guard let call = calls.removeValue(forKey: id) else { return }
        call.deadline?.cancel()
        call.promise.succeed(answer)
        closeIfDone(context: context)
    }

    /// The call's end from its trailers (or trailers-only headers), its HTTP status and its body.
    private func answer(_ call: Call, trailers: HPACKHeaders) -> GRPCCallAnswer {
        guard let statusText = trailers.first(name: "grpc-status"), let status = Int(statusText) else {
            let http = call.httpStatus ?? 0
            if http != 200 {
                return GRPCCallAnswer(
                    status: GRPCCallAnswer.status(forHTTP: http), message: "HTTP \(http) without a gRPC status (is this a gRPC endpoint?)")
            }
            return GRPCCallAnswer(status: 13, message: "the upstream's answer had no grpc-status")
        }
        let message = trailers.first(name: "grpc-message").map(GRPCCallAnswer.percentDecoded) ?? ""
        var answer = GRPCCallAnswer(
            status: status, message: message,
            details: trailers.first(name: "grpc-status-details-bin").flatMap(GRPCCallAnswer.base64Decoded))
        guard status == 0 else { return answer }
        if call.tooLarge { return GRPCCallAnswer(status: 8, message: "the upstream's answer is larger than \(Self.maxResponseBytes) bytes") }
        var body = call.body
        // One length-prefixed message; a compressed one (we asked for identity) is taken as a plain success.
        if let flag = body.readInteger(as: UInt8.self), let length = body.readInteger(as: UInt32.self), flag == 0,
            Int(length) <= body.readableBytes, let bytes = body.readBytes(length: Int(length))
        {
            answer.body = bytes
        }
        return answer
    }

    /// Names what went wrong with the connection; TLS errors carry the certificate problem.
    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        let lower = text.lowercased()
        if lower.contains("ssl") || lower.contains("certificate") || lower.contains("handshake") || lower.contains("tls") {
            return "TLS handshake with the upstream failed: \(text)"
        }
        return text
    }
}
