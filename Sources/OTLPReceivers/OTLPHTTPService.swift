import CollectorCore
import Foundation
import NIOHTTP1
import OTLP
import SwiftProtobuf

/// The OTLP/HTTP endpoints, independent of the HTTP version: `POST /v1/traces`, `/v1/metrics`, `/v1/logs`.
///
/// Bodies are `application/x-protobuf` or `application/json` (OTLP/JSON), optionally `Content-Encoding: gzip`;
/// the answer uses the request's encoding. Errors carry a `google.rpc.Status` body naming the problem.
struct OTLPHTTPService: Sendable {
    let handler: OTLPExportHandler
    let maxBodySize: Int
    /// Checks each request's credentials; nil: no authentication.
    var authenticator: (any ServerAuthenticator)? = nil
    /// Cross-origin requests from web pages; nil: none.
    var cors: CORSPolicy? = nil

    enum Encoding: Sendable { case protobuf, json }

    struct Response: Sendable {
        var status: HTTPResponseStatus
        var headers: [(String, String)] = []
        var body: [UInt8] = []
    }

    /// The route's signal, if the path is one of ours and a pipeline handles it.
    func signal(forPath path: String) -> Signal? {
        let p = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        switch p {
        case "/v1/traces": return handler.next.traces == nil ? nil : .traces
        case "/v1/metrics": return handler.next.metrics == nil ? nil : .metrics
        case "/v1/logs": return handler.next.logs == nil ? nil : .logs
        default: return nil
        }
    }

    /// Checks what can be known from the head alone; returns an error response, or the body encoding.
    func checkHead(_ head: HTTPRequestHead) -> Result<(Signal, Encoding), ResponseError> {
        guard let signal = signal(forPath: head.uri) else {
            return .failure(
                ResponseError(.notFound, "no OTLP endpoint at \(head.uri.prefix(200)); use POST /v1/traces, /v1/metrics or /v1/logs", .protobuf))
        }
        let encoding = Self.encoding(head.headers)
        if let auth = authenticator, auth.check(head.headers.first(name: auth.headerName)) == false {
            return .failure(Self.unauthenticated(auth, encoding ?? .protobuf))
        }
        guard head.method == .POST else {
            return .failure(
                ResponseError(
                    .methodNotAllowed, "method \(head.method) is not allowed; use POST", encoding ?? .protobuf, headers: [("Allow", "POST")]))
        }
        guard let encoding else {
            let given = head.headers.first(name: "content-type") ?? "(none)"
            return .failure(
                ResponseError(
                    .unsupportedMediaType, "unsupported content type \(given.prefix(100)); use application/x-protobuf or application/json", .protobuf)
            )
        }
        let contentEncoding = head.headers.first(name: "content-encoding")?.lowercased() ?? "identity"
        guard contentEncoding == "gzip" || contentEncoding == "identity" || contentEncoding.isEmpty else {
            return .failure(
                ResponseError(.unsupportedMediaType, "unsupported content encoding \(contentEncoding.prefix(50)); use gzip or none", encoding))
        }
        if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > maxBodySize {
            return .failure(ResponseError(.payloadTooLarge, "request body of \(length) bytes exceeds the limit of \(maxBodySize) bytes", encoding))
        }
        return .success((signal, encoding))
    }

    static func unauthenticated(_ auth: any ServerAuthenticator, _ encoding: Encoding) -> ResponseError {
        ResponseError(
            .unauthorized, "missing or invalid credentials in the \(auth.headerName) header", encoding,
            headers: [("WWW-Authenticate", auth.challenge)])
    }

    /// The credentials of `head` when the authenticator needs its slow path to decide on them.
    func credentialsToVerify(_ head: HTTPRequestHead) -> String? {
        guard let auth = authenticator, let credentials = head.headers.first(name: auth.headerName) else { return nil }
        return auth.check(credentials) == nil ? credentials : nil
    }

    static func encoding(_ headers: HTTPHeaders) -> Encoding? {
        guard let type = headers.first(name: "content-type") else { return nil }
        // The media type before any parameters, without surrounding blanks. (Not Foundation's `trimmingCharacters`:
        // its CharacterSet cost ~50 µs per request at low rates, more than the rest of the header checks.)
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        let beforeParameters = type.prefix { $0 != ";" }
        let start = beforeParameters.firstIndex { !isBlank($0) } ?? beforeParameters.endIndex
        let end = beforeParameters.lastIndex { !isBlank($0) }.map { beforeParameters.index(after: $0) } ?? start
        let mime = start < end ? beforeParameters[start..<end].lowercased() : ""
        switch mime {
        case "application/x-protobuf", "application/protobuf": return .protobuf
        case "application/json": return .json
        default: return nil
        }
    }

    /// Memory a decoded body may take, per byte of body: swift-protobuf's message graph, or the JSON parse tree
    /// plus that graph. Reserved from the in-flight budget while the request is handled.
    static func decodeFactor(_ encoding: Encoding) -> Int { encoding == .json ? 12 : 3 }

    /// Decodes and exports a complete body. Memory it needs beyond the body (inflated bytes, decoded messages) is
    /// reserved from `budget` first; when the budget is spent the answer is 503 and the client retries.
    /// - Parameter held: bytes this request already holds in `budget` (its body), so that a request alone in
    ///   flight is never refused for its own reservations.
    func handle(
        signal: Signal, encoding: Encoding, gzip: Bool, body: [UInt8], budget: InFlightBudget, holding held: Int = 0,
        verify credentials: String? = nil
    ) async -> Response {
        if let credentials, let auth = authenticator, await !auth.verify(credentials) {
            return Self.unauthenticated(auth, encoding).response
        }
        var reserved = 0
        defer { budget.release(reserved) }
        let busy = ResponseError(.serviceUnavailable, "too many request bytes in flight; retry later", encoding, headers: [("Retry-After", "1")])
        var bytes = body
        if gzip {
            do {
                bytes = try GzipInflater.inflate(body, limit: maxBodySize) { n in
                    guard budget.reserve(n, holding: held + reserved) else { return false }
                    reserved += n
                    return true
                }
            } catch {
                switch error {
                case .tooLarge(let limit):
                    return ResponseError(.payloadTooLarge, "decompressed body exceeds the limit of \(limit) bytes", encoding).response
                case .corrupt(let reason):
                    return ResponseError(.badRequest, reason, encoding).response
                case .noMemory:
                    return busy.response
                }
            }
        }
        let decodeBytes = bytes.count * Self.decodeFactor(encoding)
        guard budget.reserve(decodeBytes, holding: held + reserved) else { return busy.response }
        reserved += decodeBytes
        do {
            switch signal {
            case .traces:
                let request: ReceivedTraces =
                    encoding == .protobuf
                    ? try ReceivedTraces(bytes) { try decode(bytes, encoding) }
                    : .decoded(try decode(bytes, encoding))
                let accepted = try await handler.export(consume request)
                return try respond(handler.traceResponse(accepted), encoding)
            case .metrics:
                if encoding == .protobuf, let encoded = EncodedMetrics(indexing: bytes) {
                    _ = try await handler.export(encoded)
                } else {
                    let request: ExportMetricsRequest = try decode(bytes, encoding)
                    _ = try await handler.export(request)
                }
                return try respond(ExportMetricsResponse(), encoding)
            case .logs:
                if encoding == .protobuf, let encoded = EncodedLogs(indexing: bytes) {
                    return try respond(handler.logsResponse(await handler.export(encoded)), encoding)
                }
                let request: ExportLogsRequest = try decode(bytes, encoding)
                return try respond(handler.logsResponse(await handler.export(request)), encoding)
            }
        } catch let e as ResponseError {
            return e.response
        } catch let e as PipelineError {
            return ResponseError(pipeline: e, encoding).response
        } catch {
            return ResponseError(.internalServerError, "\(error)", encoding).response
        }
    }

    private func decode<M: SwiftProtobuf.Message>(_ bytes: [UInt8], _ encoding: Encoding) throws -> M {
        switch encoding {
        case .protobuf:
            do {
                return try M(serializedBytes: bytes)
            } catch {
                throw ResponseError(.badRequest, "request body is not a valid \(M.protoMessageName) protobuf message: \(error)", .protobuf)
            }
        case .json:
            do {
                return try OTLPJSON.decode(M.self, from: bytes)
            } catch {
                throw ResponseError(.badRequest, "invalid OTLP/JSON: \(error)", .json)
            }
        }
    }

    private func respond(_ message: some SwiftProtobuf.Message, _ encoding: Encoding) throws -> Response {
        switch encoding {
        case .protobuf:
            return Response(status: .ok, headers: [("Content-Type", "application/x-protobuf")], body: try message.serializedBytes())
        case .json:
            return Response(status: .ok, headers: [("Content-Type", "application/json")], body: Array(try OTLPJSON.encode(message)))
        }
    }
}

/// An error answer: status, `google.rpc.Status` body in the request's encoding, extra headers.
struct ResponseError: Error, Sendable {
    var status: HTTPResponseStatus
    var message: String
    var encoding: OTLPHTTPService.Encoding
    var headers: [(String, String)] = []

    init(_ status: HTTPResponseStatus, _ message: String, _ encoding: OTLPHTTPService.Encoding, headers: [(String, String)] = []) {
        self.status = status
        self.message = message
        self.encoding = encoding
        self.headers = headers
    }

    /// Retryable refusals become 503 with `Retry-After`; invalid data 400; other failures 500.
    init(pipeline e: PipelineError, _ encoding: OTLPHTTPService.Encoding) {
        switch e.kind {
        case .retryable(let after):
            let seconds = max(1, after.components.seconds)
            self.init(.serviceUnavailable, e.message, encoding, headers: [("Retry-After", "\(seconds)")])
        case .invalidData:
            self.init(.badRequest, e.message, encoding)
        case .permanent:
            self.init(.internalServerError, e.message, encoding)
        }
    }

    var response: OTLPHTTPService.Response {
        var status = Google_Rpc_Status()
        status.code = Int32(grpcCode)
        status.message = message
        let body: [UInt8]
        let type: String
        switch encoding {
        case .protobuf:
            body = (try? status.serializedBytes()) ?? []
            type = "application/x-protobuf"
        case .json:
            body = (try? OTLPJSON.encode(status)).map(Array.init) ?? []
            type = "application/json"
        }
        return OTLPHTTPService.Response(status: self.status, headers: [("Content-Type", type)] + headers, body: body)
    }

    /// The google.rpc.Code matching the HTTP status.
    private var grpcCode: Int {
        switch status {
        case .badRequest: 3  // INVALID_ARGUMENT
        case .notFound: 12  // google.rpc.Code 12: no such endpoint
        case .methodNotAllowed, .unsupportedMediaType: 3
        case .payloadTooLarge: 8  // RESOURCE_EXHAUSTED
        case .unauthorized: 16  // UNAUTHENTICATED
        case .serviceUnavailable, .tooManyRequests: 14  // UNAVAILABLE
        default: 13  // INTERNAL
        }
    }
}
