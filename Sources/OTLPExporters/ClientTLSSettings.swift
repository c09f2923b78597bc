import CollectorCore
import Foundation
import NIOSSL

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
    /// `min_version` (otelcol's default 1.2) and `max_version`; `otlp` exporter only.
    public var minVersion = TLSVersion.tlsv12
    public var maxVersion: TLSVersion?
    /// Read the files again at most this often, for new connections; `otlp` exporter only.
    public var reloadInterval: Duration?

    public init() {}

    /// Reads `tls`; keys the exporter does not support (`server_name_override`, `min_version`, `max_version` and
    /// `reload_interval` are the `otlp` exporter's only) are reported, never ignored.
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
        var unsupported: [String] = []
        if exporter == "otlp" {
            serverNameOverride = tls.optionalString("server_name_override")
            if serverNameOverride?.isEmpty == true { serverNameOverride = nil }
            let versions: [String: TLSVersion] = ["1.0": .tlsv1, "1.1": .tlsv11, "1.2": .tlsv12, "1.3": .tlsv13]
            let min = tls.string("min_version", default: "1.2")
            if let v = versions[min] { minVersion = v } else { tls.report("min_version", "expected 1.0, 1.1, 1.2 or 1.3, got \"\(min)\"") }
            if let max = tls.optionalString("max_version") {
                if let v = versions[max] { maxVersion = v } else { tls.report("max_version", "expected 1.0, 1.1, 1.2 or 1.3, got \"\(max)\"") }
            }
            if tls.contains("reload_interval") {
                let d = tls.duration("reload_interval", default: .zero)
                reloadInterval = d > .zero ? d : nil
            }
        } else {
            unsupported = ["server_name_override", "min_version", "max_version", "reload_interval"]
        }
        for key in unsupported where tls.contains(key) {
            _ = tls.raw(key)
            tls.report(key, "not supported by otelsink's \(exporter) exporter yet")
        }
    }
}
