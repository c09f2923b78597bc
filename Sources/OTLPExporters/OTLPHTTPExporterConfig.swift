import CollectorCore
import Foundation

/// Settings of the `otlphttp` (`otlp_http`) exporter, with otelcol's keys and defaults.
public struct OTLPHTTPExporterConfig: ComponentConfig, Equatable {
    public enum Encoding: String, Sendable, Equatable { case proto, json }

    /// Where each signal goes: `endpoint` + `/v1/traces` etc., unless `traces_endpoint` … name a full URL.
    public var urls: [Signal: String] = [:]
    public var encoding = Encoding.proto
    public var compression = OTLPGRPCExporterConfig.Compression.gzip
    public var headers: [String: String] = [:]
    public var timeout: Duration = .seconds(30)
    public var tls = ClientTLSSettings()
    public var queue = SendingQueueSettings()
    public var retry = RetryPolicy()
    public var circuitBreaker = CircuitBreakerSettings()
    /// `auth: {authenticator: ID}`: a client authenticator extension whose credentials go with every request.
    public var auth: ComponentID?

    public init() {}

    public init(reading r: ConfigReader) {
        let endpoint = r.optionalString("endpoint")
        let perSignal: [(Signal, String)] = [(.traces, "traces"), (.metrics, "metrics"), (.logs, "logs")]
        for (signal, name) in perSignal {
            if let url = r.optionalString("\(name)_endpoint") {
                urls[signal] = url
            } else if let endpoint {
                urls[signal] = (endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint) + "/v1/\(name)"
            }
        }
        if endpoint == nil && urls.count < 3 {
            r.report(
                "endpoint", "is required (e.g. \"https://gateway:4318\"), unless traces_endpoint, metrics_endpoint and logs_endpoint are all set")
        }
        for (signal, url) in urls.sorted(by: { $0.key < $1.key }) {
            guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), ["http", "https"].contains(scheme), parsed.host != nil
            else {
                r.report(
                    signal == .traces && r.contains("traces_endpoint") ? "traces_endpoint" : "endpoint",
                    "expected an http:// or https:// URL, got \"\(url)\"")
                continue
            }
        }
        let e = r.string("encoding", default: encoding.rawValue)
        if let value = Encoding(rawValue: e) { encoding = value } else { r.report("encoding", "expected proto or json, got \"\(e)\"") }
        let c = r.string("compression", default: compression.rawValue)
        if let value = OTLPGRPCExporterConfig.Compression(rawValue: c == "" ? "none" : c) {
            compression = value
        } else {
            r.report("compression", "expected gzip or none, got \"\(c)\"")
        }
        let h = r.child("headers")
        for key in h.keys { headers[key.lowercased()] = h.string(key, default: "") }
        timeout = r.duration("timeout", default: timeout, minimum: .milliseconds(1))
        tls = ClientTLSSettings(reading: r.child("tls"), defaultInsecure: false, exporter: "otlphttp")
        queue = SendingQueueSettings(reading: r.child("sending_queue"))
        retry = RetryPolicy(reading: r.child("retry_on_failure"))
        circuitBreaker = CircuitBreakerSettings(reading: r.child("circuit_breaker"))
        auth = r.authenticatorReference("auth", role: .clientAuthenticator)
    }
}
