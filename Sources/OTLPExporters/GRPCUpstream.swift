import CollectorCore
import OTLP

/// One upstream over OTLP/gRPC: an ``OTLPGRPCClient`` (one HTTP/2 connection, reconnected when needed, many
/// concurrent calls), a unary `Export` per request with the request's bytes as the message.
final class GRPCUpstream: UpstreamSender {
    let client: OTLPGRPCClient
    let config: OTLPGRPCExporterConfig
    let credentials: UpstreamCredentials?

    static let paths: [Signal: String] = [
        .traces: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        .metrics: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        .logs: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    ]

    init(config: OTLPGRPCExporterConfig, credentials: UpstreamCredentials? = nil) throws {
        self.config = config
        self.credentials = credentials
        let hostText = config.host.contains(":") ? "[\(config.host)]" : config.host
        let authority = config.tls.insecure ? "\(hostText):\(config.port)" : (config.tls.serverNameOverride ?? "\(hostText):\(config.port)")
        client = try OTLPGRPCClient(
            settings: .init(
                host: config.host, port: config.port, authority: authority,
                tls: config.tls.insecure ? nil : config.tls,
                timeout: config.timeout,
                keepalive: .init(
                    time: .nanoseconds(Self.nanos(config.keepaliveTime)), timeout: .nanoseconds(Self.nanos(config.keepaliveTimeout)),
                    permitWithoutStream: config.permitWithoutStream),
                gzip: config.compression == .gzip,
                headers: config.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
    }

    static func nanos(_ d: Duration) -> Int64 {
        d.components.seconds &* 1_000_000_000 &+ d.components.attoseconds / 1_000_000_000
    }

    func send(_ request: OutgoingRequest) async -> UpstreamVerdict {
        guard let path = Self.paths[request.signal] else { return .permanent(reason: "no gRPC method for \(request.signal)") }
        var extra: [(name: String, value: String)] = []
        if let credentials {
            switch credentials.headers() {
            case .success(let headers): extra = headers
            case .failure(let e): return e.verdict
            }
        }
        let answer = await client.call(path: path, message: request.bytes, extraHeaders: extra)
        guard answer.status == 0 else {
            return UpstreamAnswer.grpc(code: answer.status, message: "\(answer.message) (upstream \(client.target))", retryInfo: answer.retryDelay)
        }
        let (rejected, message): (Int64, String)
        switch request.signal {
        case .traces:
            let r = (try? ExportTraceResponse(serializedBytes: answer.body)) ?? ExportTraceResponse()
            (rejected, message) = (r.hasPartialSuccess ? r.partialSuccess.rejectedSpans : 0, r.partialSuccess.errorMessage)
        case .metrics:
            let r = (try? ExportMetricsResponse(serializedBytes: answer.body)) ?? ExportMetricsResponse()
            (rejected, message) = (r.hasPartialSuccess ? r.partialSuccess.rejectedDataPoints : 0, r.partialSuccess.errorMessage)
        case .logs:
            let r = (try? ExportLogsResponse(serializedBytes: answer.body)) ?? ExportLogsResponse()
            (rejected, message) = (r.hasPartialSuccess ? r.partialSuccess.rejectedLogRecords : 0, r.partialSuccess.errorMessage)
        }
        return .delivered(rejected: rejected, message: message)
    }
}
