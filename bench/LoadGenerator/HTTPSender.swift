import NIOCore
import NIOHTTP1
import NIOPosix
import OTLP

/// The response to one OTLP/HTTP request.
struct HTTPExportResult: Sendable {
    var status: Int
    var keepAlive: Bool
    var contentType: String
    var body: ByteBuffer
}

/// What the worker writes into the pipeline: the body and the promise for the response.
struct HTTPExportExchange: Sendable {
    var body: ByteBuffer
    var promise: EventLoopPromise<HTTPExportResult>
}

struct HTTPExchangeError: Error, CustomStringConvertible {
    var description: String
}

/// Turns an `HTTPExportExchange` into `POST /v1/traces` and completes its promise with the response. One
/// request at a time per connection (HTTP/1.1 keep-alive, no pipelining); a per-request timeout closes the
/// connection.
final class OTLPHTTPClientHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPExportExchange
    typealias OutboundOut = HTTPClientRequestPart

    private let hostHeader: String
    private let path: String
    private let timeout: TimeAmount
    private var pending: EventLoopPromise<HTTPExportResult>?
    private var head: HTTPResponseHead?
    private var body: ByteBuffer?
    private var timeoutTask: Scheduled<Void>?

    init(hostHeader: String, path: String, timeout: TimeAmount) {
        self.hostHeader = hostHeader
        self.path = path
        self.timeout = timeout
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        guard pending == nil else {
            exchange.promise.fail(HTTPExchangeError(description: "http: request already in flight"))
            promise?.fail(HTTPExchangeError(description: "busy"))
            return
        }
        guard context.channel.isActive else {
            exchange.promise.fail(HTTPExchangeError(description: "http: connection closed"))
            promise?.fail(HTTPExchangeError(description: "closed"))
            return
        }
        pending = exchange.promise
        head = nil
        body = nil
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: hostHeader)
        headers.add(name: "User-Agent", value: "otelsink-loadgen")
        headers.add(name: "Content-Type", value: "application/x-protobuf")
        headers.add(name: "Content-Length", value: String(exchange.body.readableBytes))
        let requestHead = HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers)
        context.write(wrapOutboundOut(.head(requestHead)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(exchange.body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)

        let loop = context.eventLoop.assumeIsolated()
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let timeout = self.timeout
        timeoutTask = loop.scheduleTask(in: timeout) { [self] in
            self.failPending(HTTPExchangeError(description: "http: timed out after \(timeout.nanoseconds / 1_000_000) ms"))
            bound.value.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body(var chunk):
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            timeoutTask?.cancel()
            timeoutTask = nil
            guard let promise = pending, let head else { return }
            pending = nil
            let result = HTTPExportResult(
                status: Int(head.status.code),
                keepAlive: head.isKeepAlive,
                contentType: head.headers.first(name: "content-type") ?? "",
                body: body ?? ByteBuffer()
            )
            self.head = nil
            self.body = nil
            promise.succeed(result)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failPending(HTTPExchangeError(description: "http: \(error)"))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failPending(HTTPExchangeError(description: "http: connection closed by server"))
        context.fireChannelInactive()
    }

    private func failPending(_ error: HTTPExchangeError) {
        timeoutTask?.cancel()
        timeoutTask = nil
        if let promise = pending {
            pending = nil
            promise.fail(error)
        }
    }
}

/// One HTTP worker: its own keep-alive connection, (re)connected lazily.
final class HTTPSender: RequestSender {
    let endpoint: Endpoint
    let path: String
    let timeout: TimeAmount
    let group: any EventLoopGroup
    private var channel: (any Channel)?

    init(endpoint: Endpoint, path: String, timeout: Duration, group: any EventLoopGroup) {
        self.endpoint = endpoint
        self.path = path
        self.timeout = .nanoseconds(timeout.nanosecondsClamped)
        self.group = group
    }

    static func bootstrap(group: any EventLoopGroup, connectTimeout: TimeAmount) -> ClientBootstrap {
        ClientBootstrap(group: group)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(connectTimeout)
    }

    private func connect() async throws -> any Channel {
        let hostHeader = endpoint.description
        let path = self.path
        let timeout = self.timeout
        return try await Self.bootstrap(group: group, connectTimeout: min(timeout, .seconds(5)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(
                        OTLPHTTPClientHandler(hostHeader: hostHeader, path: path, timeout: timeout)
                    )
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .get()
    }

    func send(_ body: [UInt8]) async -> Outcome {
        let channel: any Channel
        if let existing = self.channel, existing.isActive {
            channel = existing
        } else {
            do {
                channel = try await connect()
                self.channel = channel
            } catch {
                self.channel = nil
                return .failed("http connect \(endpoint): \(error)", connectionDown: true)
            }
        }
        let promise = channel.eventLoop.makePromise(of: HTTPExportResult.self)
        channel.writeAndFlush(HTTPExportExchange(body: ByteBuffer(bytes: body), promise: promise), promise: nil)
        let result: HTTPExportResult
        do {
            result = try await promise.futureResult.get()
        } catch {
            channel.close(promise: nil)
            self.channel = nil
            return .failed("\(error)", connectionDown: false)
        }
        if !result.keepAlive {
            channel.close(promise: nil)
            self.channel = nil
        }
        switch result.status {
        case 200..<300:
            var rejected: Int64 = 0
            if result.contentType.lowercased().contains("protobuf"), result.body.readableBytes > 0,
                let response = try? TraceExportResponse(serializedBytes: Array(result.body.readableBytesView)),
                response.hasPartialSuccess
            {
                rejected = response.partialSuccess.rejectedSpans
            }
            return .ok(rejectedSpans: rejected)
        case 429, 503:
            return .refused("http \(result.status)")
        default:
            return .failed("http \(result.status)", connectionDown: false)
        }
    }

    func close() async {
        if let channel {
            try? await channel.close()
            self.channel = nil
        }
    }
}

/// A plain TCP connect to check that something listens before starting the run.
func probeTCP(_ endpoint: Endpoint, group: any EventLoopGroup) async throws {
    let channel = try await HTTPSender.bootstrap(group: group, connectTimeout: .seconds(3))
        .connect(host: endpoint.host, port: endpoint.port)
        .get()
    try? await channel.close()
}
