import NIOCore
import NIOEmbedded
import NIOServing
import Testing

/// Records inbound events that reach the end of the pipeline.
final class EventRecorder: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    var quiesceEvents = 0
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent { quiesceEvents += 1 }
        context.fireUserInboundEventTriggered(event)
    }
}

@Suite("ConnectionDeadlineHandler")
struct ConnectionDeadlineHandlerTests {
    func makeChannel(header: Int64 = 2, idle: Int64 = 5) throws -> (EmbeddedChannel, EventRecorder) {
        let recorder = EventRecorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ConnectionDeadlineHandler(headerTimeout: .seconds(header), idleTimeout: .seconds(idle)))
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, recorder)
    }

    func send(_ channel: EmbeddedChannel, _ text: String) throws {
        try channel.writeInbound(channel.allocator.buffer(string: text))
        _ = try channel.readInbound(as: ByteBuffer.self)
    }

    @Test func bytesTrickledOneAtATimeDoNotExtendTheHeaderDeadline() throws {
        let (channel, _) = try makeChannel(header: 2)
        for byte in "GET / HT" {
            guard channel.isActive else { break }
            try send(channel, String(byte))
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(300))
        }
        // 8 bytes × 300 ms = 2.4 s: past the 2 s deadline counted from the connection's opening.
        #expect(!channel.isActive)
    }

    @Test func aConnectionThatSendsNothingIsClosedAtTheHeaderDeadline() throws {
        let (channel, _) = try makeChannel(header: 2)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1900))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(!channel.isActive)
    }

    @Test func aRequestInProgressHasNoDeadlineAndAfterItTheIdleTimeoutQuiescesThenCloses() throws {
        let (channel, recorder) = try makeChannel(header: 2, idle: 5)
        try send(channel, "GET / HTTP/1.1\r\n\r\n")
        channel.pipeline.triggerUserOutboundEvent(ConnectionActivity.requestStarted, promise: nil)
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive)
        channel.pipeline.triggerUserOutboundEvent(ConnectionActivity.requestFinished, promise: nil)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(4900))
        #expect(recorder.quiesceEvents == 0)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(recorder.quiesceEvents == 1)
        #expect(channel.isActive)  // the protocol gets a moment to end politely
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }

    @Test func theFirstByteAfterAnIdlePeriodStartsTheHeaderDeadlineWithoutExtendingIdle() throws {
        let (channel, _) = try makeChannel(header: 2, idle: 5)
        channel.pipeline.triggerUserOutboundEvent(ConnectionActivity.requestStarted, promise: nil)
        channel.pipeline.triggerUserOutboundEvent(ConnectionActivity.requestFinished, promise: nil)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        try send(channel, "G")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1900))
        try send(channel, "E")
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(!channel.isActive)
    }

    @Test func onAnHTTP2SessionBytesBetweenRequestsDoNotStartAHeaderDeadline() throws {
        let (channel, recorder) = try makeChannel(header: 2, idle: 5)
        channel.pipeline.triggerUserOutboundEvent(ConnectionActivity.sessionEstablished, promise: nil)
        for _ in 0..<4 {
            try send(channel, "PING")  // keepalive pings are not request heads
            channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        }
        #expect(channel.isActive)
        #expect(recorder.quiesceEvents == 0)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(1100))
        #expect(recorder.quiesceEvents == 1)
    }

    @Test func aBusyConnectionIsNeverIdleAndItsIdleDeadlineCountsFromItsLastRequest() throws {
        let (channel, recorder) = try makeChannel(header: 2, idle: 5)
        channel.pipeline.triggerUserOutboundEvent(ConnectionActivity.sessionEstablished, promise: nil)
        // 40 requests, one every 300 ms (12 s, past the first idle deadline twice over).
        for _ in 0..<40 {
            channel.pipeline.triggerUserOutboundEvent(ConnectionActivity.requestStarted, promise: nil)
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(100))
            channel.pipeline.triggerUserOutboundEvent(ConnectionActivity.requestFinished, promise: nil)
            channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        }
        #expect(recorder.quiesceEvents == 0)
        // The last request ended 200 ms ago: idle 4.8 s more.
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(4700))
        #expect(recorder.quiesceEvents == 0)
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(200))
        #expect(recorder.quiesceEvents == 1)
    }

    @Test func aRequestHeadStartedLateInAnIdlePeriodKeepsItsEarlierHeaderDeadline() throws {
        let (channel, _) = try makeChannel(header: 2, idle: 60)
        channel.pipeline.triggerUserOutboundEvent(ConnectionActivity.requestStarted, promise: nil)
        channel.pipeline.triggerUserOutboundEvent(ConnectionActivity.requestFinished, promise: nil)
        // The idle timer is due in 60 s; the header deadline of the next head (2 s) must still end the connection.
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        try send(channel, "GE")
        channel.embeddedEventLoop.advanceTime(by: .milliseconds(2100))
        #expect(!channel.isActive)
    }
}
