import CollectorCore
import GRPCCore
import GRPCProtobuf
import OTLP
import ServiceLifecycle
import SwiftProtobuf

/// Maps a pipeline refusal to the gRPC status the OTLP spec prescribes.
///
/// Retryable → `UNAVAILABLE` with `RetryInfo` (the client backs off and retries); invalid data →
/// `INVALID_ARGUMENT`; anything else → `INTERNAL` (not retried).
func grpcStatus(_ error: PipelineError) -> GoogleRPCStatus {
    switch error.kind {
    case .retryable(let after):
        GoogleRPCStatus(code: .unavailable, message: error.message, details: [.retryInfo(delay: after)])
    case .invalidData:
        GoogleRPCStatus(code: .invalidArgument, message: error.message, details: [])
    case .permanent:
        GoogleRPCStatus(code: .internalError, message: error.message, details: [])
    }
}

/// Decodes protobuf requests, refusing any over `limit` bytes with `RESOURCE_EXHAUSTED`.
///
/// The transport's own limit is set higher (see ``OTLPReceiver``): past it grpc-swift-nio-transport resets the stream
/// without a status, which clients read as `UNAVAILABLE` and retry. Checking here gives the status the OTLP spec asks for.
struct SizeLimitedDeserializer<Message: SwiftProtobuf.Message & Sendable>: MessageDeserializer {
    let limit: Int

    func deserialize<Bytes: GRPCContiguousBytes>(_ bytes: Bytes) throws -> Message {
        try checkRequestSize(bytes.count, limit: limit)
        return try ProtobufDeserializer<Message>().deserialize(bytes)
    }
}

/// `RESOURCE_EXHAUSTED` for a request over `limit` bytes.
func checkRequestSize(_ count: Int, limit: Int) throws {
    guard count <= limit else {
        throw RPCError(
            code: .resourceExhausted,
            message: "request of \(count) bytes exceeds the limit of \(limit) bytes (max_recv_msg_size_mib)")
    }
}

/// Keeps a trace request in its wire form when ``EncodedTraces`` can index it, and decodes it with swift-protobuf
/// otherwise (which then reports what is malformed), refusing any over `limit` bytes with `RESOURCE_EXHAUSTED`.
struct TraceRequestDeserializer: MessageDeserializer {
    let limit: Int

    func deserialize<Bytes: GRPCContiguousBytes>(_ bytes: Bytes) throws -> ReceivedTraces {
        try checkRequestSize(bytes.count, limit: limit)
        let copy = bytes.withUnsafeBytes { [UInt8]($0) }
        return try ReceivedTraces(copy) { try ProtobufDeserializer<ExportTraceRequest>().deserialize(bytes) }
    }
}

struct OTLPTraceService: Opentelemetry_Proto_Collector_Trace_V1_TraceService.SimpleServiceProtocol {
    let handler: OTLPExportHandler
    let limit: Int

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: Opentelemetry_Proto_Collector_Trace_V1_TraceService.Method.Export.descriptor,
            deserializer: TraceRequestDeserializer(limit: limit),
            serializer: ProtobufSerializer<ExportTraceResponse>(),
            handler: { stream, context in
                let request = try await ServerRequest(stream: stream)
                let response = try await self.export(request.message, context: context)
                return StreamingServerResponse(single: ServerResponse(message: response))
            })
    }

    func export(request: ExportTraceRequest, context: ServerContext) async throws -> ExportTraceResponse {
        try await export(.decoded(request), context: context)
    }

    func export(_ request: ReceivedTraces, context: ServerContext) async throws -> ExportTraceResponse {
        do {
            return handler.traceResponse(try await handler.export(request))
        } catch {
            throw grpcStatus(error)
        }
    }
}

struct OTLPMetricsService: Opentelemetry_Proto_Collector_Metrics_V1_MetricsService.SimpleServiceProtocol {
    let handler: OTLPExportHandler
    let limit: Int

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: Opentelemetry_Proto_Collector_Metrics_V1_MetricsService.Method.Export.descriptor,
            deserializer: SizeLimitedDeserializer<ExportMetricsRequest>(limit: limit),
            serializer: ProtobufSerializer<ExportMetricsResponse>(),
            handler: { request, context in try await self.export(request: request, context: context) })
    }

    func export(request: ExportMetricsRequest, context: ServerContext) async throws -> ExportMetricsResponse {
        do {
            _ = try await handler.export(request)
            return ExportMetricsResponse()
        } catch {
            throw grpcStatus(error)
        }
    }
}

struct OTLPLogsService: Opentelemetry_Proto_Collector_Logs_V1_LogsService.SimpleServiceProtocol {
    let handler: OTLPExportHandler
    let limit: Int

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(
            forMethod: Opentelemetry_Proto_Collector_Logs_V1_LogsService.Method.Export.descriptor,
            deserializer: SizeLimitedDeserializer<ExportLogsRequest>(limit: limit),
            serializer: ProtobufSerializer<ExportLogsResponse>(),
            handler: { request, context in try await self.export(request: request, context: context) })
    }

    func export(request: ExportLogsRequest, context: ServerContext) async throws -> ExportLogsResponse {
        do {
            _ = try await handler.export(request)
            return ExportLogsResponse()
        } catch {
            throw grpcStatus(error)
        }
    }
}

/// `grpc.health.v1.Health`: SERVING while the receiver runs, for the empty service name and each OTLP service.
struct HealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
    let services: Set<String>

    func check(request: Grpc_Health_V1_HealthCheckRequest, context: ServerContext) async throws -> Grpc_Health_V1_HealthCheckResponse {
        guard request.service.isEmpty || services.contains(request.service) else {
            throw RPCError(code: .notFound, message: "unknown service \"\(request.service)\"")
        }
        var response = Grpc_Health_V1_HealthCheckResponse()
        response.status = .serving
        return response
    }

    func list(request: Grpc_Health_V1_HealthListRequest, context: ServerContext) async throws -> Grpc_Health_V1_HealthListResponse {
        var response = Grpc_Health_V1_HealthListResponse()
        var serving = Grpc_Health_V1_HealthCheckResponse()
        serving.status = .serving
        for name in services.union([""]) { response.statuses[name] = serving }
        return response
    }

    func watch(
        request: Grpc_Health_V1_HealthCheckRequest,
        response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
        context: ServerContext
    ) async throws {
        var r = Grpc_Health_V1_HealthCheckResponse()
        r.status = request.service.isEmpty || services.contains(request.service) ? .serving : .serviceUnknown
        try await response.write(r)
        // Stay open until the client goes away (the RPC is cancelled) or the server shuts down.
        try? await cancelWhenGracefulShutdown {
            try await context.cancellation.cancelled
        }
    }
}
