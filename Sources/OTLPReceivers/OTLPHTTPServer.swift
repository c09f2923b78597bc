import CollectorCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOServing
import Synchronization

/// The OTLP/HTTP listener: HTTP/1.1 and HTTP/2 on one port, in cleartext (HTTP/2 with prior knowledge) or over
/// TLS (ALPN offers `h2` and `http/1.1`); either way the first bytes after the handshake tell which.
///
/// Built directly on SwiftNIO: Hummingbird serves HTTP/1.1 or plaintext HTTP/2 on a port, not both, and the
/// receiver needs byte-level control of body limits (see docs/architecture.md).
enum OTLPHTTPServer {
    static func bind(
        endpoint: ListenEndpoint, service: OTLPHTTPService, budget: InFlightBudget, options: ListenerOptions, logger: Logger
    ) async throws -> TCPServer {
        try await TCPServer.bind(host: endpoint.host, port: endpoint.port, drainGrace: .seconds(10), options: options, logger: logger) { channel in
            try configure(channel, service: service, budget: budget, options: options)
        }
    }

    /// The handlers of one connection after the deadline and TLS handlers (the fuzz target feeds bytes to these).
    static func configure(_ channel: any Channel, service: OTLPHTTPService, budget: InFlightBudget, options: ListenerOptions) throws {
        // A request that stalls (no bytes for the idle timeout) is closed; between requests the connection's
        // deadlines are ConnectionDeadlineHandler's.
        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: options.idleTimeout))
        try channel.pipeline.syncOperations.addHandler(IdleConnectionCloser())
        let sniffer = HTTPProtocolSniffer(
            http1: { channel in
                try channel.pipeline.syncOperations.configureBoundedHTTPServerPipeline(writeTimeout: options.writeTimeout)
                try channel.pipeline.syncOperations.addHandler(OTLPHTTPHandler(service: service, budget: budget))
            },
            http2: { channel in
                try channel.pipeline.syncOperations.addHandler(HTTP2GoAwayWatcher())
                _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                    mode: .server,
                    connectionConfiguration: http2Connection,
                    streamConfiguration: http2Stream
                ) { stream in
                    stream.eventLoop.makeCompletedFuture {
                        // Each stream is a request: the connection is not idle while one is open.
                        let parent = stream.parent
                        parent?.pipeline.triggerUserOutboundEvent(ConnectionActivity.requestStarted, promise: nil)
                        stream.closeFuture.whenComplete { _ in
                            parent?.pipeline.triggerUserOutboundEvent(ConnectionActivity.requestFinished, promise: nil)
                        }
                        try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                        try stream.pipeline.syncOperations.addHandler(OTLPHTTPHandler(service: service, budget: budget))
                    }
                }
                channel.pipeline.triggerUserOutboundEvent(ConnectionActivity.sessionEstablished, promise: nil)
            })
        try channel.pipeline.syncOperations.addHandler(sniffer)
    }
}

/// Inbound flow-control windows for HTTP/2 (the connection's and each stream's): 4 MiB, as the gRPC server's.
/// HTTP/2's default of 64 KiB lets a client have only that much of a body in flight per round trip, so a large body
/// took 3–5× longer than over HTTP/1.1 (docs/performance.md). Memory stays bounded by the body limit and the
/// in-flight budget: `OTLPHTTPHandler` takes every frame as it arrives and counts its bytes.
let http2WindowSize = 4 << 20

private var http2Connection: NIOHTTP2Handler.ConnectionConfiguration {
    var configuration = NIOHTTP2Handler.ConnectionConfiguration()
    configuration.initialSettings = nioDefaultSettings + [HTTP2Setting(parameter: .initialWindowSize, value: http2WindowSize)]
    configuration.targetWindowSize = http2WindowSize
    return configuration
}

private var http2Stream: NIOHTTP2Handler.StreamConfiguration {
    var configuration = NIOHTTP2Handler.StreamConfiguration()
    configuration.targetWindowSize = http2WindowSize
    return configuration
}

/// Closes the connection when `IdleStateHandler` reports no reads for its timeout.
final class IdleConnectionCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
