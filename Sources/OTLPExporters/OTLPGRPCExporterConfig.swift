import CollectorCore
import Foundation

/// Settings of the `otlp` (`otlp_grpc`) exporter, with otelcol's keys and defaults.
public struct OTLPGRPCExporterConfig: ComponentConfig, Equatable {
    public enum Compression: String, Sendable, Equatable { case gzip, none }

    /// `host:port` of the upstream (an `http://` or `https://` prefix is accepted and chooses cleartext or TLS).
    public var host = ""
    public var port = 4317
    /// `tls`: cleartext HTTP/2 with `insecure: true` (or an `http://` endpoint); otherwise TLS, as in otelcol.
    public var tls = ClientTLSSettings()
    public var headers: [String: String] = [:]
    public var compression = Compression.gzip
    /// Per attempt.
    public var timeout: Duration = .seconds(5)
    public var keepaliveTime: Duration = .seconds(10)
    public var keepaliveTimeout: Duration = .seconds(10)
    public var permitWithoutStream = false
    public var queue = SendingQueueSettings()
    public var retry = RetryPolicy()
    public var circuitBreaker = CircuitBreakerSettings()
    /// `auth: {authenticator: ID}`: a client authenticator extension whose credentials go with every request.
    public var auth: ComponentID?

    public init() {}

    /// - Parameter backendTemplate: read as `loadbalancing`'s `protocol.otlp`, where the resolver supplies the
    ///   endpoints (an `endpoint` given is ignored, as in otelcol).
    public init(reading r: ConfigReader, backendTemplate: Bool = false) {
        var endpoint = r.string("endpoint", default: "")
        if backendTemplate { endpoint = "" }
        if endpoint.isEmpty && !backendTemplate { r.report("endpoint", "is required: host:port of the upstream (e.g. \"gateway:4317\")") }
        var scheme: String?
        for prefix in ["http://", "https://"] where endpoint.lowercased().hasPrefix(prefix) {
            scheme = String(prefix.dropLast(3))
            endpoint = String(endpoint.dropFirst(prefix.count))
        }
        if endpoint.hasSuffix("/") { endpoint.removeLast() }
        if let colon = endpoint.lastIndex(of: ":"), let p = Int(endpoint[endpoint.index(after: colon)...]), (1...65535).contains(p) {
            host = String(endpoint[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            port = p
        } else if !endpoint.isEmpty {
            r.report("endpoint", "expected host:port, got \"\(endpoint)\"")
        }
        tls = ClientTLSSettings(reading: r.child("tls"), defaultInsecure: scheme == "http", exporter: "otlp")
        let h = r.child("headers")
        for key in h.keys { headers[key.lowercased()] = h.string(key, default: "") }
        let c = r.string("compression", default: compression.rawValue)
        if let value = Compression(rawValue: c == "" ? "none" : c) {
            compression = value
        } else {
            r.report("compression", "expected gzip or none, got \"\(c)\"")
        }
        timeout = r.duration("timeout", default: timeout, minimum: .milliseconds(1))
        let k = r.child("keepalive")
        keepaliveTime = k.duration("time", default: keepaliveTime, minimum: .seconds(1))
        keepaliveTimeout = k.duration("timeout", default: keepaliveTimeout, minimum: .seconds(1))
        permitWithoutStream = k.bool("permit_without_stream", default: permitWithoutStream)
        queue = SendingQueueSettings(reading: r.child("sending_queue"))
        retry = RetryPolicy(reading: r.child("retry_on_failure"))
        circuitBreaker = CircuitBreakerSettings(reading: r.child("circuit_breaker"))
        auth = r.authenticatorReference("auth", role: .clientAuthenticator)
    }
}
