import NIOCore
import NIOEmbedded

/// One client connection to a server pipeline on an `EmbeddedChannel`, without sockets.
enum EmbeddedConnection {
    /// Builds the pipeline with `configure`, connects, and delivers `bytes` in pieces that double from `firstPiece`
    /// (as a network would), running the loop after each so that the calls' tasks run; then closes. Protocol errors
    /// close the channel or surface as thrown errors: both are fine, only a crash is not.
    static func deliver(_ bytes: [UInt8], firstPiece: Int, port: Int, configure: (EmbeddedChannel) throws -> Void) {
        let channel = EmbeddedChannel()
        do {
            try configure(channel)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: port)).wait()
            var offset = 0
            var piece = max(1, firstPiece)
            while offset < bytes.count, channel.isActive {
                let end = min(bytes.count, offset + piece)
                try channel.writeInbound(channel.allocator.buffer(bytes: bytes[offset..<end]))
                channel.embeddedEventLoop.run()
                offset = end
                piece = piece * 2
            }
        } catch {
            // A protocol error: fine, as said above.
        }
        channel.embeddedEventLoop.run()
        _ = try? channel.finish(acceptAlreadyClosed: true)
    }
}
