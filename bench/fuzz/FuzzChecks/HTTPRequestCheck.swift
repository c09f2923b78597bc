import CollectorCore
import NIOCore
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
        EmbeddedConnection.deliver(bytes, firstPiece: 1 + Int(first >> 1) % 64, port: 4318) { channel in
            try OTLPHTTPServer.configure(
                channel, service: service, budget: InFlightBudget(limit: 1 << 20), options: ListenerOptions(maxConnections: 1))
        }
    }
}
