import CollectorCore
import NIOCore
import NIOServing
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import Synchronization

/// The OTLP/HTTP listener: HTTP/1.1 and cleartext HTTP/2 (prior knowledge) on one port.
///
/// Built directly on SwiftNIO: Hummingbird serves HTTP/1.1 or plaintext HTTP/2 on a port, not both, and the
/// receiver needs byte-level control of body limits (see docs/architecture.md).
enum OTLPHTTPServer {
    static func bind(endpoint: ListenEndpoint, service: OTLPHTTPService, budget: InFlightBudget) async throws -> TCPServer {
        try await TCPServer.bind(host: endpoint.host, port: endpoint.port, drainGrace: .seconds(10)) { channel in
            // A connection that sends nothing for a minute is closed (idle keep-alive or a stalled client).
            try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: .seconds(60)))
            try channel.pipeline.syncOperations.addHandler(IdleConnectionCloser())
            let sniffer = HTTPProtocolSniffer(
                http1: { channel in
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(OTLPHTTPHandler(service: service, budget: budget))
                },
                http2: { channel in
                    _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .server,
                        connectionConfiguration: .init(),
                        streamConfiguration: .init()
                    ) { stream in
                        stream.eventLoop.makeCompletedFuture {
                            try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                            try stream.pipeline.syncOperations.addHandler(OTLPHTTPHandler(service: service, budget: budget))
                        }
                    }
                })
            try channel.pipeline.syncOperations.addHandler(sniffer)
        }
    }
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
