import CollectorCore
import CollectorTesting
import Logging
import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix
import Synchronization
import Testing

@testable import OTLPExporters

/// An HTTP/2 upstream that holds every call until told to answer, counting connections and open streams.
final class HoldingUpstream: Sendable {
    struct Counts { var connections = 0, open = 0, maxOpen = 0, answered = 0 }
    let counts = Mutex(Counts())
    private let release = Mutex<[@Sendable () -> Void]>([])
    private let released = Atomic(false)
    let channel: any Channel

    init(maxConcurrentStreams: Int) async throws {
        let holder = Mutex<HoldingUpstream?>(nil)
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        NIOHTTP2Handler(
                            mode: .server,
                            initialSettings: [
                                HTTP2Setting(parameter: .maxConcurrentStreams, value: maxConcurrentStreams),
                                HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
                            ]))
                    try channel.pipeline.syncOperations.addHandler(Handler(upstream: holder.withLock { $0 }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        holder.withLock { $0 = self }
    }

    var port: Int { channel.localAddress?.port ?? 0 }

    /// Answers every held call, and every later one at once.
    func answerAll() {
        released.store(true, ordering: .sequentiallyConsistent)
        let pending = release.withLock { r in
            defer { r = [] }
            return r
        }
        for p in pending { p() }
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame
        typealias OutboundOut = HTTP2Frame
        let upstream: HoldingUpstream?
        init(upstream: HoldingUpstream?) { self.upstream = upstream }

        func channelActive(context: ChannelHandlerContext) {
            upstream?.counts.withLock { $0.connections += 1 }
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            guard let upstream, case .data(let d) = frame.payload, d.endStream else { return }
            upstream.counts.withLock { c in
                c.open += 1
                c.maxOpen = max(c.maxOpen, c.open)
            }
            let id = frame.streamID
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            let loop = context.eventLoop
            let answer: @Sendable () -> Void = {
                loop.execute {
                    let (handler, context) = loopBound.value
                    handler.answer(id, context: context)
                }
            }
            if upstream.released.load(ordering: .sequentiallyConsistent) {
                answer()
            } else {
                upstream.release.withLock { $0.append(answer) }
                if upstream.released.load(ordering: .sequentiallyConsistent) { upstream.answerAll() }
            }
        }

        func answer(_ id: HTTP2StreamID, context: ChannelHandlerContext) {
            upstream?.counts.withLock { c in
                c.open -= 1
                c.answered += 1
            }
            var buffer = context.channel.allocator.buffer(capacity: 5)
            buffer.writeInteger(UInt8(0))
            buffer.writeInteger(UInt32(0))
            context.write(
                wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: [":status": "200", "content-type": "application/grpc"])))),
                promise: nil)
            context.write(wrapOutboundOut(HTTP2Frame(streamID: id, payload: .data(.init(data: .byteBuffer(buffer))))), promise: nil)
            context.writeAndFlush(
                wrapOutboundOut(HTTP2Frame(streamID: id, payload: .headers(.init(headers: ["grpc-status": "0"], endStream: true)))), promise: nil)
        }
    }
}

@Suite("OTLP/gRPC client: concurrency on one connection")
struct GRPCClientConcurrencyTests {
    func client(port: Int) throws -> OTLPGRPCClient {
        try OTLPGRPCClient(
            settings: .init(
                host: "127.0.0.1", port: port, authority: "127.0.0.1:\(port)", tls: nil, timeout: .seconds(20),
                keepalive: nil, gzip: false, headers: []))
    }

    func wait(until done: () -> Bool) async throws {
        for _ in 0..<1000 where !done() { try await Task.sleep(for: .milliseconds(10)) }
    }

    @Test func oneConnectionCarries150ConcurrentCalls() async throws {
        let upstream = try await HoldingUpstream(maxConcurrentStreams: 1000)
        let client = try client(port: upstream.port)
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<150 {
                group.addTask { await client.call(path: GRPCUpstream.paths[.traces] ?? "", message: [1, 2, 3]).status }
            }
            try await wait { upstream.counts.withLock { $0.open } == 150 }
            #expect(upstream.counts.withLock { $0.maxOpen } == 150, "all 150 calls open at once")
            upstream.answerAll()
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.count == 150 && statuses.allSatisfy { $0 == 0 })
        #expect(upstream.counts.withLock { $0.connections } == 1)
        client.close()
        try await upstream.channel.close()
    }

    @Test func callsBeyondTheUpstreamsStreamLimitWaitForAFreeStream() async throws {
        let upstream = try await HoldingUpstream(maxConcurrentStreams: 100)
        let client = try client(port: upstream.port)
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<130 {
                group.addTask { await client.call(path: GRPCUpstream.paths[.traces] ?? "", message: [1]).status }
            }
            try await wait { upstream.counts.withLock { $0.open } == 100 }
            try await Task.sleep(for: .milliseconds(100))
            #expect(upstream.counts.withLock { $0.maxOpen } == 100)
            upstream.answerAll()
            for try await status in group { #expect(status == 0) }
        }
        #expect(upstream.counts.withLock { $0.answered } == 130)
        #expect(upstream.counts.withLock { $0.connections } == 1)
        client.close()
        try await upstream.channel.close()
    }

    @Test func aSlowUpstreamDoesNotHoldUpSubmitsWhileTheQueueHasRoom() async throws {
        let upstream = try await HoldingUpstream(maxConcurrentStreams: 1000)
        var config = OTLPGRPCExporterConfig()
        config.host = "127.0.0.1"
        config.port = upstream.port
        config.tls.insecure = true
        config.timeout = .seconds(20)
        let sender = try GRPCUpstream(config: config)
        var settings = SendingQueueSettings()
        settings.queueSize = 50
        let queue = SendingQueue(
            settings: settings, retry: RetryPolicy(), sender: sender, clock: SystemClock(),
            logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
        let running = Task { await queue.run() }
        // Every submit returns while the upstream holds the first ten: the ten senders wait, the queue takes the
        // rest and refuses only once full.
        for _ in 0..<50 { try await queue.submit(OutgoingRequest(signal: .traces, bytes: [1], items: 1)) }
        try await wait { upstream.counts.withLock { $0.open } == 10 }
        #expect(queue.size == 50)
        await #expect(throws: PipelineError.self) { try await queue.submit(OutgoingRequest(signal: .traces, bytes: [1], items: 1)) }
        upstream.answerAll()
        try await wait { queue.size == 0 }
        #expect(upstream.counts.withLock { $0.answered } == 50)
        queue.close()
        await running.value
        sender.client.close()
        try await upstream.channel.close()
    }
}
