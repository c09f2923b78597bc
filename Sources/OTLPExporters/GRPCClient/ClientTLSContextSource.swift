import CollectorCore
import NIOSSL
import Synchronization

/// The client TLS context of an upstream, built from its `tls` settings; with `reload_interval`, the files are read
/// again when a connection is opened after the interval, so a rotated client certificate or CA is picked up.
final class ClientTLSContextSource: Sendable {
    let settings: ClientTLSSettings
    private let cached: Mutex<(context: NIOSSLContext, built: ContinuousClock.Instant)>

    init(settings: ClientTLSSettings) throws {
        self.settings = settings
        cached = Mutex((try Self.build(settings), .now))
    }

    func context() throws -> NIOSSLContext {
        guard let interval = settings.reloadInterval else { return cached.withLock { $0.context } }
        let current = cached.withLock { $0 }
        guard ContinuousClock.now - current.built >= interval else { return current.context }
        let fresh = try Self.build(settings)
        cached.withLock { $0 = (fresh, .now) }
        return fresh
    }

    static func build(_ s: ClientTLSSettings) throws -> NIOSSLContext {
        var c = TLSConfiguration.makeClientConfiguration()
        c.applicationProtocols = ["h2"]
        c.minimumTLSVersion = s.minVersion
        if let max = s.maxVersion { c.maximumTLSVersion = max }
        if let ca = s.caFile { c.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(ca)) }
        if let cert = s.certFile, let key = s.keyFile {
            c.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
            c.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
        }
        if s.insecureSkipVerify { c.certificateVerification = .none }
        return try NIOSSLContext(configuration: c)
    }
}
