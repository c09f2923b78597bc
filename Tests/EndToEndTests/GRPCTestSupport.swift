import CollectorCore
import CollectorService
import CollectorTesting
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import OTLP
import OTLPGRPCStubs

/// Runs `body` with a grpc-swift-2 client connected to `port` on loopback.
func withOTLPClient<R: Sendable>(
    port: Int,
    _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> R
) async throws -> R {
    try await withGRPCClient(
        transport: .http2NIOPosix(
            target: .ipv4(address: "127.0.0.1", port: port),
            transportSecurity: .plaintext
        ),
        handleClient: body
    )
}

/// Sends arbitrary bytes as a request message: for garbage and truncated protobuf.
struct RawBytesSerializer: MessageSerializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes { Bytes(message) }
}

struct RawBytesDeserializer: MessageDeserializer {
    func deserialize<Bytes: GRPCContiguousBytes>(_ bytes: Bytes) throws -> [UInt8] {
        bytes.withUnsafeBytes { Array($0) }
    }
}

/// Calls TraceService/Export with raw bytes and returns the status code it failed with (nil on success).
func exportRaw(_ bytes: [UInt8], client: GRPCClient<HTTP2ClientTransport.Posix>) async throws -> RPCError? {
    do {
        _ = try await client.unary(
            request: ClientRequest(message: bytes),
            descriptor: MethodDescriptor(fullyQualifiedService: "opentelemetry.proto.collector.trace.v1.TraceService", method: "Export"),
            serializer: RawBytesSerializer(),
            deserializer: RawBytesDeserializer(),
            options: .defaults
        ) { response in try response.message }
        return nil
    } catch let error as RPCError {
        return error
    }
}

/// A fresh directory under the system temp dir, removed by the caller.
func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("otelsink-e2e-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

func sqliteConfig(db: String, grpcExtra: String = "", extraExporters: String = "", tracesExporters: String = "[sqlite]", otherPipelines: String = "")
    -> String
{
    """
    receivers:
      otlp:
        protocols:
          grpc:
            endpoint: 127.0.0.1:0
            \(grpcExtra)
          http:
            endpoint: 127.0.0.1:0
    exporters:
      sqlite:
        path: \(db)
    \(extraExporters)
    service:
      pipelines:
        traces:
          receivers: [otlp]
          exporters: \(tracesExporters)
    \(otherPipelines)
    """
}

/// A collector whose only pipeline (`signal`) goes from a gRPC `otlp` receiver to the `test` exporter.
func collectorWithTestExporter(sink: TracesSink, signal: String, settings: String = "") async throws -> TestCollector {
    let registry = ComponentRegistry(ComponentRegistry.builtin.all + [TestExporterFactory(sink: sink)])
    let yaml = """
        receivers:
          otlp:
            protocols:
              grpc:
                endpoint: 127.0.0.1:0
        exporters:
          test:
            \(settings)
        service:
          pipelines:
            \(signal):
              receivers: [otlp]
              exporters: [test]
        """
    return try await TestCollector(yaml: yaml, registry: registry)
}
