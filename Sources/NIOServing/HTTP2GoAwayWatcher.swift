import NIOCore

/// Closes an HTTP/2 server connection once it has sent a GOAWAY with an error code.
///
/// swift-nio-http2 (and the gRPC listener's own HTTP/2 handler) answer a connection error (a flood, a malformed
/// frame) with GOAWAY and stop reading, but leave the connection open. This handler sits between the TLS (or
/// socket) end of the pipeline and the HTTP/2 handler,
/// follows the frame headers of what the server writes (frames may span writes), and after a GOAWAY whose error
/// code is not NO_ERROR closes the output (so the client reads the GOAWAY) and then the connection. A graceful
/// GOAWAY (NO_ERROR, on shutdown or idle) is left to the protocol handler, which closes once its calls end.
public final class HTTP2GoAwayWatcher: ChannelOutboundHandler, RemovableChannelHandler {
    public typealias OutboundIn = IOData
    public typealias OutboundOut = IOData

    /// Bytes of the current frame's payload still to pass.
    private var skip = 0
    /// A frame header (9 bytes), plus the first 8 bytes of a GOAWAY payload, split across writes.
    private var pending: [UInt8] = []
    private var goAwaySeen = false
    private var closing = false

    public init() {}

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if !closing, !goAwaySeen, case .byteBuffer(let buffer) = unwrapOutboundIn(data), scan(buffer.readableBytesView) {
            goAwaySeen = true
            // Should the rest of the frame never be written, close anyway.
            context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(2)) { context.close(promise: nil) }
        } else if goAwaySeen, !closing, case .byteBuffer(let buffer) = unwrapOutboundIn(data) {
            _ = scan(buffer.readableBytesView)
        }
        // Close once the GOAWAY frame is out whole: its debug data may come in a later write.
        guard goAwaySeen, !closing, skip == 0, pending.isEmpty else { return context.write(data, promise: promise) }
        closing = true
        let written = promise ?? context.eventLoop.makePromise()
        context.writeAndFlush(data, promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in
            context.close(mode: .output, promise: nil)
            context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(2)) { context.close(promise: nil) }
        }
    }

    /// Follows frame boundaries through `bytes`; true when a GOAWAY with a non-zero error code was completed.
    func scan(_ bytes: ByteBufferView) -> Bool {
        var i = bytes.startIndex
        var found = false
        while i < bytes.endIndex {
            if skip > 0 {
                let n = min(skip, bytes.endIndex - i)
                skip -= n
                i += n
                continue
            }
            if pending.isEmpty, bytes.endIndex - i >= 9 {
                // A whole frame header in this write (the usual case): read it in place.
                let length = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
                if bytes[i + 3] != 0x7 || length < 8 {
                    skip = length
                    i += 9
                    continue
                }
                if bytes.endIndex - i >= 17 {
                    let code = bytes[(i + 13)..<(i + 17)].reduce(0) { $0 << 8 | UInt32($1) }
                    if code != 0 { found = true }
                    skip = length - 8
                    i += 17
                    continue
                }
            }
            pending.append(bytes[i])
            i += 1
            guard pending.count >= 9 else { continue }
            let length = Int(pending[0]) << 16 | Int(pending[1]) << 8 | Int(pending[2])
            let isGoAway = pending[3] == 0x7
            if isGoAway && length >= 8 {
                // Wait for last-stream-ID (4 bytes) and error code (4 bytes).
                guard pending.count >= 17 else { continue }
                let code = pending[13...16].reduce(0) { $0 << 8 | UInt32($1) }
                if code != 0 { found = true }
                skip = length - 8
            } else {
                skip = length
            }
            pending.removeAll(keepingCapacity: true)
        }
        return found
    }
}
