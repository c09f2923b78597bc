import CollectorCore
import Foundation

/// A forwarding exporter's client `tls` settings (otelcol's configtls `ClientConfig`, the subset otelsink supports).
public struct ClientTLSSettings: Sendable, Equatable {
    /// Cleartext (gRPC: h2c). For `otlphttp` the URL's scheme decides and this is ignored, as in otelcol.
    public var insecure = false
    /// The CA the upstream's certificate must chain to; nil: the system's roots.
    public var caFile: String?
    /// A client certificate and key, for upstreams that require mutual TLS.
    public var certFile: String?
    public var keyFile: String?
    /// No verification of the upstream's certificate (testing only).
    public var insecureSkipVerify = false
    /// The name the upstream's certificate must carry, sent as SNI (and, for gRPC, as `:authority`), instead of the
    /// endpoint's host. `otlp` exporter only.
    public var serverNameOverride: String?

    public init() {}

    /// Reads `tls`; unsupported keys (`min_version`, `max_version`, `reload_interval`, and `server_name_override`
    /// except for the `otlp` exporter) are reported, never ignored.
    init(reading tls: ConfigReader, defaultInsecure: Bool, exporter: String) {
        insecure = tls.bool("insecure", default: defaultInsecure)
        caFile = tls.optionalString("ca_file")
        certFile = tls.optionalString("cert_file")
        keyFile = tls.optionalString("key_file")
        insecureSkipVerify = tls.bool("insecure_skip_verify", default: false)
        for (key, path) in [("ca_file", caFile), ("cert_file", certFile), ("key_file", keyFile)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) { tls.report(key, "cannot read \(path)") }
        }
        if (certFile == nil) != (keyFile == nil) { tls.report("cert_file", "cert_file and key_file go together (client certificate)") }
        var unsupported = ["min_version", "max_version", "reload_interval"]
        if exporter == "otlp" {
            serverNameOverride = tls.optionalString("server_name_override")
            if serverNameOverride?.isEmpty == true { serverNameOverride = nil }
        } else {
            unsupported.insert("server_name_override", at: 0)
        }
        for key in unsupported where tls.contains(key) {
            _ = tls.raw(key)
            tls.report(key, "not supported by otelsink's \(exporter) exporter yet")
        }
    }
}
