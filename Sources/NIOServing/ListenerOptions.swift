import CollectorCore
import NIOCore

/// How a ``TCPServer`` bounds and secures its connections (from a component's ``ListenerSettings``).
public struct ListenerOptions: Sendable {
    public var maxConnections: Int
    public var headerTimeout: TimeAmount
    public var idleTimeout: TimeAmount
    public var writeTimeout: TimeAmount
    /// The TLS context every connection starts with; nil: cleartext.
    public var tls: TLSServerContext?

    public init(
        maxConnections: Int, headerTimeout: TimeAmount = .seconds(10), idleTimeout: TimeAmount = .seconds(60),
        writeTimeout: TimeAmount = .seconds(30), tls: TLSServerContext? = nil
    ) {
        self.maxConnections = maxConnections
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.writeTimeout = writeTimeout
        self.tls = tls
    }

    /// The options `settings` describe; builds the TLS context (reading the files) when it has `tls`.
    /// - Parameter applicationProtocols: ALPN protocols to offer over TLS, in order of preference.
    public init(_ settings: ListenerSettings, applicationProtocols: [String]) throws {
        self.init(
            maxConnections: settings.maxConnections, headerTimeout: .init(settings.readHeaderTimeout),
            idleTimeout: .init(settings.idleTimeout), writeTimeout: .init(settings.writeTimeout),
            tls: try settings.tls.map { try TLSServerContext(settings: $0, applicationProtocols: applicationProtocols) })
    }
}
