import CollectorCore
import ServiceLifecycle

/// Registers the `otlp` exporter (OTLP/gRPC) under its otelcol names, `otlp` and `otlp_grpc`.
public struct OTLPGRPCExporterFactory: ExporterFactory {
    public let type: String
    public init(type: String = "otlp") { self.type = type }
    public var kind: ComponentKind { .exporter }
    public var signals: Set<Signal> { [.traces, .metrics, .logs] }
    public var summary: String { "forwards OTLP over gRPC, with a sending queue and retries (TLS by default; tls.insecure for h2c)" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { OTLPGRPCExporterConfig(reading: reader) }

    public func makeExporter(config: any ComponentConfig, context: ComponentContext) throws -> any Exporter {
        let c = try config.as(OTLPGRPCExporterConfig.self, for: type)
        let upstream = try GRPCUpstream(config: c, credentials: UpstreamCredentials(c.auth, context: context))
        let client = upstream.client
        return try ForwardingExporter(
            upstream: upstream, queue: c.queue, retry: c.retry, breaker: c.circuitBreaker, context: context,
            connect: { try? await gracefulShutdown() }, disconnect: { client.close() })
    }
}

/// Registers the `otlphttp` exporter (OTLP/HTTP) under its otelcol names, `otlphttp` and `otlp_http`.
public struct OTLPHTTPExporterFactory: ExporterFactory {
    public let type: String
    public init(type: String = "otlphttp") { self.type = type }
    public var kind: ComponentKind { .exporter }
    public var signals: Set<Signal> { [.traces, .metrics, .logs] }
    public var summary: String { "forwards OTLP over HTTP (protobuf or JSON, gzip), with a sending queue and retries" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { OTLPHTTPExporterConfig(reading: reader) }

    public func makeExporter(config: any ComponentConfig, context: ComponentContext) throws -> any Exporter {
        let c = try config.as(OTLPHTTPExporterConfig.self, for: type)
        let upstream = try HTTPUpstream(config: c, credentials: UpstreamCredentials(c.auth, context: context))
        let client = upstream.client
        return try ForwardingExporter(
            upstream: upstream, queue: c.queue, retry: c.retry, breaker: c.circuitBreaker, context: context,
            connect: { try? await gracefulShutdown() }, disconnect: { try? await client.shutdown() })
    }
}
