import CollectorCore
import Foundation
import NIOCore
import NIOEmbedded
import NIOServing
import OTLP
import Synchronization
import Testing

@testable import OTLPReceivers

/// Counts what reaches the pipeline.
private final class CountingSink: TracesConsumer, MetricsConsumer, LogsConsumer, Sendable {
    let requests = Atomic<Int>(0)
    func consume(_ t: ExportTraceRequest) async throws { requests.add(1, ordering: .relaxed) }
    func consume(_ m: ExportMetricsRequest) async throws { requests.add(1, ordering: .relaxed) }
    func consume(_ l: ExportLogsRequest) async throws { requests.add(1, ordering: .relaxed) }
}

/// One OTLP/HTTP connection as the server builds it after TLS (protocol sniffer, HTTP/1.1 codec with its bounds, the
/// OTLP handler), on an `EmbeddedChannel`: bytes in, the answer's bytes out, no sockets and no timing.
private final class Connection {
    let channel = EmbeddedChannel()
    let sink = CountingSink()
    let budget: InFlightBudget
    /// Errors that reached the end of the pipeline (the HTTP decoder reports a body cut short when the server
    /// closes a connection on purpose).
    private(set) var errors: [String] = []

    init(maxBodySize: Int = 1024, budget: Int = 1 << 20) throws {
        self.budget = InFlightBudget(limit: budget)
        let service = OTLPHTTPService(
            handler: OTLPExportHandler(next: SignalConsumers(traces: sink, metrics: sink, logs: sink)),
            maxBodySize: maxBodySize)
        try OTLPHTTPServer.configure(channel, service: service, budget: self.budget, options: ListenerOptions(maxConnections: 1))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 4318)).wait()
    }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        do {
            try channel.writeInbound(channel.allocator.buffer(bytes: bytes))
        } catch {
            errors.append("\(error)")
        }
        channel.embeddedEventLoop.run()
    }

    /// Everything written to the client so far, as text.
    func answer() throws -> String {
        var out = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out += String(buffer: buffer) }
        return out
    }

    /// The answer once the request's task has run (it runs on the connection's loop: turned until something is
    /// written, at most 5 s).
    func awaitAnswer() throws -> String {
        let deadline = ContinuousClock.now + .seconds(5)
        var out = ""
        while out.isEmpty && ContinuousClock.now < deadline {
            channel.embeddedEventLoop.run()
            out = try answer()
            if out.isEmpty { Thread.sleep(forTimeInterval: 0.005) }
        }
        return out
    }
}

private func request(_ path: String = "/v1/traces", length: Int, type: String = "application/x-protobuf", extra: String = "") -> String {
    "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Type: \(type)\r\nContent-Length: \(length)\r\n\(extra)\r\n"
}

@Suite struct OTLPHTTPConnectionTests {
    @Test func aBodyAnnouncedOverTheLimitIsRefusedWith413BeforeItIsRead() throws {
        let c = try Connection(maxBodySize: 1024)
        c.send(request(length: 5000))
        let answer = try c.answer()
        #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer)")
        #expect(answer.contains("Connection: close") && answer.contains("1024"))
        // The rest of the body is dropped, not buffered or answered again.
        c.send(Array(repeating: 0x41, count: 5000))
        #expect(try c.answer().isEmpty)
        #expect(c.sink.requests.load(ordering: .relaxed) == 0)
    }

    @Test func aChunkedBodyThatGrowsPastTheLimitIsRefusedAndItsBudgetReturned() throws {
        let c = try Connection(maxBodySize: 1024, budget: 1 << 20)
        c.send("POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nTransfer-Encoding: chunked\r\n\r\n")
        c.send("200\r\n" + String(repeating: "a", count: 512) + "\r\n")
        #expect(try c.answer().isEmpty)
        c.send("400\r\n" + String(repeating: "a", count: 1024) + "\r\n")
        #expect(try c.answer().hasPrefix("HTTP/1.1 413"))
        // Every byte reserved for the refused body is back: a request of the whole budget fits again.
        #expect(c.budget.reserve(1 << 20))
    }

    @Test func expectContinueGetsA100BeforeTheBodyAndTheAnswerAfterIt() throws {
        let c = try Connection()
        var traces = ExportTraceRequest()
        traces.resourceSpans = [
            ResourceSpans.with {
                $0.scopeSpans = [
                    ScopeSpans.with {
                        $0.spans = [
                            Span.with {
                                $0.traceID = Data(repeating: 1, count: 16)
                                $0.spanID = Data(repeating: 2, count: 8)
                                $0.name = "op"
                            }
                        ]
                    }
                ]
            }
        ]
        let body = try traces.serializedBytes() as [UInt8]
        c.send(request(length: body.count, extra: "Expect: 100-continue\r\n"))
        #expect(try c.answer().hasPrefix("HTTP/1.1 100 Continue\r\n"))
        c.send(body)
        let answer = try c.awaitAnswer()
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        #expect(c.sink.requests.load(ordering: .relaxed) == 1)
    }

    @Test func expectContinueOnARequestThatWillFailIsAnsweredAtOnceWithout100() throws {
        let c = try Connection()
        c.send(request(length: 10, type: "text/plain", extra: "Expect: 100-continue\r\n"))
        let answer = try c.answer()
        #expect(answer.hasPrefix("HTTP/1.1 415"), "\(answer)")
        #expect(!answer.contains("100 Continue") && answer.contains("Connection: close"))
    }

    @Test func aWrongContentTypeIsAnsweredAfterItsBodyOnAConnectionThatStaysOpen() throws {
        let c = try Connection()
        c.send(request(length: 4, type: "text/plain"))
        #expect(try c.answer().isEmpty)  // the body is read (and dropped) first
        c.send("abcd")
        let answer = try c.answer()
        #expect(answer.hasPrefix("HTTP/1.1 415") && answer.contains("Connection: keep-alive"), "\(answer)")
        #expect(c.channel.isActive)
        // The next request on the same connection is served.
        c.send(request("/v1/nothing", length: 0))
        #expect(try c.answer().hasPrefix("HTTP/1.1 404"))
    }

    @Test func whenTheBudgetIsHeldElsewhereABodyIsRefusedWith503AndRetryAfter() throws {
        let c = try Connection(maxBodySize: 4096, budget: 100)
        #expect(c.budget.reserve(100))  // another request holds the whole budget
        c.send(request(length: 50))
        c.send(String(repeating: "a", count: 50))
        let answer = try c.answer()
        #expect(answer.hasPrefix("HTTP/1.1 503") && answer.contains("Retry-After: 1"), "\(answer)")
        c.budget.release(100)
        #expect(c.budget.reserve(100))  // nothing of the refused request stayed reserved
    }

    @Test func aConnectionClosedMidBodyReturnsWhatItsBodyReserved() throws {
        let c = try Connection(maxBodySize: 4096, budget: 1000)
        c.send(request(length: 800))
        c.send(String(repeating: "a", count: 600))
        #expect(!c.budget.reserve(1000))  // 600 bytes are held
        c.channel.pipeline.fireChannelInactive()
        c.channel.embeddedEventLoop.run()
        #expect(c.budget.reserve(1000))
    }
}

/// The protocol sniffer: the first bytes choose HTTP/1.1 or HTTP/2, and every byte read reaches the chosen pipeline.
extension OTLPHTTPConnectionTests {
    /// A big-endian unsigned number.
    private static func number(_ bytes: ArraySlice<UInt8>) -> Int {
        bytes.reduce(0) { $0 << 8 | Int($1) }
    }

    /// The HTTP/2 frames in `bytes`: type, stream and payload of each.
    private static func frames(_ bytes: [UInt8]) -> [(type: UInt8, stream: Int, payload: [UInt8])] {
        var out: [(UInt8, Int, [UInt8])] = []
        var i = 0
        while i + 9 <= bytes.count {
            let length = number(bytes[i..<(i + 3)])
            let stream = number(bytes[(i + 5)..<(i + 9)]) & 0x7fff_ffff
            guard i + 9 + length <= bytes.count else { break }
            out.append((bytes[i + 3], stream, Array(bytes[(i + 9)..<(i + 9 + length)])))
            i += 9 + length
        }
        return out
    }

    @Test func anHTTP2ConnectionOffersStreamWindowsOf4MiBAndOpensTheConnectionWindowAsDataArrives() throws {
        let c = try Connection(maxBodySize: 1 << 20)
        let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
        let emptySettings: [UInt8] = [0, 0, 0, 0x4, 0, 0, 0, 0, 0]
        c.send(preface + emptySettings)
        var out: [UInt8] = []
        while let buffer = try c.channel.readOutbound(as: ByteBuffer.self) { out += Array(buffer: buffer) }
        let settings = Self.frames(out).first { $0.type == 0x4 && $0.stream == 0 }
        let payload = settings?.payload ?? []
        var entries: [(id: Int, value: Int)] = []
        for k in stride(from: 0, to: payload.count - 5, by: 6) {
            entries.append((id: Self.number(payload[k..<(k + 2)]), value: Self.number(payload[(k + 2)..<(k + 6)])))
        }
        // SETTINGS_INITIAL_WINDOW_SIZE (0x4): what a client may send on a stream before it hears back.
        #expect(http2WindowSize == 4 << 20)
        #expect(entries.contains { $0.id == 0x4 && $0.value == http2WindowSize }, "\(entries)")
        #expect(entries.contains { $0.id == 0x3 && $0.value == 100 }, "max concurrent streams kept: \(entries)")

        // Headers of a POST (HPACK, literal names without indexing), then 16 KiB of body on stream 1: the connection
        // window (65,535 at first, fixed by the protocol) is opened up to 4 MiB.
        var block: [UInt8] = []
        for (name, value) in [
            (":method", "POST"), (":scheme", "http"), (":path", "/v1/traces"), (":authority", "x"), ("content-type", "application/x-protobuf"),
        ] {
            block += [0x00, UInt8(name.utf8.count)]
            block += Array(name.utf8)
            block += [UInt8(value.utf8.count)]
            block += Array(value.utf8)
        }
        let headers: [UInt8] = [0, 0, UInt8(block.count), 0x1, 0x4, 0, 0, 0, 1] + block
        let data: [UInt8] = [0, 0x40, 0, 0x0, 0, 0, 0, 0, 1] + Array(repeating: 0, count: 16384)
        c.send(headers + data)
        out = []
        while let buffer = try c.channel.readOutbound(as: ByteBuffer.self) { out += Array(buffer: buffer) }
        let updates = Self.frames(out).filter { $0.type == 0x8 && $0.stream == 0 }.map { Self.number($0.payload[0..<4]) & 0x7fff_ffff }
        #expect(updates.reduce(0, +) + 65_535 - 16_384 == http2WindowSize, "\(updates)")
    }
}

@Suite struct HTTPProtocolSnifferTests {
    /// Collects what the sniffer passes on.
    private final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        var bytes: [UInt8] = []
        func channelRead(context: ChannelHandlerContext, data: NIOAny) { bytes += Array(buffer: unwrapInboundIn(data)) }
    }

    private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    /// Feeds `input` in pieces of `piece` bytes; returns which pipeline was chosen, what it received, and whether the
    /// sniffer left the pipeline.
    private static func sniff(_ input: [UInt8], piece: Int, failing: Bool = false) throws -> (
        choice: String?, bytes: [UInt8], removed: Bool, active: Bool
    ) {
        let channel = EmbeddedChannel()
        let collector = Collector()
        var choice: String?
        let sniffer = HTTPProtocolSniffer(
            http1: { ch in
                choice = "http/1.1"
                if failing { throw ChannelError.ioOnClosedChannel }
                try ch.pipeline.syncOperations.addHandler(collector)
            },
            http2: { ch in
                choice = "h2"
                try ch.pipeline.syncOperations.addHandler(collector)
            })
        try channel.pipeline.syncOperations.addHandler(sniffer)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        var offset = 0
        while offset < input.count, channel.isActive {
            let end = min(input.count, offset + piece)
            try channel.writeInbound(channel.allocator.buffer(bytes: input[offset..<end]))
            offset = end
        }
        let removed = (try? channel.pipeline.syncOperations.handler(type: HTTPProtocolSniffer.self)) == nil
        return (choice, collector.bytes, removed, channel.isActive)
    }

    @Test func thePrefaceInAnyPiecesChoosesHTTP2AndEveryByteIsReplayed() throws {
        let input = Self.preface + Array("frames".utf8)
        for piece in [1, 3, 24, 100] {
            let r = try Self.sniff(input, piece: piece)
            #expect(r.choice == "h2" && r.bytes == input && r.removed, "piece \(piece)")
        }
    }

    @Test func anHTTP1RequestChoosesHTTP1AsSoonAsABytesDiffers() throws {
        let input = Array("POST /v1/traces HTTP/1.1\r\n\r\n".utf8)
        let r = try Self.sniff(input, piece: 1)
        #expect(r.choice == "http/1.1" && r.bytes == input && r.removed)
        // A start that looks like the preface but is not: HTTP/1.1 with every byte.
        let almost = Array("PRI * HTTP/1.1\r\n\r\n".utf8)
        let s = try Self.sniff(almost, piece: 2)
        #expect(s.choice == "http/1.1" && s.bytes == almost)
    }

    @Test func aPartialPrefaceWaitsForMoreBytes() throws {
        let r = try Self.sniff(Array(Self.preface.prefix(10)), piece: 4)
        #expect(r.choice == nil && r.bytes.isEmpty && !r.removed)
    }

    @Test func aPipelineThatCannotBeBuiltClosesTheConnection() throws {
        let r = try Self.sniff(Array("GET / HTTP/1.1\r\n\r\n".utf8), piece: 64, failing: true)
        #expect(r.choice == "http/1.1" && !r.active && r.bytes.isEmpty)
    }
}
