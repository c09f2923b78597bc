import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import NIOCore
import OTLP
import OTLPGRPCStubs

/// An already-encoded `ExportTraceServiceRequest`. Sending the bytes directly (instead of a swift-protobuf
/// message) keeps encoding cost out of the generator: only IDs and timestamps change between requests.
struct PreEncodedExportRequest: Sendable {
    var bytes: [UInt8]
}

struct PreEncodedSerializer: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: PreEncodedExportRequest) throws -> Bytes {
        Bytes(message.bytes)
    }
}

typealias TraceExportResponse = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse

/// One gRPC worker: unary TraceService/Export calls on the shared client (one HTTP/2 connection, one stream
/// per in-flight call).
final class GRPCSender: RequestSender {
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    let options: CallOptions
    /// TraceService/Export, LogsService/Export or MetricsService/Export (their responses share one wire layout, read as
    /// the trace one).
    let method: MethodDescriptor

    init(client: GRPCClient<HTTP2ClientTransport.Posix>, timeout: Duration, signal: WorkloadSignal = .traces) {
        self.client = client
        switch signal {
        case .traces: method = Opentelemetry_Proto_Collector_Trace_V1_TraceService.Method.Export.descriptor
        case .logs: method = Opentelemetry_Proto_Collector_Logs_V1_LogsService.Method.Export.descriptor
        case .metrics: method = Opentelemetry_Proto_Collector_Metrics_V1_MetricsService.Method.Export.descriptor
        }
        var options = CallOptions.defaults
        options.timeout = timeout
        options.waitForReady = false  // fail fast when the server is not there
        self.options = options
    }

    private static func describe(_ e: RPCError) -> String {
        let msg = e.message.count > 100 ? String(e.message.prefix(100)) + "..." : e.message
        return "grpc \(e.code): \(msg)"
    }

    /// UNAVAILABLE / RESOURCE_EXHAUSTED sent by the server is a refusal (back-pressure). The transport also
    /// reports a dropped connection or stream as UNAVAILABLE; those are failures (a refused HTTP/2 stream,
    /// RST_STREAM REFUSED_STREAM, counts as a refusal).
    private static func classify(_ e: RPCError) -> Outcome {
        switch e.code {
        case .resourceExhausted:
            return .refused(describe(e))
        case .unavailable:
            let transportLevel =
                e.cause != nil
                || e.message.hasPrefix("The TCP connection was dropped")
                || (e.message.hasPrefix("Stream unexpectedly closed") && !e.message.contains("REFUSED_STREAM"))
            return transportLevel ? .failed(describe(e), connectionDown: false) : .refused(describe(e))
        default:
            return .failed(describe(e), connectionDown: false)
        }
    }

    func send(_ body: [UInt8]) async -> Outcome {
        do {
            return try await client.unary(
                request: ClientRequest(message: PreEncodedExportRequest(bytes: body)),
                descriptor: method,
                serializer: PreEncodedSerializer(),
                deserializer: ProtobufDeserializer<TraceExportResponse>(),
                options: options
            ) { response -> Outcome in
                // Reaching here means a stream was opened: a failure now is the server's (or the stream's) status.
                switch response.accepted {
                case .success(let contents):
                    switch contents.message {
                    case .success(let message):
                        return .ok(rejectedSpans: message.hasPartialSuccess ? message.partialSuccess.rejectedSpans : 0)
                    case .failure(let error):
                        return Self.classify(error)
                    }
                case .failure(let error):
                    return Self.classify(error)
                }
            }
        } catch let error as RPCError {
            // No stream could be opened (no connection): a failure, not a refusal by the server.
            return .failed(Self.describe(error), connectionDown: error.code == .unavailable)
        } catch {
            return .failed("grpc: \(error)", connectionDown: false)
        }
    }

    func close() async {}
}
