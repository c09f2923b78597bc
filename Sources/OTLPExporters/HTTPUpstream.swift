import AsyncHTTPClient
import CollectorCore
import Foundation
import GzipCompression
import NIOCore
import NIOHTTP1
import NIOSSL
import OTLP
import SwiftProtobuf

/// One upstream over OTLP/HTTP (AsyncHTTPClient: pooled HTTP/1.1 or HTTP/2 by ALPN), a `POST` per request.
final class HTTPUpstream: UpstreamSender {
    let client: HTTPClient
    let config: OTLPHTTPExporterConfig
    /// The answer's body is read up to this (otelcol reads 64 KiB), for its message and partial success.
    static let maxAnswerBytes = 64 << 10

    let credentials: UpstreamCredentials?

    init(config: OTLPHTTPExporterConfig, credentials: UpstreamCredentials? = nil) throws {
        self.config = config
        self.credentials = credentials
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca = config.tls.caFile { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca)) }
        if let cert = config.tls.certFile, let key = config.tls.keyFile {
            tls.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        if config.tls.insecureSkipVerify { tls.certificateVerification = .none }
        var clientConfig = HTTPClient.Configuration(tlsConfiguration: tls)
        clientConfig.decompression = .enabled(limit: .size(Self.maxAnswerBytes * 16))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfig)
    }

    func send(_ request: OutgoingRequest) async -> UpstreamVerdict {
        guard let url = config.urls[request.signal] else { return .permanent(reason: "no endpoint for \(request.signal)") }
        do {
            var body = request.bytes
            if config.encoding == .json { body = try Self.json(request) }
            var http = HTTPClientRequest(url: url)
            http.method = .POST
            http.headers.add(name: "Content-Type", value: config.encoding == .json ? "application/json" : "application/x-protobuf")
            if config.compression == .gzip, let compressed = Gzip.compress(body) {
                body = compressed
                http.headers.add(name: "Content-Encoding", value: "gzip")
            }
            for (name, value) in config.headers.sorted(by: { $0.key < $1.key }) { http.headers.add(name: name, value: value) }
            if let credentials {
                switch credentials.headers() {
                case .success(let headers): for (name, value) in headers { http.headers.replaceOrAdd(name: name, value: value) }
                case .failure(let e): return e.verdict
                }
            }
            http.body = .bytes(ByteBuffer(bytes: body))
            let response = try await client.execute(http, timeout: TimeAmount(config.timeout))
            var answer = ByteBuffer()
            for try await var part in response.body {
                let room = Self.maxAnswerBytes - answer.readableBytes
                guard room > 0 else { break }
                if part.readableBytes > room { part = part.getSlice(at: part.readerIndex, length: room) ?? part }
                answer.writeBuffer(&part)
            }
            let status = Int(response.status.code)
            let message = Self.message(Array(answer.readableBytesView), contentType: response.headers.first(name: "content-type"))
            let verdict = UpstreamAnswer.http(
                status: status, retryAfter: response.headers.first(name: "retry-after"),
                message: message.map { "\($0) (upstream \(url))" } ?? "upstream \(url)")
            if case .delivered = verdict {
                let (rejected, partialMessage) = Self.partialSuccess(
                    Array(answer.readableBytesView), signal: request.signal,
                    json: response.headers.first(name: "content-type")?.contains("json") == true)
                return .delivered(rejected: rejected, message: partialMessage)
            }
            return verdict
        } catch {
            return .retryable(after: nil, reason: "upstream \(url): \(error)")
        }
    }

    /// The request in OTLP/JSON (decoded from its protobuf bytes).
    static func json(_ r: OutgoingRequest) throws -> [UInt8] {
        switch r.signal {
        case .traces: return try OTLPJSON.encode(try ExportTraceRequest(serializedBytes: r.bytes))
        case .metrics: return try OTLPJSON.encode(try ExportMetricsRequest(serializedBytes: r.bytes))
        case .logs: return try OTLPJSON.encode(try ExportLogsRequest(serializedBytes: r.bytes))
        }
    }

    /// The `google.rpc.Status` message of an error answer, or its first bytes as text.
    static func message(_ body: [UInt8], contentType: String?) -> String? {
        guard !body.isEmpty else { return nil }
        let type = contentType?.lowercased() ?? ""
        if type.contains("protobuf"), let status = try? Google_Rpc_Status(serializedBytes: body) { return status.message }
        if type.contains("json"), let status = try? OTLPJSON.decode(Google_Rpc_Status.self, from: body) { return status.message }
        return TerminalSafeText.escape(String(decoding: body.prefix(256), as: UTF8.self))
    }

    static func partialSuccess(_ body: [UInt8], signal: Signal, json: Bool) -> (Int64, String) {
        func decode<M: SwiftProtobuf.Message>(_ type: M.Type) -> M? {
            json ? try? OTLPJSON.decode(M.self, from: body) : try? M(serializedBytes: body)
        }
        switch signal {
        case .traces:
            guard let r = decode(ExportTraceResponse.self), r.hasPartialSuccess else { return (0, "") }
            return (r.partialSuccess.rejectedSpans, r.partialSuccess.errorMessage)
        case .metrics:
            guard let r = decode(ExportMetricsResponse.self), r.hasPartialSuccess else { return (0, "") }
            return (r.partialSuccess.rejectedDataPoints, r.partialSuccess.errorMessage)
        case .logs:
            guard let r = decode(ExportLogsResponse.self), r.hasPartialSuccess else { return (0, "") }
            return (r.partialSuccess.rejectedLogRecords, r.partialSuccess.errorMessage)
        }
    }
}
