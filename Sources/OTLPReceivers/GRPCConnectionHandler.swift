import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOServing

/// Serves gRPC on one HTTP/2 connection: the frames of all its streams arrive here, unary calls are answered here.
///
/// There is no channel per stream and no async-sequence bridge: a request's frames are gathered in this handler,
/// the complete message goes to ``OTLPGRPCServices`` in a task that prefers this connection's event loop, and the
/// answer is written as response headers, one message and trailers with a single flush. The frames come from, and go
/// to, ``GRPCHTTP2Handler``, which keeps the connection's HTTP/2 state and flow control.
final class GRPCConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private enum Compression { case identity, compressed }

    private final class Stream {
        enum Phase { case receiving, processing, holding }
        let method: GRPCMethod
        let compression: Compression
        var received: ByteBuffer?
        /// Bytes of ``received`` reserved from the receiver's in-flight budget.
        var reserved = 0
        var phase = Phase.receiving
        /// Credentials the authenticator could not decide on at once (``ServerAuthenticator/verify(_:)``).
        var credentialsToVerify: String?
        init(method: GRPCMethod, compression: Compression) {
            self.method = method
            self.compression = compression
        }
    }

    private let services: OTLPGRPCServices
    private let budget: InFlightBudget
    private let executor: EventLoopTaskExecutor
    private var streams: [HTTP2StreamID: Stream] = [:]
    private var lastStreamID = HTTP2StreamID.rootStream
    private var quiescing = false
    private var closing = false
    private let keepalive: GRPCKeepalive
    private var sessionEstablished = false
    private var lastRead = NIODeadline.now()
    private var lastClientPing: NIODeadline?
    private var pingStrikes = 0
    private var malformedHeaderBlocks = 0
    static let maxMalformedHeaderBlocks = 200
    private var keepaliveTimer: Scheduled<Void>?
    private var pingTimeout: Scheduled<Void>?
    private var ageTimer: Scheduled<Void>?
    private static let keepalivePing = HTTP2PingData(withInteger: 0x6f74_656c_7369_6e6b)

    /// - Parameter budget: shared by every connection of the receiver: request bytes held while they arrive and
    ///   while their call runs. Past it, calls fail with `UNAVAILABLE` and a retry hint.
    init(services: OTLPGRPCServices, budget: InFlightBudget, executor: EventLoopTaskExecutor, keepalive: GRPCKeepalive = GRPCKeepalive()) {
        self.services = services
        self.budget = budget
        self.executor = executor
        self.keepalive = keepalive
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private var started = false

    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        lastRead = context.eventLoop.now
        scheduleKeepalive(at: lastRead + TimeAmount(keepalive.time), context: context)
        if let age = keepalive.maxConnectionAge {
            // ±10 % jitter, as grpc-go, so connections opened together do not all go away together.
            let nanos = TimeAmount(age).nanoseconds
            let jitter = nanos / 10 > 0 ? Int64.random(in: -(nanos / 10)...(nanos / 10)) : 0
            ageTimer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(nanos &+ jitter)) { [weak self] in
                self?.connectionAged(context: context)
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let id = frame.streamID
        lastRead = context.eventLoop.now
        if !sessionEstablished {
            // The preface and the client's SETTINGS are in: from now on the connection is idle between calls.
            sessionEstablished = true
            context.triggerUserOutboundEvent(ConnectionActivity.sessionEstablished, promise: nil)
        }
        switch frame.payload {
        case .headers(let headers):
            if streams[id] == nil {
                open(id, headers: headers.headers, endStream: headers.endStream, context: context)
            } else if headers.endStream {
                // Trailers from the client.
                do {
                    try GRPCRequestHead.checkTrailers(headers.headers)
                } catch {
                    remove(id, context: context)
                    return resetMalformed(id, context: context)
                }
                requestEnded(id, context: context)
            }
        case .data(let data):
            guard case .byteBuffer(let bytes) = data.data else { return }
            received(bytes, on: id, endStream: data.endStream, context: context)
        case .rstStream:
            remove(id, context: context)
            closeIfQuiesced(context: context)
        case .ping(_, let ack):
            if ack {
                pingTimeout?.cancel()
                pingTimeout = nil
            } else {
                clientPinged(context: context)
            }
        default:
            break  // SETTINGS (passed on: the session is established) and the rest are GRPCHTTP2Handler's business.
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let closed as StreamClosedEvent:
            remove(closed.streamID, context: context)
            closeIfQuiesced(context: context)
        case is ChannelShouldQuiesceEvent:
            quiesce(context: context)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        for id in Array(streams.keys) { remove(id) }  // answers still being computed find no stream and are dropped
        for timer in [keepaliveTimer, pingTimeout, ageTimer] { timer?.cancel() }
        context.fireChannelInactive()
    }

    // MARK: - Keepalive

    private func scheduleKeepalive(at when: NIODeadline, context: ChannelHandlerContext) {
        keepaliveTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: when) { [weak self] in
            self?.keepaliveDue(context: context)
        }
    }

    /// With nothing read for `keepalive.time`, ping the client; no answer within `keepalive.timeout` closes.
    private func keepaliveDue(context: ChannelHandlerContext) {
        let due = lastRead + TimeAmount(keepalive.time)
        guard due <= context.eventLoop.now else { return scheduleKeepalive(at: due, context: context) }
        if pingTimeout == nil {
            context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .ping(Self.keepalivePing, ack: false))), promise: nil)
            pingTimeout = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(keepalive.timeout)) {
                context.close(promise: nil)
            }
        }
        scheduleKeepalive(at: context.eventLoop.now + TimeAmount(keepalive.time), context: context)
    }

    /// grpc-go's enforcement policy: a ping with no call open (unless permitted) or sooner than `min_time` after the
    /// previous one is a strike; the third strike ends the connection with GOAWAY ENHANCE_YOUR_CALM.
    private func clientPinged(context: ChannelHandlerContext) {
        let now = context.eventLoop.now
        defer { lastClientPing = now }
        if streams.isEmpty && !keepalive.permitWithoutStream {
            pingStrikes += 1
        } else if let last = lastClientPing, now - last < TimeAmount(keepalive.minTime) {
            pingStrikes += 1
        }
        guard pingStrikes > 2, !closing else { return }
        endMisbehaving("too_many_pings", context: context)
        context.flush()
    }

    /// Ends a connection whose client misbehaves: GOAWAY ENHANCE_YOUR_CALM with `reason` as its debug data
    /// (HTTP2GoAwayWatcher closes the connection once it is written).
    private func endMisbehaving(_ reason: String, context: ChannelHandlerContext) {
        closing = true
        context.write(
            wrapOutboundOut(
                HTTP2Frame(
                    streamID: .rootStream,
                    payload: .goAway(
                        lastStreamID: lastStreamID, errorCode: .enhanceYourCalm, opaqueData: context.channel.allocator.buffer(string: reason)))),
            promise: nil)
    }

    /// `max_connection_age`: GOAWAY, then after `max_connection_age_grace` close whatever is still open.
    private func connectionAged(context: ChannelHandlerContext) {
        quiesce(context: context)
        if let grace = keepalive.maxConnectionAgeGrace {
            context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(grace)) { context.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // GRPCHTTP2Handler deals with protocol errors itself; what arrives here (an I/O error) ends the connection.
        context.close(promise: nil)
    }

    // MARK: - Requests

    private func remove(_ id: HTTP2StreamID, context: ChannelHandlerContext? = nil) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        budget.release(stream.reserved)
        context?.triggerUserOutboundEvent(ConnectionActivity.requestFinished, promise: nil)
    }

    private func open(_ id: HTTP2StreamID, headers: HPACKHeaders, endStream: Bool, context: ChannelHandlerContext) {
        if id > lastStreamID { lastStreamID = id }
        let head: GRPCRequestHead
        do {
            head = try GRPCRequestHead(headers, credentialsHeader: services.authenticator?.headerName)
        } catch {
            return resetMalformed(id, context: context)
        }
        guard head.method == "POST" else {
            return refuse(id, httpStatus: "405", requestEnded: endStream, context: context)
        }
        guard let type = head.contentType, type.hasPrefix("application/grpc") else {
            // Not a gRPC request at all: plain HTTP status, as the gRPC over HTTP/2 spec says.
            return refuse(id, httpStatus: "415", requestEnded: endStream, context: context)
        }
        let path = head.path
        guard let method = services.method(forPath: path) else {
            return fail(id, GRPCStatus(.unimplemented, "unknown method \(path.prefix(200))"), requestEnded: endStream, context: context)
        }
        let compression: Compression
        switch head.encoding?.lowercased() {
        case nil, "identity": compression = .identity
        case "gzip", "deflate": compression = .compressed
        case let other?:
            return fail(
                id, GRPCStatus(.unimplemented, "grpc-encoding \(other.prefix(50)) is not supported; use gzip, deflate or identity"),
                requestEnded: endStream, context: context)
        }
        let stream = Stream(method: method, compression: compression)
        if let auth = services.authenticator, method.isExport {
            let credentials = head.credentials
            switch auth.check(credentials) {
            case false?:
                return fail(
                    id, GRPCStatus(.unauthenticated, "missing or invalid credentials in the \(auth.headerName) header"),
                    requestEnded: endStream, context: context)
            case nil:
                stream.credentialsToVerify = credentials
            case true?:
                break
            }
        }
        streams[id] = stream
        context.triggerUserOutboundEvent(ConnectionActivity.requestStarted, promise: nil)
        if endStream { requestEnded(id, context: context) }
    }

    private func received(_ bytes: ByteBuffer, on id: HTTP2StreamID, endStream: Bool, context: ChannelHandlerContext) {
        guard let stream = streams[id], stream.phase == .receiving else { return }
        guard budget.reserve(bytes.readableBytes, holding: stream.reserved) else {
            return fail(
                id, GRPCStatus(.unavailable, "too many request bytes in flight; retry later", retryAfter: .seconds(1)),
                requestEnded: endStream, context: context)
        }
        stream.reserved += bytes.readableBytes
        if stream.received == nil {
            stream.received = bytes
        } else {
            var more = bytes
            stream.received?.writeBuffer(&more)
        }
        // The message's length prefix is known after five bytes: refuse an oversized message before it arrives.
        if let buffer = stream.received, let declared = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt32.self) {
            if Int(declared) > services.limit {
                return fail(
                    id,
                    GRPCStatus(
                        .resourceExhausted, "request of \(declared) bytes exceeds the limit of \(services.limit) bytes (max_recv_msg_size_mib)"),
                    requestEnded: endStream, context: context)
            }
            if buffer.readableBytes > 5 + Int(declared) {
                return fail(
                    id, GRPCStatus(.internalError, "a unary call takes one request message; got more"), requestEnded: endStream, context: context)
            }
        }
        if endStream { requestEnded(id, context: context) }
    }

    private func requestEnded(_ id: HTTP2StreamID, context: ChannelHandlerContext) {
        guard let stream = streams[id], stream.phase == .receiving else { return }
        stream.phase = .processing
        var buffer = stream.received ?? ByteBuffer()
        stream.received = nil
        guard let flag = buffer.readInteger(as: UInt8.self), let length = buffer.readInteger(as: UInt32.self) else {
            return fail(id, GRPCStatus(.internalError, "the call ended without a complete request message"), requestEnded: true, context: context)
        }
        guard buffer.readableBytes == Int(length), var message = buffer.readBytes(length: Int(length)) else {
            return fail(
                id, GRPCStatus(.internalError, "the request message is truncated: \(buffer.readableBytes) of \(length) bytes"),
                requestEnded: true, context: context)
        }
        switch (flag, stream.compression) {
        case (0, _):
            break
        case (1, .compressed):
            do {
                message = try GzipInflater.inflate(message, limit: services.limit)
            } catch .tooLarge {
                return fail(
                    id, GRPCStatus(.resourceExhausted, "decompressed request exceeds the limit of \(services.limit) bytes (max_recv_msg_size_mib)"),
                    requestEnded: true, context: context)
            } catch {
                return fail(id, GRPCStatus(.internalError, "cannot decompress the request: \(error)"), requestEnded: true, context: context)
            }
        case (1, .identity):
            return fail(
                id, GRPCStatus(.internalError, "the request message is compressed but grpc-encoding names no algorithm"),
                requestEnded: true, context: context)
        default:
            return fail(id, GRPCStatus(.internalError, "invalid message flags \(flag)"), requestEnded: true, context: context)
        }
        // The call holds its bytes until answered, even if the stream goes away first: the message (inflated),
        // and what decoding it may take (swift-protobuf's object graph, ~3× the bytes).
        // Reserved in one step, after giving back the wire bytes, so that a call alone always goes through.
        let held = message.count * 4
        budget.release(stream.reserved)
        stream.reserved = 0
        guard budget.reserve(held) else {
            return fail(
                id, GRPCStatus(.unavailable, "too many request bytes in flight; retry later", retryAfter: .seconds(1)),
                requestEnded: true, context: context)
        }
        let services = self.services
        let budget = self.budget
        let method = stream.method
        let loop = context.eventLoop
        let target = NIOLoopBound((handler: self, context: context), eventLoop: loop)
        let verify = stream.credentialsToVerify
        Task(executorPreference: executor) {
            let reply: GRPCReply
            if let verify, let auth = services.authenticator, await !auth.verify(verify) {
                reply = .status(GRPCStatus(.unauthenticated, "missing or invalid credentials in the \(auth.headerName) header"))
            } else {
                reply = await services.respond(to: method, message: message)
            }
            budget.release(held)
            if loop.inEventLoop {
                target.value.handler.answer(id, reply, context: target.value.context)
            } else {
                loop.execute { target.value.handler.answer(id, reply, context: target.value.context) }
            }
        }
    }

    // MARK: - Answers

    private func answer(_ id: HTTP2StreamID, _ reply: GRPCReply, context: ChannelHandlerContext) {
        guard let stream = streams[id], stream.phase == .processing else { return }  // reset, or connection gone
        switch reply {
        case .message(let bytes):
            writeMessage(bytes, on: id, context: context)
            writeTrailers(.ok, on: id, context: context)
            remove(id, context: context)
        case .messageThenHold(let bytes):
            writeMessage(bytes, on: id, context: context)
            stream.phase = .holding
            if quiescing {
                writeTrailers(.ok, on: id, context: context)
                remove(id, context: context)
            }
        case .status(let status):
            writeTrailersOnly(status, on: id, context: context)
            remove(id, context: context)
        }
        pingStrikes = 0  // as grpc-go: sending a response resets the client's ping strikes
        context.flush()
        closeIfQuiesced(context: context)
    }

    private static let responseHeaders = HPACKHeaders([
        (":status", "200"), ("content-type", "application/grpc"), ("grpc-accept-encoding", "identity,deflate,gzip"),
    ])

    private func writeMessage(_ bytes: [UInt8], on id: HTTP2StreamID, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: Self.responseHeaders)))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: 5 + bytes.count)
        buffer.writeInteger(UInt8(0))
        buffer.writeInteger(UInt32(bytes.count))
        buffer.writeBytes(bytes)
        context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(buffer))))), promise: nil)
    }

    private func writeTrailers(_ status: GRPCStatus, on id: HTTP2StreamID, context: ChannelHandlerContext) {
        var trailers = HPACKHeaders()
        status.addTrailers(to: &trailers)
        context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: trailers, endStream: true)))), promise: nil)
    }

    /// A call that fails before any message: status in the only header block.
    private func writeTrailersOnly(_ status: GRPCStatus, on id: HTTP2StreamID, context: ChannelHandlerContext) {
        var headers = HPACKHeaders([(":status", "200"), ("content-type", "application/grpc")])
        status.addTrailers(to: &headers)
        context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: headers, endStream: true)))), promise: nil)
    }

    /// Fails a call with `status`. A client still sending is told to stop (RST_STREAM NO_ERROR after the status,
    /// RFC 9113 §8.1), so the rest of an oversized message is never read.
    private func fail(_ id: HTTP2StreamID, _ status: GRPCStatus, requestEnded: Bool, context: ChannelHandlerContext) {
        remove(id, context: context)
        writeTrailersOnly(status, on: id, context: context)
        if !requestEnded {
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .rstStream(.noError))), promise: nil)
        }
        context.flush()
        closeIfQuiesced(context: context)
    }

    /// Resets a stream whose header block is malformed (RFC 9113 §8.1.1: a stream error of type PROTOCOL_ERROR), as
    /// swift-nio-http2's own validation did; past ``maxMalformedHeaderBlocks`` on one connection (the library's
    /// limit of stream errors, its "glitches"), the connection ends with GOAWAY ENHANCE_YOUR_CALM.
    private func resetMalformed(_ id: HTTP2StreamID, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .rstStream(.protocolError))), promise: nil)
        malformedHeaderBlocks += 1
        if malformedHeaderBlocks > Self.maxMalformedHeaderBlocks, !closing {
            endMisbehaving("too_many_malformed_requests", context: context)
        }
        context.flush()
        closeIfQuiesced(context: context)
    }

    /// Answers a request that is not gRPC with a bare HTTP status.
    private func refuse(_ id: HTTP2StreamID, httpStatus: String, requestEnded: Bool, context: ChannelHandlerContext) {
        let headers = HPACKHeaders([(":status", httpStatus)])
        context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: headers, endStream: true)))), promise: nil)
        if !requestEnded {
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .rstStream(.noError))), promise: nil)
        }
        context.flush()
    }

    // MARK: - Graceful shutdown

    /// Takes no new calls (GOAWAY), ends held health watches, and closes once the calls in flight are answered.
    private func quiesce(context: ChannelHandlerContext) {
        guard !quiescing else { return }
        quiescing = true
        context.write(
            wrapOutboundOut(
                HTTP2Frame(
                    streamID: .rootStream, payload: .goAway(lastStreamID: lastStreamID, errorCode: .noError, opaqueData: nil))), promise: nil)
        for (id, stream) in streams where stream.phase == .holding {
            writeTrailers(.ok, on: id, context: context)
            remove(id, context: context)
        }
        context.flush()
        closeIfQuiesced(context: context)
    }

    /// Once quiesced with nothing in flight: a lingering close. Output is shut first, so the client reads every
    /// answer and the GOAWAY before it sees the end (closing outright with unread client bytes, a WINDOW_UPDATE or a
    /// PING ack, would make the kernel send RST and the client could lose the last answers); it then closes its
    /// side, and a timer closes ours in case it does not.
    private func closeIfQuiesced(context: ChannelHandlerContext) {
        guard quiescing, streams.isEmpty, !closing else { return }
        closing = true
        context.close(mode: .output, promise: nil)
        context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(2)) { context.close(promise: nil) }
    }
}
