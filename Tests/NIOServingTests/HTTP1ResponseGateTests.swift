import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOServing
import Testing

/// Holds the promise of every write until told to complete them (a client that does not read), and counts the
/// reads that reach the socket end of the pipeline.
final class StalledSocket: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny
    var pending: [EventLoopPromise<Void>] = []
    var reads = 0
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if let promise { pending.append(promise) }
    }
    func read(context: ChannelHandlerContext) { reads += 1 }
    func drain() {
        let promises = pending
        pending = []
        for p in promises { p.succeed() }
    }
}

/// Collects what the gate hands on.
final class RequestRecorder: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    var heads: [String] = []
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let h) = unwrapInboundIn(data) { heads.append(h.uri) }
    }
}

@Suite("HTTP1ResponseGate")
struct HTTP1ResponseGateTests {
    func makeChannel() throws -> (EmbeddedChannel, StalledSocket, RequestRecorder) {
        let socket = StalledSocket()
        let recorder = RequestRecorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(socket)
        try channel.pipeline.syncOperations.addHandler(HTTP1ResponseGate(writeTimeout: .seconds(30)))
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, socket, recorder)
    }

    func request(_ channel: EmbeddedChannel, _ uri: String) throws {
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: uri)))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
    }

    func respond(_ channel: EmbeddedChannel) {
        channel.write(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)), promise: nil)
        channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
    }

    @Test func theNextRequestWaitsUntilThePreviousResponseIsWrittenToTheSocket() throws {
        let (channel, socket, recorder) = try makeChannel()
        try request(channel, "/1")
        #expect(recorder.heads == ["/1"])
        respond(channel)
        try request(channel, "/2")
        try request(channel, "/3")
        #expect(recorder.heads == ["/1"])  // the client has not taken the first answer
        let readsBefore = socket.reads
        channel.read()
        #expect(socket.reads == readsBefore)  // and nothing more is read from it meanwhile
        socket.drain()
        #expect(recorder.heads == ["/1", "/2"])
        #expect(socket.reads == readsBefore)  // "/3" is still held, so the read stays held too
        respond(channel)
        socket.drain()
        #expect(recorder.heads == ["/1", "/2", "/3"])
        #expect(socket.reads == readsBefore + 1)
    }

    @Test func aResponseNotTakenWithinTheWriteTimeoutClosesTheConnection() throws {
        let (channel, _, _) = try makeChannel()
        try request(channel, "/1")
        respond(channel)
        channel.embeddedEventLoop.advanceTime(by: .seconds(29))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }
}
