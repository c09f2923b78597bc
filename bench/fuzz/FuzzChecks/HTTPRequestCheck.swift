import CollectorCore
import NIOCore
import NIOEmbedded
import NIOServing
import OTLP

@testable import OTLPReceivers

extension FuzzChecks {
    /// Bytes from a client into one OTLP/HTTP connection, exactly as the server builds it after TLS (protocol
    /// sniffer, HTTP/1.1 or HTTP/2, the OTLP handler): nothing may crash, whatever the bytes; the first byte
    /// chooses whether the input starts with the HTTP/2 preface (so both protocols are reached).
    public static func httpRequests(_ input: [UInt8]) {
        guard let first = input.first else { return }
        var bytes = Array(input.dropFirst())
        if first & 1 == 1 { bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + bytes }
        let sink = DropEverything()
        let service = OTLPHTTPService(
            handler: OTLPExportHandler(next: SignalConsumers(traces: sink, metrics: sink, logs: sink)),
            maxBodySize: 64 << 10)
        let channel = EmbeddedChannel()
        do {
            try OTLPHTTPServer.configure(
                channel, service: service, budget: InFlightBudget(limit: 1 << 20),
                options: ListenerOptions(maxConnections: 1))
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 4318)).wait()
            // Fed in a few pieces, as a network would.
            var offset = 0
            var piece = 1 + Int(first >> 1) % 64
            while offset < bytes.count, channel.isActive {
                let end = min(bytes.count, offset + piece)
                try channel.writeInbound(channel.allocator.buffer(bytes: bytes[offset..<end]))
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
