import CollectorCore
import NIOCore
import NIOServing

@testable import OTLPReceivers

extension FuzzChecks {
    /// Bytes from a client after the HTTP/2 preface into one OTLP/gRPC connection, exactly as the server builds it
    /// after TLS (``GRPCHTTP2Handler``, then ``GRPCConnectionHandler``, calls and all): nothing may crash, whatever
    /// the frames. The first byte sets the size of the pieces the rest arrives in.
    public static func grpcRequests(_ input: [UInt8]) {
        guard let first = input.first else { return }
        let bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + input.dropFirst()
        let sink = DropEverything()
        let services = OTLPGRPCServices(handler: OTLPExportHandler(next: SignalConsumers(traces: sink, metrics: sink, logs: sink)), limit: 64 << 10)
        EmbeddedConnection.deliver(bytes, firstPiece: 1 + Int(first) % 64, port: 4317) { channel in
            try OTLPGRPCServer.configure(
                channel, services: services, budget: InFlightBudget(limit: 1 << 20), maxConcurrentStreams: 16, keepalive: GRPCKeepalive())
        }
    }
}
