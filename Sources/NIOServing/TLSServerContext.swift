import CollectorCore
import Foundation
import NIOCore
import NIOSSL
import Synchronization

/// The TLS context a listener hands each new connection, built from ``TLSServerSettings`` with swift-nio-ssl.
///
/// With `reload_interval` set, ``reloadIfChanged()`` (called on that interval by ``TCPServer``) reads the
/// certificate, key and CA files again and, when their bytes changed and still make a valid context, swaps it in:
/// new connections get the new certificate, connections already open keep theirs. A file that is briefly
/// inconsistent (a certificate written before its key) leaves the previous context in use until the next check.
public final class TLSServerContext: Sendable {
    public let settings: TLSServerSettings
    private let applicationProtocols: [String]
    private let current: Mutex<(context: NIOSSLContext, files: [Data])>

    /// - Parameter applicationProtocols: ALPN protocols offered, in order of preference (`["h2"]` for gRPC).
    public init(settings: TLSServerSettings, applicationProtocols: [String]) throws {
        self.settings = settings
        self.applicationProtocols = applicationProtocols
        let files = try Self.readFiles(settings)
        current = Mutex((try Self.makeContext(settings, applicationProtocols, files), files))
    }

    /// The context for a new connection.
    public var context: NIOSSLContext { current.withLock { $0.context } }

    /// A server handler for one new connection.
    public func makeHandler() -> NIOSSLServerHandler { NIOSSLServerHandler(context: context) }

    /// Reads the files again; swaps in a new context when they changed. Returns true when it did, throws when the
    /// files changed but do not make a valid context (the old one stays).
    @discardableResult
    public func reloadIfChanged() throws -> Bool {
        let files = try Self.readFiles(settings)
        if current.withLock({ $0.files == files }) { return false }
        let made = try Self.makeContext(settings, applicationProtocols, files)
        current.withLock { $0 = (made, files) }
        return true
    }

    /// Certificate, key and client CA bytes, in that order (the CA empty when not set).
    private static func readFiles(_ s: TLSServerSettings) throws -> [Data] {
        func read(_ path: String, _ what: String) throws -> Data {
            do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw TLSSetupError("cannot read the \(what) \(path): \(error.localizedDescription)")
            }
        }
        return [
            try read(s.certFile, "certificate"), try read(s.keyFile, "private key"),
            try s.clientCAFile.map { try read($0, "client CA") } ?? Data(),
        ]
    }

    private static func makeContext(_ s: TLSServerSettings, _ alpn: [String], _ files: [Data]) throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do { chain = try NIOSSLCertificate.fromPEMBytes(Array(files[0])) } catch {
            throw TLSSetupError("\(s.certFile) holds no valid PEM certificate: \(error)")
        }
        guard !chain.isEmpty else { throw TLSSetupError("\(s.certFile) holds no PEM certificate") }
        do { key = try NIOSSLPrivateKey(bytes: Array(files[1]), format: .pem) } catch {
            throw TLSSetupError("\(s.keyFile) holds no valid PEM private key: \(error)")
        }
        var config = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        config.minimumTLSVersion = nioVersion(s.minVersion)
        config.maximumTLSVersion = s.maxVersion.map(nioVersion)
        config.applicationProtocols = alpn
        if !s.cipherSuites.isEmpty {
            config.cipherSuiteValues = s.cipherSuites.compactMap { TLSServerSettings.cipherSuiteCodes[$0].map(NIOTLSCipher.init(rawValue:)) }
        }
        if let caPath = s.clientCAFile {
            let roots: [NIOSSLCertificate]
            do { roots = try NIOSSLCertificate.fromPEMBytes(Array(files[2])) } catch {
                throw TLSSetupError("\(caPath) holds no valid PEM certificate: \(error)")
            }
            guard !roots.isEmpty else { throw TLSSetupError("\(caPath) holds no PEM certificate") }
            // A client must present a certificate chaining to these roots; clients have no host name to check.
            config.certificateVerification = .noHostnameVerification
            config.trustRoots = .certificates(roots)
            config.sendCANameList = true
        }
        do { return try NIOSSLContext(configuration: config) } catch {
            throw TLSSetupError("cannot set up TLS with \(s.certFile) and \(s.keyFile): \(error)")
        }
    }

    private static func nioVersion(_ v: TLSServerSettings.Version) -> TLSVersion {
        switch v {
        case .tls10: .tlsv1
        case .tls11: .tlsv11
        case .tls12: .tlsv12
        case .tls13: .tlsv13
        }
    }
}

/// TLS could not be set up from the configured files; the message names the file and the cause.
public struct TLSSetupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
