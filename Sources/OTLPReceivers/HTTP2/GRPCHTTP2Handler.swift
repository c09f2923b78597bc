import NIOCore
import NIOHPACK
import NIOHTTP2

/// The server side of HTTP/2 (RFC 9113) for the gRPC listener: turns a connection's bytes into the frames
/// ``GRPCConnectionHandler`` acts on, and the frames it writes into bytes.
///
/// It replaces swift-nio-http2's `NIOHTTP2Handler` on that listener because, at OTLP request rates, the library's
/// general machinery (a stream state machine, an outbound buffer, HPACK with Huffman coding, an event per window
/// change) cost about as much CPU per request as indexing the request itself (docs/architecture.md, "The gRPC
/// server"). What gRPC's unary and server-streaming calls need is done here:
/// - the connection preface and SETTINGS (with their ACK), PING answered, PRIORITY ignored, GOAWAY taken;
/// - HEADERS with CONTINUATION, padding, HPACK decoding (swift-nio-http2's `HPACKDecoder`, which bounds the header
///   list); header blocks are written as literals (``HTTP2FrameWriter``);
/// - stream states: idle, open, half-closed either way, closed; `MAX_CONCURRENT_STREAMS` (past it,
///   RST_STREAM REFUSED_STREAM, counted as a stream error);
/// - flow control both ways: inbound windows are topped up once half used, outbound DATA waits for the client's
///   windows (at most ``maxBlockedBytes`` per stream);
/// - the library's limits on abuse: more than 200 RST_STREAM frames, stream errors, or PING / SETTINGS / PRIORITY
///   frames in 30 s, more than 5 CONTINUATION frames in a row, or two empty DATA frames in a row end the
///   connection with GOAWAY ENHANCE_YOUR_CALM.
///
/// A connection error writes GOAWAY and stops reading; `HTTP2GoAwayWatcher`, before this handler, closes the
/// connection once the GOAWAY is out. Stream errors reset the stream and tell the next handler with a
/// `StreamClosedEvent`. Header blocks are not checked here beyond HPACK: ``GRPCRequestHead`` does that.
final class GRPCHTTP2Handler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = ByteBuffer

    /// The inbound window kept open for the connection and for each stream receiving a request.
    static let windowSize = 4 << 20
    static let maxContinuationFrames = 5
    static let maxEmptyDataFrames = 1
    /// Output a stream may hold while the client's flow-control windows are closed.
    static let maxBlockedBytes = 1 << 20
    private static let maxWindow = Int(Int32.max)

    private struct Stream {
        var receiveWindow: Int
        var sendWindow: Int
        /// The client sent END_STREAM.
        var remoteClosed: Bool
        /// The server sent END_STREAM.
        var localClosed = false
        /// Output waiting for the client's windows, in order.
        var blocked: [Blocked] = []
        var blockedBytes = 0
    }

    private enum Blocked {
        case data(ByteBuffer, endStream: Bool)
        case headers(ByteBuffer, endStream: Bool)
    }

    /// A header block whose CONTINUATION frames are still to come.
    private struct PartialHeaderBlock {
        var stream: UInt32
        var endStream: Bool
        var selfDependent: Bool
        var block: ByteBuffer
        var continuations = 0
    }

    private let maxConcurrentStreams: Int
    private var reader = HTTP2FrameReader()
    private var decoder: HPACKDecoder
    private var streams: [UInt32: Stream] = [:]
    /// Streams holding blocked output, in the order they first blocked.
    private var blockedStreams: [UInt32] = []
    private var lastClientStream: UInt32 = 0
    private var partial: PartialHeaderBlock?
    private var started = false
    private var settingsReceived = false
    /// Input is ignored after a connection error.
    private var failed = false
    /// The last stream a GOAWAY written on this connection admits: newer streams are not processed.
    private var goAwayLastStream: UInt32?
    private var receiveWindow = 65_535
    private var sendWindow = 65_535
    private var peerInitialWindow = 65_535
    private var peerMaxFrameSize = 16_384
    private var emptyDataFrames = 0
    private var resets = EventRateLimit()
    private var streamErrors = EventRateLimit()
    private var controlFrames = EventRateLimit()
    private var output: ByteBuffer?
    private var outputPromise: EventLoopPromise<Void>?

    init(maxConcurrentStreams: Int, maxHeaderListSize: Int = HPACKDecoder.defaultMaxHeaderListSize) {
        self.maxConcurrentStreams = maxConcurrentStreams
        decoder = HPACKDecoder(
            allocator: ByteBufferAllocator(), maxDynamicTableSize: HPACKDecoder.maxDynamicTableSize, maxHeaderListSize: maxHeaderListSize)
    }

    // MARK: - Connection

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    /// The server's preface: SETTINGS, then the connection window opened to ``windowSize``.
    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        withOutput(context) { out in
            HTTP2FrameWriter.settings(
                &out,
                [
                    (0x3, UInt32(clamping: maxConcurrentStreams)),  // MAX_CONCURRENT_STREAMS
                    (0x4, UInt32(Self.windowSize)),  // INITIAL_WINDOW_SIZE
                    (0x6, UInt32(clamping: decoder.maxHeaderListSize)),  // MAX_HEADER_LIST_SIZE
                ])
            HTTP2FrameWriter.windowUpdate(&out, stream: 0, increment: Self.windowSize - receiveWindow)
        }
        receiveWindow = Self.windowSize
        flushOutput(context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        reader.append(unwrapInboundIn(data))
        do {
            while !failed, let frame = try reader.next() {
                try process(frame, context: context)
            }
        } catch {
            connectionError(error, context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if output != nil { flushOutput(context) }  // acknowledgements and window updates the frames read called for
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        output = nil
        outputPromise?.fail(ChannelError.ioOnClosedChannel)
        outputPromise = nil
        context.fireChannelInactive()
    }

    /// GOAWAY with the error, and no more reading.
    private func connectionError(_ error: HTTP2ConnectionError, context: ChannelHandlerContext) {
        failed = true
        partial = nil
        withOutput(context) { out in
            HTTP2FrameWriter.goAway(&out, lastStream: lastClientStream, code: error.code, debugData: ByteBuffer(string: error.reason))
        }
        flushOutput(context)
    }

    // MARK: - Frames in

    private func process(_ frame: HTTP2WireFrame, context: ChannelHandlerContext) throws(HTTP2ConnectionError) {
        typealias Kind = HTTP2WireFrame.Kind
        if partial != nil, frame.kind != Kind.continuation {
            throw HTTP2ConnectionError(code: .protocolError, reason: "a header block was interrupted by another frame")
        }
        if !settingsReceived, frame.kind != Kind.settings || frame.has(HTTP2WireFrame.Flag.ack) {
            throw HTTP2ConnectionError(code: .protocolError, reason: "the client's preface must end with a SETTINGS frame")
        }
        switch frame.kind {
        case Kind.data: try data(frame, context: context)
        case Kind.headers: try headers(frame, context: context)
        case Kind.continuation: try continuation(frame, context: context)
        case Kind.rstStream: try rstStream(frame, context: context)
        case Kind.settings: try settings(frame, context: context)
        case Kind.ping: try ping(frame, context: context)
        case Kind.windowUpdate: try windowUpdate(frame, context: context)
        case Kind.priority:
            guard frame.stream != 0 else { throw HTTP2ConnectionError(code: .protocolError, reason: "PRIORITY on stream 0") }
            try controlFrame()
            if frame.payload.readableBytes != 5 { try resetStream(frame.stream, .frameSizeError, context: context) }
        case Kind.goAway:
            // The client will open no more streams; those open finish as usual.
            guard frame.stream == 0 else { throw HTTP2ConnectionError(code: .protocolError, reason: "GOAWAY on a stream") }
            guard frame.payload.readableBytes >= 8 else { throw HTTP2ConnectionError(code: .frameSizeError, reason: "GOAWAY shorter than 8 bytes") }
        case Kind.pushPromise:
            throw HTTP2ConnectionError(code: .protocolError, reason: "PUSH_PROMISE from a client")
        default:
            break  // unknown frame types are ignored (RFC 9113 §4.1)
        }
    }

    private func controlFrame() throws(HTTP2ConnectionError) {
        guard controlFrames.record(at: .now()) else {
            throw HTTP2ConnectionError(code: .enhanceYourCalm, reason: "too_many_control_frames")
        }
    }

    /// The payload of a PADDED frame without its padding.
    private func unpadded(_ frame: HTTP2WireFrame) throws(HTTP2ConnectionError) -> ByteBuffer {
        var payload = frame.payload
        guard frame.has(HTTP2WireFrame.Flag.padded) else { return payload }
        guard let padding = payload.readInteger(as: UInt8.self), Int(padding) <= payload.readableBytes else {
            throw HTTP2ConnectionError(code: .protocolError, reason: "padding longer than its frame")
        }
        return payload.getSlice(at: payload.readerIndex, length: payload.readableBytes - Int(padding)) ?? ByteBuffer()
    }

    private func data(_ frame: HTTP2WireFrame, context: ChannelHandlerContext) throws(HTTP2ConnectionError) {
        let id = frame.stream
        guard id != 0 else { throw HTTP2ConnectionError(code: .protocolError, reason: "DATA on stream 0") }
        let length = frame.payload.readableBytes
        guard length <= receiveWindow else {
            throw HTTP2ConnectionError(code: .flowControlError, reason: "DATA past the connection's flow-control window")
        }
        receiveWindow -= length
        let payload = try unpadded(frame)
        let endStream = frame.has(HTTP2WireFrame.Flag.endStream)
        if payload.readableBytes == 0 && !endStream {
            emptyDataFrames += 1
            guard emptyDataFrames <= Self.maxEmptyDataFrames else {
                throw HTTP2ConnectionError(code: .enhanceYourCalm, reason: "too_many_empty_data_frames")
            }
        } else {
            emptyDataFrames = 0
        }
        defer { topUpConnectionWindow(context) }
        guard var stream = streams[id] else {
            guard id <= lastClientStream else { throw HTTP2ConnectionError(code: .protocolError, reason: "DATA on idle stream \(id)") }
            return  // a stream closed or reset: its frames may still be on the way; the window is given back
        }
        guard !stream.remoteClosed else { return try resetStream(id, .streamClosed, context: context) }
        guard length <= stream.receiveWindow else { return try resetStream(id, .flowControlError, context: context) }
        stream.receiveWindow -= length
        if endStream {
            stream.remoteClosed = true
        } else if stream.receiveWindow <= Self.windowSize / 2 {
            withOutput(context) { HTTP2FrameWriter.windowUpdate(&$0, stream: id, increment: Self.windowSize - stream.receiveWindow) }
            stream.receiveWindow = Self.windowSize
        }
        streams[id] = stream
        context.fireChannelRead(
            wrapInboundOut(HTTP2Frame(streamID: Self.streamID(id), payload: .data(.init(data: .byteBuffer(payload), endStream: endStream)))))
        if endStream { closeIfDone(id) }
    }

    private func topUpConnectionWindow(_ context: ChannelHandlerContext) {
        guard receiveWindow <= Self.windowSize / 2 else { return }
        withOutput(context) { HTTP2FrameWriter.windowUpdate(&$0, stream: 0, increment: Self.windowSize - receiveWindow) }
        receiveWindow = Self.windowSize
    }

    private func headers(_ frame: HTTP2WireFrame, context: ChannelHandlerContext) throws(HTTP2ConnectionError) {
        let id = frame.stream
        guard id != 0 else { throw HTTP2ConnectionError(code: .protocolError, reason: "HEADERS on stream 0") }
        var block = try unpadded(frame)
        var selfDependent = false
        if frame.has(HTTP2WireFrame.Flag.priority) {
            guard let dependency = block.readInteger(as: UInt32.self), block.readInteger(as: UInt8.self) != nil else {
                throw HTTP2ConnectionError(code: .frameSizeError, reason: "HEADERS too short for its priority fields")
            }
            selfDependent = dependency & 0x7fff_ffff == id
        }
        let endStream = frame.has(HTTP2WireFrame.Flag.endStream)
        guard frame.has(HTTP2WireFrame.Flag.endHeaders) else {
            // Gathered in a buffer of its own: the frame's bytes belong to the read buffer.
            var own = context.channel.allocator.buffer(capacity: block.readableBytes * 2)
            own.writeBuffer(&block)
            partial = PartialHeaderBlock(stream: id, endStream: endStream, selfDependent: selfDependent, block: own)
            return
        }
        try headerBlock(block, stream: id, endStream: endStream, selfDependent: selfDependent, context: context)
    }

    private func continuation(_ frame: HTTP2WireFrame, context: ChannelHandlerContext) throws(HTTP2ConnectionError) {
        guard var gathering = partial, gathering.stream == frame.stream else {
            throw HTTP2ConnectionError(code: .protocolError, reason: "CONTINUATION without a header block to continue")
        }
        gathering.continuations += 1
        guard gathering.continuations <= Self.maxContinuationFrames else {
            throw HTTP2ConnectionError(code: .enhanceYourCalm, reason: "too_many_continuation_frames")
        }
        var payload = frame.payload
        gathering.block.writeBuffer(&payload)
        guard frame.has(HTTP2WireFrame.Flag.endHeaders) else {
            partial = gathering
            return
        }
        partial = nil
        try headerBlock(
            gathering.block, stream: gathering.stream, endStream: gathering.endStream, selfDependent: gathering.selfDependent, context: context)
    }

    /// A whole header block: the request's headers on a new stream, or trailers on an open one.
    private func headerBlock(_ bytes: ByteBuffer, stream id: UInt32, endStream: Bool, selfDependent: Bool, context: ChannelHandlerContext)
        throws(HTTP2ConnectionError)
    {
        // Decoded whatever becomes of the stream: the decoder's table must follow every block the client sent.
        var block = bytes
        let fields: HPACKHeaders
        do {
            fields = try decoder.decodeHeaders(from: &block)
        } catch {
            throw HTTP2ConnectionError(code: .compressionError, reason: "the header block cannot be decoded: \(error)")
        }
        emptyDataFrames = 0
        if let stream = streams[id] {
            guard !stream.remoteClosed else { return try resetStream(id, .streamClosed, context: context) }
            // Trailers must end the stream (RFC 9113 §8.1).
            guard endStream else { return try resetStream(id, .protocolError, context: context) }
            streams[id]?.remoteClosed = true
            context.fireChannelRead(
                wrapInboundOut(HTTP2Frame(streamID: Self.streamID(id), payload: .headers(.init(headers: fields, endStream: true)))))
            closeIfDone(id)
            return
        }
        guard id & 1 == 1 else {
            throw HTTP2ConnectionError(code: .protocolError, reason: "HEADERS opening even-numbered stream \(id): clients open odd ones")
        }
        guard id > lastClientStream else { return try resetStream(id, .streamClosed, context: context) }
        lastClientStream = id
        if let last = goAwayLastStream, id > last { return }  // after GOAWAY: not processed, the client may retry it
        if selfDependent { return try resetStream(id, .protocolError, context: context) }
        // Counted as a stream error, as swift-nio-http2 counts it: a client racing the server's SETTINGS at the start
        // may cross the limit a few times, not 200 times in 30 s.
        guard streams.count < maxConcurrentStreams else { return try resetStream(id, .refusedStream, context: context) }
        streams[id] = Stream(receiveWindow: Self.windowSize, sendWindow: peerInitialWindow, remoteClosed: endStream)
        context.fireChannelRead(
            wrapInboundOut(HTTP2Frame(streamID: Self.streamID(id), payload: .headers(.init(headers: fields, endStream: endStream)))))
    }

    private func rstStream(_ frame: HTTP2WireFrame, context: ChannelHandlerContext) throws(HTTP2ConnectionError) {
        let id = frame.stream
        guard id != 0 else { throw HTTP2ConnectionError(code: .protocolError, reason: "RST_STREAM on stream 0") }
        guard let code = frame.payload.getInteger(at: frame.payload.readerIndex, as: UInt32.self), frame.payload.readableBytes == 4 else {
            throw HTTP2ConnectionError(code: .frameSizeError, reason: "RST_STREAM of other than 4 bytes")
        }
        guard id <= lastClientStream else { throw HTTP2ConnectionError(code: .protocolError, reason: "RST_STREAM on idle stream \(id)") }
        guard resets.record(at: .now()) else { throw HTTP2ConnectionError(code: .enhanceYourCalm, reason: "too_many_resets") }
        guard streams.removeValue(forKey: id) != nil else { return }
        context.fireChannelRead(
            wrapInboundOut(HTTP2Frame(streamID: Self.streamID(id), payload: .rstStream(HTTP2ErrorCode(networkCode: Int(code))))))
    }

    private func settings(_ frame: HTTP2WireFrame, context: ChannelHandlerContext) throws(HTTP2ConnectionError) {
        guard frame.stream == 0 else { throw HTTP2ConnectionError(code: .protocolError, reason: "SETTINGS on a stream") }
        var payload = frame.payload
        if frame.has(HTTP2WireFrame.Flag.ack) {
            guard payload.readableBytes == 0 else { throw HTTP2ConnectionError(code: .frameSizeError, reason: "SETTINGS ACK with a payload") }
            return
        }
        guard payload.readableBytes % 6 == 0 else {
            throw HTTP2ConnectionError(code: .frameSizeError, reason: "SETTINGS of \(payload.readableBytes) bytes, not a multiple of 6")
        }
        if settingsReceived { try controlFrame() }
        settingsReceived = true
        var received: [HTTP2Setting] = []
        while let id = payload.readInteger(as: UInt16.self), let value = payload.readInteger(as: UInt32.self) {
            received.append(HTTP2Setting(parameter: HTTP2SettingsParameter(extensionSetting: Int(id)), value: Int(value)))
            switch id {
            case 0x2:  // ENABLE_PUSH
                guard value <= 1 else { throw HTTP2ConnectionError(code: .protocolError, reason: "SETTINGS_ENABLE_PUSH of \(value)") }
            case 0x4:  // INITIAL_WINDOW_SIZE: applies to the windows of open streams too (RFC 9113 §6.9.2)
                guard value <= UInt32(Self.maxWindow) else {
                    throw HTTP2ConnectionError(code: .flowControlError, reason: "SETTINGS_INITIAL_WINDOW_SIZE of \(value)")
                }
                let delta = Int(value) - peerInitialWindow
                peerInitialWindow = Int(value)
                for id in streams.keys {
                    let window = (streams[id]?.sendWindow ?? 0) + delta
                    guard window <= Self.maxWindow else {
                        throw HTTP2ConnectionError(code: .flowControlError, reason: "SETTINGS_INITIAL_WINDOW_SIZE overflows a stream's window")
                    }
                    streams[id]?.sendWindow = window
                }
            case 0x5:  // MAX_FRAME_SIZE
                guard (16_384...16_777_215).contains(value) else {
                    throw HTTP2ConnectionError(code: .protocolError, reason: "SETTINGS_MAX_FRAME_SIZE of \(value)")
                }
                peerMaxFrameSize = Int(value)
            default:
                break  // HEADER_TABLE_SIZE (no dynamic table is used to encode), limits on the client's side, unknown
            }
        }
        withOutput(context) { HTTP2FrameWriter.settingsAck(&$0) }
        sendBlocked(context)
        // Passed on: the first frame read tells the next handler that the client's session is established.
        context.fireChannelRead(wrapInboundOut(HTTP2Frame(streamID: .rootStream, payload: .settings(.settings(received)))))
    }

    private func ping(_ frame: HTTP2WireFrame, context: ChannelHandlerContext) throws(HTTP2ConnectionError) {
        guard frame.stream == 0 else { throw HTTP2ConnectionError(code: .protocolError, reason: "PING on a stream") }
        guard frame.payload.readableBytes == 8, let value = frame.payload.getInteger(at: frame.payload.readerIndex, as: UInt64.self) else {
            throw HTTP2ConnectionError(code: .frameSizeError, reason: "PING of other than 8 bytes")
        }
        let data = HTTP2PingData(withInteger: value)
        let ack = frame.has(HTTP2WireFrame.Flag.ack)
        if !ack {
            try controlFrame()
            withOutput(context) { HTTP2FrameWriter.ping(&$0, data, ack: true) }
        }
        context.fireChannelRead(wrapInboundOut(HTTP2Frame(streamID: .rootStream, payload: .ping(data, ack: ack))))
    }

    private func windowUpdate(_ frame: HTTP2WireFrame, context: ChannelHandlerContext) throws(HTTP2ConnectionError) {
        guard frame.payload.readableBytes == 4, let raw = frame.payload.getInteger(at: frame.payload.readerIndex, as: UInt32.self) else {
            throw HTTP2ConnectionError(code: .frameSizeError, reason: "WINDOW_UPDATE of other than 4 bytes")
        }
        let increment = Int(raw & 0x7fff_ffff)
        let id = frame.stream
        if id == 0 {
            guard increment > 0 else { throw HTTP2ConnectionError(code: .protocolError, reason: "WINDOW_UPDATE of 0 on the connection") }
            guard sendWindow + increment <= Self.maxWindow else {
                throw HTTP2ConnectionError(code: .flowControlError, reason: "WINDOW_UPDATE past 2^31-1 on the connection")
            }
            sendWindow += increment
        } else {
            guard id <= lastClientStream else { throw HTTP2ConnectionError(code: .protocolError, reason: "WINDOW_UPDATE on idle stream \(id)") }
            guard let stream = streams[id] else { return }
            guard increment > 0 else { return try resetStream(id, .protocolError, context: context) }
            guard stream.sendWindow + increment <= Self.maxWindow else { return try resetStream(id, .flowControlError, context: context) }
            streams[id]?.sendWindow += increment
        }
        sendBlocked(context)
    }

    /// A stream error (RFC 9113 §5.4.2): RST_STREAM, the stream forgotten, the next handler told. Too many end the
    /// connection.
    private func resetStream(_ id: UInt32, _ code: HTTP2ErrorCode, context: ChannelHandlerContext) throws(HTTP2ConnectionError) {
        withOutput(context) { HTTP2FrameWriter.rstStream(&$0, stream: id, code: code) }
        if streams.removeValue(forKey: id) != nil {
            context.fireUserInboundEventTriggered(StreamClosedEvent(streamID: Self.streamID(id), reason: code))
        }
        guard streamErrors.record(at: .now()) else { throw HTTP2ConnectionError(code: .enhanceYourCalm, reason: "too_many_stream_errors") }
    }

    private func closeIfDone(_ id: UInt32) {
        guard let stream = streams[id], stream.remoteClosed, stream.localClosed, stream.blocked.isEmpty else { return }
        streams[id] = nil
    }

    private static func streamID(_ id: UInt32) -> HTTP2StreamID {
        HTTP2StreamID(Int32(truncatingIfNeeded: id & 0x7fff_ffff))
    }

    // MARK: - Frames out

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        let id = UInt32(truncatingIfNeeded: Int32(frame.streamID))
        switch frame.payload {
        case .headers(let headers):
            guard var stream = streams[id], !stream.localClosed else {
                promise?.fail(NIOHTTP2Errors.noSuchStream(streamID: frame.streamID))
                return
            }
            var block = context.channel.allocator.buffer(capacity: 96)
            HTTP2FrameWriter.headerBlock(headers.headers, into: &block)
            if stream.blocked.isEmpty {
                let maxFrameSize = peerMaxFrameSize
                withOutput(context) {
                    HTTP2FrameWriter.headers(&$0, stream: id, block: block, endStream: headers.endStream, maxFrameSize: maxFrameSize)
                }
            } else {
                stream.blocked.append(.headers(block, endStream: headers.endStream))
            }
            stream.localClosed = headers.endStream
            streams[id] = stream
            closeIfDone(id)
        case .data(let payload):
            guard case .byteBuffer(let bytes) = payload.data, var stream = streams[id], !stream.localClosed else {
                promise?.fail(NIOHTTP2Errors.noSuchStream(streamID: frame.streamID))
                return
            }
            stream.localClosed = payload.endStream
            let size = bytes.readableBytes
            if stream.blocked.isEmpty, size <= min(sendWindow, stream.sendWindow, peerMaxFrameSize) {
                sendWindow -= size
                stream.sendWindow -= size
                withOutput(context) { HTTP2FrameWriter.data(&$0, stream: id, bytes, endStream: payload.endStream) }
                streams[id] = stream
                closeIfDone(id)
            } else {
                if stream.blocked.isEmpty { blockedStreams.append(id) }
                stream.blocked.append(.data(bytes, endStream: payload.endStream))
                stream.blockedBytes += size
                streams[id] = stream
                if stream.blockedBytes > Self.maxBlockedBytes {
                    // The client does not read: give up on the stream rather than hold its output.
                    try? resetStream(id, .cancel, context: context)
                }
                sendBlocked(context)
            }
        case .rstStream(let code):
            streams[id] = nil
            withOutput(context) { HTTP2FrameWriter.rstStream(&$0, stream: id, code: code) }
        case .goAway(let lastStreamID, let code, let debugData):
            let last = UInt32(truncatingIfNeeded: Int32(lastStreamID))
            goAwayLastStream = min(goAwayLastStream ?? last, last)
            withOutput(context) { HTTP2FrameWriter.goAway(&$0, lastStream: last, code: code, debugData: debugData) }
        case .ping(let data, let ack):
            withOutput(context) { HTTP2FrameWriter.ping(&$0, data, ack: ack) }
        default:
            promise?.fail(NIOHTTP2Errors.unsupported(info: "GRPCHTTP2Handler writes no \(frame.payload) frames"))
            return
        }
        if let promise {
            if let pending = outputPromise { pending.futureResult.cascade(to: promise) } else { outputPromise = promise }
        }
    }

    func flush(context: ChannelHandlerContext) {
        flushOutput(context)
    }

    /// Output held for the client's flow-control windows, sent as far as they allow.
    private func sendBlocked(_ context: ChannelHandlerContext) {
        var index = 0
        while index < blockedStreams.count {
            let id = blockedStreams[index]
            guard var stream = streams[id] else {
                blockedStreams.remove(at: index)
                continue
            }
            var sent = 0
            send: for item in stream.blocked {
                switch item {
                case .headers(let block, let endStream):
                    let maxFrameSize = peerMaxFrameSize
                    withOutput(context) { HTTP2FrameWriter.headers(&$0, stream: id, block: block, endStream: endStream, maxFrameSize: maxFrameSize) }
                case .data(var bytes, let endStream):
                    let allowed = min(sendWindow, stream.sendWindow, peerMaxFrameSize)
                    if bytes.readableBytes > allowed {
                        if allowed > 0, let piece = bytes.readSlice(length: allowed) {
                            sendWindow -= allowed
                            stream.sendWindow -= allowed
                            stream.blockedBytes -= allowed
                            withOutput(context) { HTTP2FrameWriter.data(&$0, stream: id, piece, endStream: false) }
                            stream.blocked[sent] = .data(bytes, endStream: endStream)
                        }
                        break send
                    }
                    sendWindow -= bytes.readableBytes
                    stream.sendWindow -= bytes.readableBytes
                    stream.blockedBytes -= bytes.readableBytes
                    withOutput(context) { HTTP2FrameWriter.data(&$0, stream: id, bytes, endStream: endStream) }
                }
                sent += 1
            }
            stream.blocked.removeFirst(sent)
            streams[id] = stream
            if stream.blocked.isEmpty {
                blockedStreams.remove(at: index)
                closeIfDone(id)
            } else {
                index += 1
            }
        }
    }

    private func withOutput(_ context: ChannelHandlerContext, _ body: (inout ByteBuffer) -> Void) {
        var out = output ?? context.channel.allocator.buffer(capacity: 256)
        output = nil
        body(&out)
        output = out
    }

    private func flushOutput(_ context: ChannelHandlerContext) {
        if let out = output {
            output = nil
            let promise = outputPromise
            outputPromise = nil
            context.write(wrapOutboundOut(out), promise: promise)
        }
        context.flush()
    }
}
