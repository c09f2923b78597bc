import CollectorCore
import Foundation
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import NIOServing
import OTLP
import Synchronization
import Testing

@testable import OTLPReceivers

/// Counts export calls.
private final class ExportCounter: TracesConsumer, MetricsConsumer, LogsConsumer, Sendable {
    let calls = Atomic<Int>(0)
    func consume(_ t: ExportTraceRequest) async throws { calls.add(1, ordering: .relaxed) }
    func consume(_ m: ExportMetricsRequest) async throws { calls.add(1, ordering: .relaxed) }
    func consume(_ l: ExportLogsRequest) async throws { calls.add(1, ordering: .relaxed) }
}

/// The gRPC connection handler alone on an `EmbeddedChannel`: HTTP/2 frames in (as `NIOHTTP2Handler` would pass
/// them on), frames out, no sockets and no timing.
private final class GRPCConnection {
    let channel = EmbeddedChannel()
    let counter = ExportCounter()
    let budget: InFlightBudget

    init(limit: Int = 1024, budget: Int = 1 << 20) throws {
        self.budget = InFlightBudget(limit: budget)
        let services = OTLPGRPCServices(
            handler: OTLPExportHandler(next: SignalConsumers(traces: counter, metrics: counter, logs: counter)),
            limit: limit)
        let handler = GRPCConnectionHandler(services: services, budget: self.budget, executor: EventLoopTaskExecutor(channel.embeddedEventLoop))
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 4317)).wait()
    }

    func headers(_ stream: Int, path: String, contentType: String = "application/grpc", endStream: Bool = false) throws {
        let h = HPACKHeaders([(":method", "POST"), (":scheme", "http"), (":path", path), ("content-type", contentType), ("te", "trailers")])
        try channel.writeInbound(HTTP2Frame(streamID: HTTP2StreamID(stream), payload: .headers(.init(headers: h, endStream: endStream))))
    }

    /// A header block as given, however malformed (NIOHTTP2Handler passes it on: the listener turns its checks off).
    func headers(_ stream: Int, fields: [(String, String)], endStream: Bool = false) throws {
        try channel.writeInbound(
            HTTP2Frame(streamID: HTTP2StreamID(stream), payload: .headers(.init(headers: HPACKHeaders(fields), endStream: endStream))))
    }

    func data(_ stream: Int, _ bytes: [UInt8], endStream: Bool) throws {
        let buffer = channel.allocator.buffer(bytes: bytes)
        try channel.writeInbound(HTTP2Frame(streamID: HTTP2StreamID(stream), payload: .data(.init(data: .byteBuffer(buffer), endStream: endStream))))
    }

    func event(_ event: any Sendable) {
        channel.pipeline.fireUserInboundEventTriggered(event)
        channel.embeddedEventLoop.run()
    }

    /// The frames written so far.
    func frames() throws -> [HTTP2Frame] {
        var out: [HTTP2Frame] = []
        while let f = try channel.readOutbound(as: HTTP2Frame.self) { out.append(f) }
        return out
    }

    /// The frames written once the calls' tasks have run (turned until `count` frames are out, at most 5 s).
    func frames(atLeast count: Int) throws -> [HTTP2Frame] {
        let deadline = ContinuousClock.now + .seconds(5)
        var out = try frames()
        while out.count < count && ContinuousClock.now < deadline {
            channel.embeddedEventLoop.run()
            out += try frames()
            if out.count < count { Thread.sleep(forTimeInterval: 0.005) }
        }
        return out
    }
}

/// A gRPC message: flag, big-endian length, bytes.
private func framed(_ message: [UInt8], declaring length: Int? = nil) -> [UInt8] {
    let n = UInt32(length ?? message.count)
    return [0, UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + message
}

extension HTTP2Frame {
    fileprivate var headerBlock: HPACKHeaders? { if case .headers(let h) = payload { h.headers } else { nil } }
    fileprivate var endsStream: Bool {
        switch payload {
        case .headers(let h): h.endStream
        case .data(let d): d.endStream
        default: false
        }
    }
    fileprivate var isReset: Bool { if case .rstStream = payload { true } else { false } }
    fileprivate var isGoAway: Bool { if case .goAway = payload { true } else { false } }
    fileprivate var resetCode: HTTP2ErrorCode? { if case .rstStream(let code) = payload { code } else { nil } }
    fileprivate var goAwayCode: HTTP2ErrorCode? { if case .goAway(_, let code, _) = payload { code } else { nil } }
}

private let traceExport = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

@Suite struct GRPCConnectionHandlerTests {
    @Test func aUnaryExportIsAnsweredWithHeadersOneMessageAndOKTrailers() throws {
        let c = try GRPCConnection()
        _ = try c.frames()
        var request = ExportTraceRequest()
        request.resourceSpans = [
            ResourceSpans.with {
                $0.scopeSpans = [
                    ScopeSpans.with {
                        $0.spans = [
                            Span.with {
                                $0.traceID = Data(repeating: 1, count: 16)
                                $0.spanID = Data(repeating: 2, count: 8)
                            }
                        ]
                    }
                ]
            }
        ]
        try c.headers(1, path: traceExport)
        try c.data(1, framed(try request.serializedBytes()), endStream: true)
        let frames = try c.frames(atLeast: 3)
        #expect(frames.count == 3)
        #expect(frames.first?.headerBlock?.first(name: ":status") == "200")
        if case .data(let d)? = frames.dropFirst().first?.payload, case .byteBuffer(let b) = d.data {
            #expect(b.readableBytes >= 5 && b.getInteger(at: b.readerIndex, as: UInt8.self) == 0)
        } else {
            Issue.record("the second frame is not the response message: \(frames)")
        }
        #expect(frames.last?.endsStream == true && frames.last?.headerBlock?.first(name: "grpc-status") == "0")
        #expect(c.counter.calls.load(ordering: .relaxed) == 1)
        #expect(c.budget.reserve(1 << 20))  // the call's bytes were given back
    }

    @Test func anOversizedLengthPrefixIsRefusedBeforeTheMessageArrives() throws {
        let c = try GRPCConnection(limit: 1024)
        _ = try c.frames()
        try c.headers(1, path: traceExport)
        try c.data(1, framed([], declaring: 2000), endStream: false)  // only the prefix has arrived
        let frames = try c.frames()
        #expect(frames.count == 2)
        #expect(frames.first?.headerBlock?.first(name: "grpc-status") == "8" && frames.first?.endsStream == true)
        #expect(frames.first?.headerBlock?.first(name: "grpc-message")?.contains("2000") == true)
        #expect(frames.last?.isReset == true)  // the client is told to stop sending the rest
        // What follows on that stream is ignored, and nothing stays reserved.
        try c.data(1, Array(repeating: 0, count: 500), endStream: true)
        #expect(try c.frames().isEmpty)
        #expect(c.budget.reserve(1 << 20) && c.counter.calls.load(ordering: .relaxed) == 0)
    }

    @Test func unknownMethodsAndNonGRPCRequestsAreRefused() throws {
        let c = try GRPCConnection()
        _ = try c.frames()
        try c.headers(1, path: "/nothing.Here/Export", endStream: true)
        #expect(try c.frames().first?.headerBlock?.first(name: "grpc-status") == "12")
        try c.headers(3, path: traceExport, contentType: "application/json", endStream: true)
        #expect(try c.frames().first?.headerBlock?.first(name: ":status") == "415")
    }

    @Test func shutdownEndsAnOpenHealthWatchSaysGoAwayAndClosesOutput() throws {
        let c = try GRPCConnection()
        _ = try c.frames()
        try c.headers(1, path: "/grpc.health.v1.Health/Watch")
        try c.data(1, framed([]), endStream: true)
        let watch = try c.frames(atLeast: 2)
        #expect(watch.count == 2 && !watch.contains { $0.endsStream })  // SERVING, and the stream stays open
        c.event(ChannelShouldQuiesceEvent())
        let closing = try c.frames()
        #expect(closing.first?.isGoAway == true)
        #expect(closing.contains { $0.streamID == HTTP2StreamID(1) && $0.endsStream && $0.headerBlock?.first(name: "grpc-status") == "0" })
        // Nothing is in flight any more: the connection shuts its output (a lingering close).
        c.channel.embeddedEventLoop.run()
        #expect(!c.channel.isActive || (try? c.channel.writeOutbound(HTTP2Frame(streamID: .rootStream, payload: .ping(.init(), ack: false)))) == nil)
    }

    @Test func aMalformedRequestHeaderBlockResetsItsStreamWithProtocolErrorAndTheConnectionGoesOn() throws {
        let c = try GRPCConnection()
        _ = try c.frames()
        try c.headers(1, fields: [(":method", "POST"), (":scheme", "http"), (":path", traceExport), ("Content-Type", "application/grpc")])
        let reset = try c.frames()
        #expect(reset.count == 1 && reset.first?.streamID == HTTP2StreamID(1) && reset.first?.resetCode == .protocolError)
        // Its data finds no stream; the next well-formed call is answered.
        try c.data(1, framed([]), endStream: true)
        #expect(try c.frames().isEmpty)
        try c.headers(3, path: "/nothing.Here/Export", endStream: true)
        #expect(try c.frames().first?.headerBlock?.first(name: "grpc-status") == "12")
        #expect(c.counter.calls.load(ordering: .relaxed) == 0)
    }

    @Test func malformedTrailersResetTheStreamWithoutAnExport() throws {
        let c = try GRPCConnection()
        _ = try c.frames()
        try c.headers(1, path: traceExport)
        try c.data(1, framed([]), endStream: false)
        try c.headers(1, fields: [(":path", "/again")], endStream: true)
        let frames = try c.frames(atLeast: 1)
        #expect(frames.count == 1 && frames.first?.resetCode == .protocolError)
        #expect(c.counter.calls.load(ordering: .relaxed) == 0)
        #expect(c.budget.reserve(1 << 20))  // nothing stays reserved
    }

    /// As swift-nio-http2 counts stream errors ("glitches"): a client that keeps sending malformed blocks is told to
    /// calm down and the connection ends (HTTP2GoAwayWatcher closes it after a GOAWAY with an error code).
    @Test func tooManyMalformedHeaderBlocksEndTheConnectionWithEnhanceYourCalm() throws {
        let c = try GRPCConnection()
        _ = try c.frames()
        let limit = GRPCConnectionHandler.maxMalformedHeaderBlocks
        for i in 0..<limit {
            try c.headers(1 + 2 * i, fields: [(":method", "POST"), ("te", "gzip")])
        }
        let resets = try c.frames()
        #expect(resets.count == limit && resets.allSatisfy { $0.resetCode == .protocolError })
        try c.headers(1 + 2 * limit, fields: [(":method", "POST"), ("te", "gzip")])
        let last = try c.frames()
        #expect(last.count == 2 && last.first?.resetCode == .protocolError && last.last?.goAwayCode == .enhanceYourCalm)
    }
}
