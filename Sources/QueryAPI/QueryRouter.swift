import CollectorCore
import Foundation
import GzipCompression
import NIOHTTP1
import OTLP
import SQLiteStore

/// An answer of the query API.
public struct QueryResponse: Sendable {
    public var status: HTTPResponseStatus
    public var contentType = "application/json"
    public var headers: [(String, String)] = []
    public var body: [UInt8]

    init(status: HTTPResponseStatus = .ok, json: JSON, headers: [(String, String)] = []) {
        self.status = status
        self.body = json.serialized()
        self.headers = headers
    }

    init(status: HTTPResponseStatus, body: [UInt8]) {
        self.status = status
        self.body = body
    }
}

/// Routes a request to its endpoint: Jaeger's `/api/…` (v1, the UI's and Grafana's) and `/api/v3/…`, Loki's
/// `/loki/api/v1/…`, `/health`, and the web UI (``WebUI``: `/`, `/search`, `/trace/{id}`, `/compare`, `/map`,
/// `/static/…`). Answers of 1 KiB or more are gzipped for a client that accepts it.
public struct QueryRouter: Sendable {
    let service: TraceQueryService
    /// The clock for default time ranges (tests pin it).
    let now: @Sendable () -> Int64
    /// Told every request's route (a template such as `/api/traces/{traceID}`, never the raw path) and latency.
    let observe: @Sendable (_ route: String, _ took: Duration) -> Void
    /// Checks the credentials of every request but `/health`; nil: no authentication.
    let authenticator: (any ServerAuthenticator)?

    public init(
        service: TraceQueryService, now: @escaping @Sendable () -> Int64 = QueryRouter.systemNow,
        observe: @escaping @Sendable (_ route: String, _ took: Duration) -> Void = { _, _ in },
        authenticator: (any ServerAuthenticator)? = nil
    ) {
        self.service = service
        self.now = now
        self.observe = observe
        self.authenticator = authenticator
    }

    public static let systemNow: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1e9) }

    /// The longest request target accepted (Jaeger's UI sends at most a few hundred bytes).
    static let maxURILength = 16 * 1024

    /// Answers one request and reports its route and latency to `observe`.
    /// - Parameter credentials: the value of the authenticator's header, when the request has one.
    public func handle(method: HTTPMethod, uri: String, credentials: String? = nil, headers: [(String, String)] = []) async -> QueryResponse {
        let began = ContinuousClock.now
        var response: QueryResponse
        // Open without credentials: /health (for probes) and the web UI's files (the same for everyone, no data:
        // the page asks for credentials when the API refuses it).
        let segments = Self.segments(uri)
        let route = Self.routeTemplate(segments: segments)
        let open = route == "/health" || WebUI.routeTemplate(segments) != nil
        if let auth = authenticator, !open, await !auth.authenticate(credentials) {
            var r = v1Error(.unauthorized, "missing or invalid credentials in the \(auth.headerName) header")
            // A script's request (the web UI's) gets the challenge under another name: a `WWW-Authenticate: Basic`
            // would make the browser open its own login box over the page, which asks in its own dialog.
            let script = headers.contains { $0.0.lowercased() == "x-requested-with" && $0.1 == "XMLHttpRequest" }
            r.headers.append((script ? "Otelsink-Authenticate" : "WWW-Authenticate", auth.challenge))
            response = r
        } else {
            response = await dispatch(method: method, uri: uri, headers: headers)
        }
        response = Self.compressed(response, headers: headers)
        observe(route, ContinuousClock.now - began)
        return response
    }

    /// Answers of at least this many bytes are gzipped for a client that accepts gzip.
    static let gzipMinimum = 1024

    /// `response` gzipped (level 1: a large trace is compressed about as fast as it is written) when the request
    /// accepts gzip, the body is large enough and not already encoded.
    static func compressed(_ response: QueryResponse, headers: [(String, String)]) -> QueryResponse {
        guard response.body.count >= gzipMinimum, !response.headers.contains(where: { $0.0 == "Content-Encoding" }),
            WebUI.acceptsGzip(headers), let gz = Gzip.compress(response.body, level: 1)
        else { return response }
        var r = response
        r.body = gz
        r.headers.append(("Content-Encoding", "gzip"))
        if !r.headers.contains(where: { $0.0 == "Vary" }) { r.headers.append(("Vary", "Accept-Encoding")) }
        return r
    }

    /// The route a request target belongs to, with IDs and names replaced by placeholders (bounded label values).
    static func routeTemplate(_ uri: String) -> String {
        routeTemplate(segments: segments(uri))
    }

    /// ``routeTemplate(_:)`` of a request target already split by ``segments(_:)``.
    static func routeTemplate(segments s: [String]) -> String {
        if let ui = WebUI.routeTemplate(s) { return ui }
        switch s {
        case ["health"], ["api", "services"], ["api", "operations"], ["api", "traces"], ["api", "dependencies"],
            ["api", "v3", "services"], ["api", "v3", "operations"], ["api", "v3", "traces"], ["api", "v3", "logs"]:
            return "/" + s.joined(separator: "/")
        case let s where s.count == 4 && s[0] == "api" && s[1] == "services" && s[3] == "operations":
            return "/api/services/{service}/operations"
        case let s where s.count == 3 && s[0] == "api" && s[1] == "traces":
            return "/api/traces/{traceID}"
        case let s where s.count == 4 && s[0] == "api" && s[1] == "v3" && s[2] == "traces":
            return "/api/v3/traces/{traceID}"
        case let s where s.count == 5 && s[0] == "api" && s[1] == "v3" && s[2] == "traces" && s[4] == "critical_path":
            return "/api/v3/traces/{traceID}/critical_path"
        case let s where s.count == 5 && s[0] == "api" && s[1] == "v3" && s[2] == "traces" && s[4] == "anomalies":
            return "/api/v3/traces/{traceID}/anomalies"
        case ["api", "v3", "baselines"]:
            return "/api/v3/baselines"
        case let s where s.count == 6 && s[0] == "api" && s[1] == "v3" && s[2] == "traces" && s[4] == "diff":
            return "/api/v3/traces/{traceID}/diff/{traceID}"
        case ["loki", "api", "v1", "labels"], ["loki", "api", "v1", "series"], ["loki", "api", "v1", "query_range"],
            ["loki", "api", "v1", "query"]:
            return "/" + s.joined(separator: "/")
        case let s where s.count == 6 && s[0] == "loki" && s[3] == "label" && s[5] == "values":
            return "/loki/api/v1/label/{name}/values"
        default:
            return "other"
        }
    }

    /// Whether a request reads only a few rows found through an index (one trace, the services, a service's
    /// operations) or nothing at all (the web UI's pages and files, health): such a request is answered on its connection's
    /// event loop, without handing it to another thread and back (each hand-off wakes a thread, which on a busy
    /// machine waits for a core). Requests that scan (searches, logs, Loki, diffs, critical paths, dependencies,
    /// baselines) run on the query queue, so a slow one never holds a connection's loop.
    static func isPointRead(_ uri: String) -> Bool {
        let segments = segments(uri)
        if WebUI.routeTemplate(segments) != nil { return true }
        switch routeTemplate(segments: segments) {
        case "/api/traces/{traceID}", "/api/v3/traces/{traceID}", "/api/services", "/api/v3/services",
            "/api/services/{service}/operations", "/api/operations", "/api/v3/operations", "/health":
            return true
        default:
            return false
        }
    }

    /// The path's segments, not decoded (enough to tell routes apart).
    static func segments(_ uri: String) -> [String] {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return path.split(separator: "/").map(String.init)
    }

    private func dispatch(method: HTTPMethod, uri: String, headers: [(String, String)]) async -> QueryResponse {
        guard method == .GET || method == .HEAD else {
            var r = v1Error(.methodNotAllowed, "method \(method) is not allowed; the query API is read-only (GET)")
            r.headers.append(("Allow", "GET, HEAD"))
            return r
        }
        guard uri.utf8.count <= Self.maxURILength else {
            return v1Error(.uriTooLong, "request target is longer than \(Self.maxURILength) bytes")
        }
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = parts[0]
        let query = QueryParameters(query: parts.count > 1 ? parts[1] : nil)
        let segments = path.split(separator: "/").map { QueryParameters.decode($0) }
        if segments.first == "loki" { return await loki(segments, query, headers: headers) }
        if let page = WebUI.answer(segments, headers: headers) { return page }
        do {
            switch segments {
            case ["health"]:
                return QueryResponse(json: .object([("status", .string("ok"))]))
            case ["api", "services"]:
                return try await V1(service: service, now: now).services()
            case let s where s.count == 4 && s[0] == "api" && s[1] == "services" && s[3] == "operations":
                return try await V1(service: service, now: now).legacyOperations(service: s[2])
            case ["api", "operations"]:
                return try await V1(service: service, now: now).operations(query)
            case ["api", "traces"]:
                return try await V1(service: service, now: now).search(query)
            case let s where s.count == 3 && s[0] == "api" && s[1] == "traces":
                return try await V1(service: service, now: now).trace(s[2])
            case ["api", "dependencies"]:
                return try await V1(service: service, now: now).dependencies(query)
            case ["api", "v3", "services"]:
                return try await V3(service: service, now: now).services()
            case ["api", "v3", "operations"]:
                return try await V3(service: service, now: now).operations(query)
            case ["api", "v3", "traces"]:
                return try await V3(service: service, now: now).search(query)
            case ["api", "v3", "baselines"]:
                return try await V3(service: service, now: now).baselines(query)
            case let s where s.count == 4 && s[0] == "api" && s[1] == "v3" && s[2] == "traces":
                return try await V3(service: service, now: now).trace(s[3])
            case let s where s.count == 5 && s[0] == "api" && s[1] == "v3" && s[2] == "traces" && s[4] == "critical_path":
                return try await V3(service: service, now: now).criticalPath(s[3])
            case let s where s.count == 5 && s[0] == "api" && s[1] == "v3" && s[2] == "traces" && s[4] == "anomalies":
                return try await V3(service: service, now: now).anomalies(s[3])
            case let s where s.count == 6 && s[0] == "api" && s[1] == "v3" && s[2] == "traces" && s[4] == "diff":
                return try await V3(service: service, now: now).diff(s[3], s[5])
            case ["api", "v3", "logs"]:
                return try await V3(service: service, now: now).logs(query)
            default:
                if segments.first == "api", segments.dropFirst().first == "v3" {
                    return V3.error(.notFound, "no such endpoint: \(path)")
                }
                return v1Error(.notFound, "no such endpoint: \(path)")
            }
        } catch let bad as BadParameter {
            if segments.dropFirst().first == "v3" { return V3.error(.badRequest, bad.description) }
            return v1Error(.badRequest, bad.description)
        } catch {
            if segments.dropFirst().first == "v3" { return V3.error(.internalServerError, "storage error: \(error)") }
            return v1Error(.internalServerError, "storage error: \(error)")
        }
    }

    /// Loki's API: errors as plain text, as Loki answers them.
    private func loki(_ segments: [String], _ query: QueryParameters, headers: [(String, String)]) async -> QueryResponse {
        let api = LokiAPI(service: service, now: now)
        // Grafana asks for labels and metadata apart with this header (Loki 3's categorize-labels encoding).
        let categorize = headers.contains { $0.0.lowercased() == "x-loki-response-encoding-flags" && $0.1.contains("categorize-labels") }
        do {
            switch segments {
            case ["loki", "api", "v1", "labels"]: return try await api.labels(query)
            case let s where s.count == 6 && s[1] == "api" && s[2] == "v1" && s[3] == "label" && s[5] == "values":
                return try await api.labelValues(s[4], query)
            case ["loki", "api", "v1", "series"]: return try await api.series(query)
            case ["loki", "api", "v1", "query_range"]: return try await api.queryRange(query, categorizeLabels: categorize)
            case ["loki", "api", "v1", "query"]: return try await api.query(query)
            default:
                return LokiAPI.error(
                    .notFound, "404 page not found: otelsink answers /loki/api/v1/labels, /label/{name}/values, /series, /query_range and /query")
            }
        } catch let e as LogQLError {
            return LokiAPI.error(.badRequest, e.description)
        } catch {
            return LokiAPI.error(.internalServerError, "storage error: \(error)")
        }
    }

    func v1Error(_ status: HTTPResponseStatus, _ message: String) -> QueryResponse {
        QueryResponse(status: status, json: V1.envelope(data: .null, errors: [V1.error(Int(status.code), message)]))
    }
}
