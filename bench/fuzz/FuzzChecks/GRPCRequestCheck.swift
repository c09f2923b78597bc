import CollectorCore
import NIOCore
import NIOEmbedded
import NIOServing

@testable import OTLPReceivers

extension FuzzChecks {
    /// Bytes from a client after the HTTP/2 preface into one OTLP/gRPC connection, exactly as the server builds it
    /// after TLS (swift-nio-http2 with otelsink's settings, then the hand-written ``GRPCConnectionHandler``, calls
    /// and all): nothing may crash, whatever the frames. The first byte sets the size of the pieces the rest arrives
    /// in.
    public static func grpcRequests(_ input: [UInt8]) {
        guard let first = input.first else { return }
        let bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + input.dropFirst()
        let sink = DropEverything()
        let services = OTLPGRPCServices(handler: OTLPExportHandler(next: SignalConsumers(traces: sink, metrics: sink, logs: sink)), limit: 64 << 10)
        let channel = EmbeddedChannel()
        do {
            try OTLPGRPCServer.configure(
                channel, services: services, budget: InFlightBudget(limit: 1 << 20), maxConcurrentStreams: 16, keepalive: GRPCKeepalive())
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 4317)).wait()
            var offset = 0
            var piece = 1 + Int(first) % 64
            while offset < bytes.count, channel.isActive {
                let end = min(bytes.count, offset + piece)
                try channel.writeInbound(channel.allocator.buffer(bytes: bytes[offset..<end]))
                // The calls' tasks run on the embedded loop (their executor is the connection's loop).
                channel.embeddedEventLoop.run()
                offset = end
                piece = piece * 2
            }
        } catch {
            // Protocol errors close the channel or surface here: both are fine.
        }
        channel.embeddedEventLoop.run()
        _ = try? channel.finish(acceptAlreadyClosed: true)
    }
}
