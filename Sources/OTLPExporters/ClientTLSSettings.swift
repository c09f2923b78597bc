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

    public init() {}

    /// Reads `tls`; unsupported keys (`server_name_override`, `min_version`, `max_version`, `reload_interval`) are
    /// reported, never ignored.
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
        for key in ["server_name_override", "min_version", "max_version", "reload_interval"] where tls.contains(key) {
            _ = tls.raw(key)
            tls.report(key, "not supported by otelsink's \(exporter) exporter yet")
        }
    }
}
