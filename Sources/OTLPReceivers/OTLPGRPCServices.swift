import CollectorCore
import OTLP
import SwiftProtobuf

/// A method the OTLP/gRPC receiver serves, found by the request's `:path`.
enum GRPCMethod: Sendable, Equatable {
    case traceExport, metricsExport, logsExport
    /// `grpc.health.v1.Health`: `Check` and `List` are unary; `Watch` answers once and stays open until the client
    /// cancels or the server shuts down.
    case healthCheck, healthList, healthWatch

    /// One of the OTLP `Export` methods (what authentication guards).
    var isExport: Bool { self == .traceExport || self == .metricsExport || self == .logsExport }
}

/// What a method answers with.
enum GRPCReply: Sendable {
    /// One response message, then `OK`.
    case message([UInt8])
    /// One response message; the stream stays open (health `Watch`) until the client or a shutdown ends it.
    case messageThenHold([UInt8])
    /// No message: the call fails with this status (a trailers-only response).
    case status(GRPCStatus)
}

/// The OTLP collector services plus `grpc.health.v1.Health`: routing by path, decoding, and the answer.
///
/// Only the services whose signal some pipeline handles are routed; the others are `UNIMPLEMENTED`, as in otelcol.
struct OTLPGRPCServices: Sendable {
    let handler: OTLPExportHandler
    /// The largest request message accepted, in bytes (`max_recv_msg_size_mib`).
    let limit: Int
    /// Checks the credentials of export calls (health checks stay open); nil: no authentication.
    var authenticator: (any ServerAuthenticator)? = nil

    static let traceService = "opentelemetry.proto.collector.trace.v1.TraceService"
    static let metricsService = "opentelemetry.proto.collector.metrics.v1.MetricsService"
    static let logsService = "opentelemetry.proto.collector.logs.v1.LogsService"

    /// The services health checks report as SERVING (besides the empty name, the server as a whole).
    var servingServices: Set<String> {
        var names: Set<String> = []
        if handler.next.traces != nil { names.insert(Self.traceService) }
        if handler.next.metrics != nil { names.insert(Self.metricsService) }
        if handler.next.logs != nil { names.insert(Self.logsService) }
        return names
    }

    func method(forPath path: String) -> GRPCMethod? {
        switch path {
        case "/opentelemetry.proto.collector.trace.v1.TraceService/Export":
            handler.next.traces != nil ? .traceExport : nil
        case "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export":
            handler.next.metrics != nil ? .metricsExport : nil
        case "/opentelemetry.proto.collector.logs.v1.LogsService/Export":
            handler.next.logs != nil ? .logsExport : nil
        case "/grpc.health.v1.Health/Check": .healthCheck
        case "/grpc.health.v1.Health/List": .healthList
        case "/grpc.health.v1.Health/Watch": .healthWatch
        default: nil
        }
    }

    /// Decodes `message` for `method`, runs it and says what to answer.
    func respond(to method: GRPCMethod, message: [UInt8]) async -> GRPCReply {
        do {
            switch method {
            case .traceExport:
                let traces = try ReceivedTraces(message) { try decode(ExportTraceRequest.self, message) }
                return .message(try handler.traceResponse(await handler.export(traces)).serializedBytes())
            case .metricsExport:
                if let encoded = EncodedMetrics(indexing: message) {
                    _ = try await handler.export(encoded)
                } else {
                    _ = try await handler.export(try decode(ExportMetricsRequest.self, message))
                }
                return .message([])  // an empty ExportMetricsServiceResponse
            case .logsExport:
                let accepted =
                    if let encoded = EncodedLogs(indexing: message) {
                        try await handler.export(encoded)
                    } else {
                        try await handler.export(try decode(ExportLogsRequest.self, message))
                    }
                return .message(try handler.logsResponse(accepted).serializedBytes())
            case .healthCheck:
                let request = try decode(Grpc_Health_V1_HealthCheckRequest.self, message)
                guard request.service.isEmpty || servingServices.contains(request.service) else {
                    return .status(GRPCStatus(.notFound, "unknown service \"\(request.service.prefix(200))\""))
                }
                return .message(try Self.health(.serving).serializedBytes())
            case .healthList:
                _ = try decode(Grpc_Health_V1_HealthListRequest.self, message)
                var response = Grpc_Health_V1_HealthListResponse()
                for name in servingServices.union([""]) { response.statuses[name] = Self.health(.serving) }
                return .message(try response.serializedBytes())
            case .healthWatch:
                let request = try decode(Grpc_Health_V1_HealthCheckRequest.self, message)
                let known = request.service.isEmpty || servingServices.contains(request.service)
                return .messageThenHold(try Self.health(known ? .serving : .serviceUnknown).serializedBytes())
            }
        } catch let status as GRPCStatus {
            return .status(status)
        } catch let error as PipelineError {
            return .status(GRPCStatus(error))
        } catch {
            return .status(GRPCStatus(.internalError, "cannot encode the response: \(error)"))
        }
    }

    private func decode<M: SwiftProtobuf.Message>(_ type: M.Type, _ bytes: [UInt8]) throws(GRPCStatus) -> M {
        do {
            return try M(serializedBytes: bytes)
        } catch {
            throw GRPCStatus(.invalidArgument, "request is not a valid \(M.protoMessageName): \(error)")
        }
    }

    private static func health(_ status: Grpc_Health_V1_HealthCheckResponse.ServingStatus) -> Grpc_Health_V1_HealthCheckResponse {
        var r = Grpc_Health_V1_HealthCheckResponse()
        r.status = status
        return r
    }
}
