import NIOCore

/// Chooses HTTP/1.1 or HTTP/2 for a cleartext connection by its first bytes.
///
/// A client speaking HTTP/2 with prior knowledge starts with the connection preface `PRI * HTTP/2.0…`; anything
/// else is HTTP/1.1. Once decided, the handler installs the right pipeline, replays what it read and removes itself.
final class HTTPProtocolSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    private let configureHTTP1: (any Channel) throws -> Void
    private let configureHTTP2: (any Channel) throws -> Void
    private var buffered: ByteBuffer?
    private var decided = false

    init(http1: @escaping (any Channel) throws -> Void, http2: @escaping (any Channel) throws -> Void) {
        configureHTTP1 = http1
        configureHTTP2 = http2
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffered == nil {
            buffered = incoming
        } else {
            buffered?.writeBuffer(&incoming)
        }
        guard !decided, let buffer = buffered else { return }
        let view = buffer.readableBytesView
        let n = min(view.count, Self.preface.count)
        let matches = view.prefix(n).elementsEqual(Self.preface.prefix(n))
        if matches && n < Self.preface.count { return }  // need more bytes to tell
        decided = true
        do {
            try (matches ? configureHTTP2 : configureHTTP1)(context.channel)
        } catch {
            context.close(promise: nil)
            return
        }
        let replay = buffered
        buffered = nil
        if let replay { context.fireChannelRead(wrapInboundOut(replay)) }
        context.fireChannelReadComplete()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
