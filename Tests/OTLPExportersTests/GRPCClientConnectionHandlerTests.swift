import Foundation
import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import OTLP
import SwiftProtobuf
import Testing

@testable import OTLPExporters

/// The OTLP/gRPC client's connection handler on an `EmbeddedChannel`: the frames it writes for a call, and how it
/// reads answers, trailers-only errors, resets, GOAWAY, deadlines and a closed connection.
@Suite("GRPCClientConnectionHandler")
struct GRPCClientConnectionHandlerTests {
    final class Harness {
        let channel = EmbeddedChannel()
        let health = GRPCConnectionHealth()
        init(keepalive: GRPCClientConnectionHandler.Keepalive? = nil) throws {
            try channel.pipeline.syncOperations.addHandler(GRPCClientConnectionHandler(health: health, keepalive: keepalive))
            channel.pipeline.fireChannelActive()
            // The connection window is opened first.
            let first = try channel.readOutbound(as: HTTP2Frame.self)
            guard case .windowUpdate(let increment)? = first?.payload else { throw HarnessError.unexpected("\(String(describing: first))") }
            #expect(increment == GRPCClientConnectionHandler.connectionWindow - 65_535)
        }

        func start(_ message: [UInt8] = [1, 2, 3], timeout: TimeAmount = .seconds(5)) -> EventLoopFuture<GRPCCallAnswer> {
            let promise = channel.eventLoop.makePromise(of: GRPCCallAnswer.self)
            var headers = HPACKHeaders()
            headers.add(name: ":path", value: "/opentelemetry.proto.collector.trace.v1.TraceService/Export")
            var buffer = channel.allocator.buffer(capacity: 8)
            buffer.writeInteger(UInt8(0))
            buffer.writeInteger(UInt32(message.count))
            buffer.writeBytes(message)
            channel.pipeline.triggerUserOutboundEvent(
                GRPCStartCall(headers: headers, message: buffer, timeout: timeout, promise: promise),
                promise: nil)
            return promise.futureResult
        }

        func outbound() throws -> [HTTP2Frame] {
            var frames: [HTTP2Frame] = []
            while let f = try channel.readOutbound(as: HTTP2Frame.self) { frames.append(f) }
            return frames
        }

        func receive(_ id: Int32, _ payload: HTTP2Frame.FramePayload) throws {
            try channel.writeInbound(HTTP2Frame(streamID: HTTP2StreamID(id), payload: payload))
        }

        func headers(_ pairs: [(String, String)], end: Bool = false) -> HTTP2Frame.FramePayload {
            .headers(.init(headers: HPACKHeaders(pairs), endStream: end))
        }

        func message(_ bytes: [UInt8], end: Bool = false) -> HTTP2Frame.FramePayload {
            var buffer = channel.allocator.buffer(capacity: bytes.count + 5)
            buffer.writeInteger(UInt8(0))
            buffer.writeInteger(UInt32(bytes.count))
            buffer.writeBytes(bytes)
            return .data(.init(data: .byteBuffer(buffer), endStream: end))
        }
    }

    enum HarnessError: Error { case unexpected(String) }

    func answer(_ future: EventLoopFuture<GRPCCallAnswer>) throws -> GRPCCallAnswer? {
        var result: GRPCCallAnswer?
        future.assumeIsolated().whenSuccess { result = $0 }
        return result
    }

    @Test func aCallIsAHeadersAndAnEndingDataFrameAndItsAnswerIsTheMessageBetweenHeadersAndTrailers() throws {
        let h = try Harness()
        let call = h.start([9, 8, 7])
        let frames = try h.outbound()
        #expect(frames.count == 2)
        #expect(frames.map(\.streamID) == [HTTP2StreamID(1), HTTP2StreamID(1)])
        guard case .headers(let sent) = frames[0].payload, case .data(let data) = frames[1].payload, case .byteBuffer(let body) = data.data else {
            Issue.record("unexpected frames \(frames)")
            return
        }
        #expect(sent.headers.first(name: ":path") == "/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        #expect(!sent.endStream && data.endStream)
        #expect(Array(body.readableBytesView) == [0, 0, 0, 0, 3, 9, 8, 7])
        // Calls get odd, increasing stream IDs.
        _ = h.start()
        #expect(try h.outbound().map(\.streamID) == [HTTP2StreamID(3), HTTP2StreamID(3)])

        var response = ExportTraceResponse()
        response.partialSuccess.rejectedSpans = 2
        try h.receive(1, h.headers([(":status", "200"), ("content-type", "application/grpc")]))
        try h.receive(1, h.message(try response.serializedBytes()))
        #expect(try answer(call) == nil)
        try h.receive(1, h.headers([("grpc-status", "0")], end: true))
        let a = try #require(try answer(call))
        #expect(a.status == 0)
        #expect(try ExportTraceResponse(serializedBytes: a.body).partialSuccess.rejectedSpans == 2)
    }

    @Test func aTrailersOnlyErrorCarriesItsDecodedMessageAndRetryInfo() throws {
        let h = try Harness()
        let call = h.start()
        _ = try h.outbound()
        var info = Google_Rpc_RetryInfo()
        info.retryDelay.seconds = 7
        var status = Google_Rpc_Status()
        status.code = 8
        var any = Google_Protobuf_Any()
        any.typeURL = "type.googleapis.com/google.rpc.RetryInfo"
        any.value = try info.serializedData()
        status.details = [any]
        let details = try status.serializedData().base64EncodedString().replacingOccurrences(of: "=", with: "")
        try h.receive(
            1,
            h.headers(
                [
                    (":status", "200"), ("grpc-status", "8"), ("grpc-message", "queue%20full%3A%20100%25"),
                    ("grpc-status-details-bin", details),
                ], end: true))
        let a = try #require(try answer(call))
        #expect(a.status == 8)
        #expect(a.message == "queue full: 100%")
        #expect(a.retryDelay == .seconds(7))
        #expect(
            UpstreamAnswer.grpc(code: a.status, message: a.message, retryInfo: a.retryDelay)
                == .retryable(after: .seconds(7), reason: "grpc status 8: queue full: 100%"))
    }

    @Test func anHTTPErrorWithoutAGRPCStatusIsMappedAsGRPCSays() throws {
        for (http, grpc) in [(503, 14), (404, 12), (401, 16), (400, 13), (500, 2)] {
            let h = try Harness()
            let call = h.start()
            _ = try h.outbound()
            try h.receive(1, h.headers([(":status", "\(http)"), ("content-type", "text/html")], end: true))
            #expect(try answer(call)?.status == grpc, "HTTP \(http)")
        }
    }

    @Test func aCallPastItsDeadlineIsResetAndEndsDeadlineExceeded() throws {
        let h = try Harness()
        let call = h.start(timeout: .seconds(2))
        _ = try h.outbound()
        h.channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(try answer(call) == nil)
        h.channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(try answer(call)?.status == 4)
        let reset = try h.outbound()
        #expect(reset.count == 1)
        if case .rstStream(let code)? = reset.first?.payload { #expect(code == .cancel) } else { Issue.record("no RST_STREAM: \(reset)") }
        // A late answer for the reset stream is ignored.
        try h.receive(1, h.headers([(":status", "200"), ("grpc-status", "0")], end: true))
    }

    @Test func afterGoAwayUnprocessedCallsAndNewOnesEndUnavailableWhileProcessedOnesFinish() throws {
        let h = try Harness()
        let first = h.start()
        let second = h.start()
        _ = try h.outbound()
        try h.receive(0, .goAway(lastStreamID: HTTP2StreamID(1), errorCode: .noError, opaqueData: nil))
        #expect(!h.health.isUsable)
        #expect(try answer(second)?.status == 14)
        #expect(try answer(first) == nil)
        let late = h.start()
        #expect(try answer(late)?.status == 14)
        try h.receive(1, h.headers([(":status", "200"), ("grpc-status", "0")], end: true))
        #expect(try answer(first)?.status == 0)
        // Nothing left open: the connection closes.
        #expect(!h.channel.isActive)
    }

    @Test func aClosedConnectionEndsOpenCallsNamingTheCause() throws {
        let h = try Harness()
        let call = h.start()
        _ = try h.outbound()
        h.channel.pipeline.fireErrorCaught(NIOSSLStandInError(description: "handshakeFailed(CERTIFICATE_VERIFY_FAILED)"))
        let a = try #require(try answer(call))
        #expect(a.status == 14)
        #expect(a.message.hasPrefix("TLS handshake with the upstream failed"))
        #expect(a.message.contains("CERTIFICATE_VERIFY_FAILED"))
    }

    @Test func anOversizedAnswerIsRefusedAndAResetStreamIsRetryable() throws {
        let h = try Harness()
        let big = h.start()
        let reset = h.start()
        _ = try h.outbound()
        try h.receive(1, h.headers([(":status", "200")]))
        try h.receive(1, h.message([UInt8](repeating: 1, count: GRPCClientConnectionHandler.maxResponseBytes)))
        try h.receive(1, h.headers([("grpc-status", "0")], end: true))
        #expect(try answer(big)?.status == 8)
        try h.receive(3, .rstStream(.refusedStream))
        #expect(try answer(reset)?.status == 14)
    }

    @Test func keepalivePingsAQuietConnectionWithOpenCallsAndClosesWhenUnanswered() throws {
        let h = try Harness(keepalive: .init(time: .seconds(10), timeout: .seconds(3), permitWithoutStream: false))
        h.channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(try h.outbound().isEmpty, "no ping without calls unless permit_without_stream")
        let call = h.start(timeout: .seconds(60))
        _ = try h.outbound()
        h.channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        let ping = try h.outbound()
        guard case .ping(let data, ack: false)? = ping.first?.payload else {
            Issue.record("no ping: \(ping)")
            return
        }
        try h.receive(0, .ping(data, ack: true))
        // A connection that is reading is not pinged.
        h.channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        try h.receive(0, .windowUpdate(windowSizeIncrement: 1))
        h.channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(try h.outbound().isEmpty, "pinged a connection that read a frame 5 s ago")
        // Quiet for keepalive.time: pinged; unanswered for keepalive.timeout: closed, the call fails.
        h.channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        _ = try h.outbound()
        h.channel.embeddedEventLoop.advanceTime(by: .seconds(3))
        let a = try #require(try answer(call))
        #expect(a.status == 14)
        #expect(a.message.contains("keepalive ping"))
    }
}

struct NIOSSLStandInError: Error, CustomStringConvertible {
    var description: String
}

@Suite("HTTP2AnswerCheck")
struct HTTP2AnswerCheckTests {
    func problem(_ bytes: [UInt8]) -> String? { HTTP2AnswerCheck.problem(with: ByteBuffer(bytes: bytes)) }

    @Test func aSettingsFrameIsHTTP2AndAnythingElseIsNamed() throws {
        #expect(problem([0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100]) == nil)
        #expect(problem([0, 0]) == nil, "too short to tell")
        #expect(problem(Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".utf8)) == "\"HTTP/1.1 400 Bad Request\" (HTTP/1.x)")
        let html = try #require(problem(Array("<!DOCTYPE HTML>\n<html>".utf8)))
        #expect(html.hasPrefix("bytes that are not an HTTP/2 SETTINGS frame (\"<!DOCTYPE HTML>?\")"))
        #expect(problem([0x16, 0x03, 0x03, 0x00, 0x2a]) != nil, "a TLS record (the upstream wants TLS)")
    }

    @Test func theCauseIsRecordedForTheConnectionAndTheBytesPassOn() throws {
        let health = GRPCConnectionHealth()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(HTTP2AnswerCheck(health: health, target: "gw:4317"))
        try channel.writeInbound(ByteBuffer(string: "HTTP/1.0 505 HTTP Version Not Supported\r\n"))
        #expect(
            health.failureReason
                == "gw:4317 does not speak HTTP/2 (is this a gRPC endpoint?): it answered \"HTTP/1.0 505 HTTP Version Not Supported\" (HTTP/1.x)")
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "HTTP/1.0 505 HTTP Version Not Supported\r\n"))
        // Only the first read is checked.
        try channel.writeInbound(ByteBuffer(string: "<html>"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "<html>"))
    }
}
