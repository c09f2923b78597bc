import NIOCore

/// Looks at the first bytes an upstream sends, before `NIOHTTP2Handler` parses them: an HTTP/2 server starts with a
/// SETTINGS frame. Anything else (an HTTP/1.x status line, an HTML page, another protocol) is recorded in the
/// connection's health as the cause the failing calls name, since the HTTP/2 parser's own error can lose the race
/// with the connection's close. Removes itself after the first read.
final class HTTP2AnswerCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let health: GRPCConnectionHealth
    private let target: String

    init(health: GRPCConnectionHealth, target: String) {
        self.health = health
        self.target = target
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        if let problem = Self.problem(with: bytes) {
            health.recordFailure("\(target) does not speak HTTP/2 (is this a gRPC endpoint?): it answered \(problem)")
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// What is wrong with `bytes` as the start of an HTTP/2 server's stream; nil when it may be a SETTINGS frame.
    static func problem(with bytes: ByteBuffer) -> String? {
        let view = bytes.readableBytesView
        guard !view.isEmpty else { return nil }
        let head = Array(view.prefix(80))
        if head.starts(with: Array("HTTP/".utf8)) {
            let line = head.prefix { $0 != 13 && $0 != 10 }
            return "\"\(String(decoding: line.map { $0 >= 32 && $0 < 127 ? $0 : UInt8(ascii: "?") }, as: UTF8.self))\" (HTTP/1.x)"
        }
        // A frame header: 3 bytes of length, then the type, SETTINGS being 4.
        if head.count >= 4 && head[3] != 4 || head.first == UInt8(ascii: "<") {
            let printable = head.prefix(16).map { $0 >= 32 && $0 < 127 ? $0 : UInt8(ascii: "?") }
            return "bytes that are not an HTTP/2 SETTINGS frame (\"\(String(decoding: printable, as: UTF8.self))\")"
        }
        return nil
    }
}
