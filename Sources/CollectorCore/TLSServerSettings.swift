import Foundation

/// A server's `tls` settings, with otelcol's keys (configtls `ServerConfig`): the certificate and key it presents,
/// the CA that client certificates must chain to (`client_ca_file`: mutual TLS), the protocol versions and cipher
/// suites it accepts, and how often the files are read again (`reload_interval`).
public struct TLSServerSettings: Sendable, Equatable {
    /// A TLS protocol version as otelcol's configs write it (`"1.2"`).
    public enum Version: String, Sendable, Comparable, CaseIterable {
        case tls10 = "1.0"
        case tls11 = "1.1"
        case tls12 = "1.2"
        case tls13 = "1.3"

        public static func < (a: Version, b: Version) -> Bool {
            allCases.firstIndex(of: a) ?? 0 < allCases.firstIndex(of: b) ?? 0
        }
    }

    public var certFile: String
    public var keyFile: String
    /// Accepted for compatibility with otelcol configs; a server verifies clients with ``clientCAFile``.
    public var caFile: String?
    /// When set, a client must present a certificate signed by this CA (mutual TLS).
    public var clientCAFile: String?
    public var minVersion: Version = .tls12
    /// nil: the newest this build supports (1.3).
    public var maxVersion: Version?
    /// IANA names (`TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`) of the TLS 1.2 suites offered; empty: the library's
    /// defaults. TLS 1.3 suites are not configurable (as in Go's crypto/tls).
    public var cipherSuites: [String] = []
    /// How often the certificate, key and CA files are read again; new connections use what changed. nil: never.
    public var reloadInterval: Duration?

    public init(certFile: String, keyFile: String) {
        self.certFile = certFile
        self.keyFile = keyFile
    }

    /// TLS 1.2 cipher suites by IANA name, with their code points (the set swift-nio-ssl's BoringSSL offers).
    public static let cipherSuiteCodes: [String: UInt16] = [
        "TLS_RSA_WITH_AES_128_CBC_SHA": 0x002F, "TLS_RSA_WITH_AES_256_CBC_SHA": 0x0035,
        "TLS_RSA_WITH_AES_128_GCM_SHA256": 0x009C, "TLS_RSA_WITH_AES_256_GCM_SHA384": 0x009D,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": 0xC009, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": 0xC00A,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": 0xC013, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": 0xC014,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": 0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": 0xC02C,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": 0xC02F, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": 0xC030,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": 0xCCA8, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": 0xCCA9,
        // Go's names for the two ChaCha20 suites.
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305": 0xCCA8, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305": 0xCCA9,
    ]

    /// Reads `tls` under `r` when the user wrote it; nil otherwise (the listener stays cleartext). Missing files
    /// and unknown versions or suites are reported with their paths.
    public static func read(_ r: ConfigReader, key: String = "tls") -> TLSServerSettings? {
        guard r.contains(key) else { return nil }
        let t = r.child(key)
        let cert = t.optionalString("cert_file")
        let key = t.optionalString("key_file")
        if cert == nil { t.report("cert_file", "is required when tls is set (the server's certificate, PEM)") }
        if key == nil { t.report("key_file", "is required when tls is set (the server's private key, PEM)") }
        var s = TLSServerSettings(certFile: cert ?? "", keyFile: key ?? "")
        s.caFile = t.optionalString("ca_file")
        s.clientCAFile = t.optionalString("client_ca_file")
        for (name, path) in [("cert_file", cert), ("key_file", key), ("ca_file", s.caFile), ("client_ca_file", s.clientCAFile)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) {
                t.report(name, "cannot read \(path)")
            }
        }
        func version(_ name: String, _ value: Version?) -> Version? {
            let text = t.string(name, default: value?.rawValue ?? "")
            if text.isEmpty { return nil }
            guard let v = Version(rawValue: text) else {
                t.report(name, "expected one of 1.0, 1.1, 1.2, 1.3; got \"\(text)\"")
                return value
            }
            return v
        }
        s.minVersion = version("min_version", .tls12) ?? .tls12
        s.maxVersion = version("max_version", nil)
        if let max = s.maxVersion, max < s.minVersion {
            t.report("max_version", "must not be below min_version (\(s.minVersion.rawValue))")
        }
        s.cipherSuites = t.stringList("cipher_suites")
        for name in s.cipherSuites where cipherSuiteCodes[name] == nil {
            t.report(
                "cipher_suites",
                "unknown or unsupported cipher suite \"\(name)\"; supported: \(cipherSuiteCodes.keys.sorted().joined(separator: ", "))")
        }
        if t.contains("reload_interval") {
            s.reloadInterval = t.duration("reload_interval", default: .seconds(60), minimum: .seconds(1))
        }
        return s
    }
}
