import CollectorCore
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import NIOSSL
import OTLP

/// Request bytes sent as they are: a request received in wire form goes upstream without being re-encoded.
struct RawRequestSerializer: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
}

/// One upstream over OTLP/gRPC: one grpc-swift-2 client (one HTTP/2 connection, reconnected with backoff, many
/// concurrent streams), a unary `Export` per request.
final class GRPCUpstream: UpstreamSender {
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    let config: OTLPGRPCExporterConfig
    private let options: CallOptions
    private let metadata: Metadata

    init(config: OTLPGRPCExporterConfig) throws {
        self.config = config
        let security: HTTP2ClientTransport.Posix.TransportSecurity
        if config.tls.insecure {
            security = .plaintext
        } else {
            security = .tls { tls in
                if let ca = config.tls.caFile { tls.trustRoots = .certificates([.file(path: ca, format: .pem)]) }
                if let cert = config.tls.certFile, let key = config.tls.keyFile {
                    tls.certificateChain = [.file(path: cert, format: .pem)]
                    tls.privateKey = .file(path: key, format: .pem)
                }
                if config.tls.insecureSkipVerify { tls.serverCertificateVerification = .noVerification }
            }
        }
        // An IP address is a target of its own: as a DNS name it would be sent as the TLS server name, which TLS forbids.
        let target: any ResolvableTarget
        if ListenEndpoint.isIPLiteral(config.host) {
            target = config.host.contains(":") ? .ipv6(address: config.host, port: config.port) : .ipv4(address: config.host, port: config.port)
        } else {
            target = .dns(host: config.host, port: config.port)
        }
        let transport = try HTTP2ClientTransport.Posix(
            target: target,
            transportSecurity: security,
            config: .defaults { c in
                c.connection.keepalive = .init(time: config.keepaliveTime, timeout: config.keepaliveTimeout,
                                               allowWithoutCalls: config.permitWithoutStream)
                c.compression.algorithm = config.compression == .gzip ? .gzip : .none
                // The name checked against the certificate and sent as SNI is the authority's host.
                if let name = config.tls.serverNameOverride, !config.tls.insecure { c.http2.authority = name }
                c.backoff = .init(initial: .seconds(1), max: .seconds(30), multiplier: 1.6, jitter: 0.2)
            })
        client = GRPCClient(transport: transport)
        var options = CallOptions.defaults
        options.timeout = config.timeout
        options.waitForReady = false
        options.compression = config.compression == .gzip ? .gzip : CompressionAlgorithm.none
        self.options = options
        var metadata = Metadata()
        for (k, v) in config.headers.sorted(by: { $0.key < $1.key }) { metadata.addString(v, forKey: k) }
        self.metadata = metadata
    }

    func send(_ request: OutgoingRequest) async -> UpstreamVerdict {
        do {
            switch request.signal {
            case .traces:
                return try await call(request, Opentelemetry_Proto_Collector_Trace_V1_TraceService.Method.Export.descriptor,
                                      ProtobufDeserializer<ExportTraceResponse>()) { r in
                    (r.hasPartialSuccess ? r.partialSuccess.rejectedSpans : 0, r.partialSuccess.errorMessage)
                }
            case .metrics:
                return try await call(request, Opentelemetry_Proto_Collector_Metrics_V1_MetricsService.Method.Export.descriptor,
                                      ProtobufDeserializer<ExportMetricsResponse>()) { r in
                    (r.hasPartialSuccess ? r.partialSuccess.rejectedDataPoints : 0, r.partialSuccess.errorMessage)
                }
            case .logs:
                return try await call(request, Opentelemetry_Proto_Collector_Logs_V1_LogsService.Method.Export.descriptor,
                                      ProtobufDeserializer<ExportLogsResponse>()) { r in
                    (r.hasPartialSuccess ? r.partialSuccess.rejectedLogRecords : 0, r.partialSuccess.errorMessage)
                }
            }
        } catch let error as RPCError {
            let retryInfo = (try? error.unpackGoogleRPCStatus())?.details.compactMap(\.retryInfo).first?.delay
            return UpstreamAnswer.grpc(code: error.code.rawValue, message: "\(error.message) (upstream \(config.host):\(config.port))",
                                       retryInfo: retryInfo)
        } catch {
            return .retryable(after: nil, reason: "upstream \(config.host):\(config.port): \(error)")
        }
    }

    private func call<Response: Sendable>(
        _ request: OutgoingRequest, _ descriptor: MethodDescriptor, _ deserializer: ProtobufDeserializer<Response>,
        partial: @escaping @Sendable (Response) -> (Int64, String)
    ) async throws -> UpstreamVerdict {
        try await client.unary(
            request: ClientRequest(message: request.bytes, metadata: metadata), descriptor: descriptor,
            serializer: RawRequestSerializer(), deserializer: deserializer, options: options
        ) { response in
            let (rejected, message) = partial(try response.message)
            return .delivered(rejected: rejected, message: message)
        }
    }
}
