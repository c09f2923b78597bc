import CollectorCore
import NIOHTTP1

/// The OTLP/HTTP receiver's `cors` settings and what they mean for each request, as otelcol's confighttp (which uses
/// rs/cors) answers: so a page instrumented with the OpenTelemetry JavaScript web SDK can export straight to otelsink.
///
/// - A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered 204 by the receiver itself,
///   before authentication (browsers send no credentials on a preflight). It allows the origin only when it matches
///   `allowed_origins`, the method is `GET`, `POST` or `HEAD`, and every requested header is allowed.
/// - Every other answer to an allowed origin (errors and 401s included, so the page can read them) carries
///   `Access-Control-Allow-Origin` (the origin itself), `Access-Control-Allow-Credentials: true` and
///   `Access-Control-Expose-Headers` when `exposed_headers` is set.
public struct CORSPolicy: Sendable, Equatable {
    /// Origins allowed, each may hold `*` standing for any run of characters (`https://*.example.com`, or `*`).
    public var allowedOrigins: [String] = []
    /// Request headers allowed beyond `Accept`, `Accept-Language`, `Content-Type`, `Content-Language` (and
    /// `X-Requested-With` when none are listed); `*` allows any.
    public var allowedHeaders: [String] = []
    public var exposedHeaders: [String] = []
    /// `Access-Control-Max-Age` in seconds; 0 leaves it out.
    public var maxAge = 0

    public init(allowedOrigins: [String] = [], allowedHeaders: [String] = [], exposedHeaders: [String] = [], maxAge: Int = 0) {
        self.allowedOrigins = allowedOrigins
        self.allowedHeaders = allowedHeaders
        self.exposedHeaders = exposedHeaders
        self.maxAge = maxAge
    }

    /// Reads `cors` from an HTTP protocol's settings; nil when the key is absent.
    static func read(_ r: ConfigReader) -> CORSPolicy? {
        guard r.contains("cors") else { return nil }
        let c = r.child("cors")
        var p = CORSPolicy()
        p.allowedOrigins = c.stringList("allowed_origins")
        p.allowedHeaders = c.stringList("allowed_headers")
        p.exposedHeaders = c.stringList("exposed_headers")
        p.maxAge = c.int("max_age", default: 0, range: 0...86_400 * 365)
        if p.allowedOrigins.isEmpty {
            c.report("allowed_origins", "list at least one origin (e.g. \"https://*.example.com\"); with none, no cross-origin request is allowed")
        }
        return p
    }

    static let allowedMethods: Set<String> = ["GET", "POST", "HEAD"]
    /// Origins longer than this are never allowed (nothing legitimate is near it; matching stays cheap).
    static let maxOriginLength = 1024

    func allows(origin: String) -> Bool {
        guard !origin.isEmpty, origin.utf8.count <= Self.maxOriginLength else { return false }
        let o = origin.lowercased()
        return allowedOrigins.contains { Self.matches(o, pattern: $0.lowercased()) }
    }

    /// `*` in `pattern` matches any run of characters (including none); everything else matches itself.
    static func matches(_ text: String, pattern: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false)
        guard parts.count > 1 else { return text == pattern }
        var rest = Substring(text)
        guard let first = parts.first, rest.hasPrefix(first) else { return false }
        rest = rest.dropFirst(first.count)
        for (i, part) in parts.enumerated().dropFirst() {
            if i == parts.count - 1 { return rest.count >= part.count && rest.hasSuffix(part) }
            if part.isEmpty { continue }
            guard let found = rest.range(of: part) else { return false }
            rest = rest[found.upperBound...]
        }
        return true
    }

    private func allows(header: String) -> Bool {
        let h = header.lowercased()
        if ["accept", "accept-language", "content-type", "content-language", "origin"].contains(h) { return true }
        if allowedHeaders.isEmpty { return h == "x-requested-with" }
        return allowedHeaders.contains { $0 == "*" || $0.lowercased() == h }
    }

    /// Whether `head` is a preflight request.
    static func isPreflight(_ head: HTTPRequestHead) -> Bool {
        head.method == .OPTIONS && head.headers.contains(name: "origin") && head.headers.contains(name: "access-control-request-method")
    }

    /// The answer to a preflight: 204, with the CORS headers when the origin, method and headers are allowed.
    func preflightResponse(_ head: HTTPRequestHead) -> OTLPHTTPService.Response {
        var headers: [(String, String)] = [("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")]
        let origin = head.headers.first(name: "origin") ?? ""
        let method = (head.headers.first(name: "access-control-request-method") ?? "").uppercased()
        let requested = head.headers[canonicalForm: "access-control-request-headers"].map(String.init).filter { !$0.isEmpty }
        if allows(origin: origin), Self.allowedMethods.contains(method), requested.allSatisfy(allows(header:)) {
            headers.append(("Access-Control-Allow-Origin", origin))
            headers.append(("Access-Control-Allow-Credentials", "true"))
            headers.append(("Access-Control-Allow-Methods", method))
            if !requested.isEmpty { headers.append(("Access-Control-Allow-Headers", requested.joined(separator: ", "))) }
            if maxAge > 0 { headers.append(("Access-Control-Max-Age", String(maxAge))) }
        }
        return OTLPHTTPService.Response(status: .noContent, headers: headers)
    }

    /// Headers added to the answer of a request that is not a preflight.
    func responseHeaders(_ head: HTTPRequestHead) -> [(String, String)] {
        var headers: [(String, String)] = [("Vary", "Origin")]
        guard let origin = head.headers.first(name: "origin"), allows(origin: origin),
            Self.allowedMethods.contains(head.method.rawValue)
        else { return headers }
        headers.append(("Access-Control-Allow-Origin", origin))
        headers.append(("Access-Control-Allow-Credentials", "true"))
        if !exposedHeaders.isEmpty { headers.append(("Access-Control-Expose-Headers", exposedHeaders.joined(separator: ", "))) }
        return headers
    }
}
