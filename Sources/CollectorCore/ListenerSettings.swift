/// What every listener bounds and secures, whatever its protocol: how many connections it holds, how long a
/// connection may take to send a request head and may stay idle, how long a response may take to be read, and TLS.
///
/// Keys follow otelcol's confighttp (`read_header_timeout`, `idle_timeout`, `write_timeout`, `tls`) and, for gRPC,
/// configgrpc's `keepalive.server_parameters.max_connection_idle`. `max_connections` is otelsink's own: otelcol
/// has no limit.
public struct ListenerSettings: Sendable, Equatable {
    /// Connections held open at once; past it new ones are closed as soon as they are accepted.
    public var maxConnections: Int
    /// Time from a connection's first byte (or its opening) to a complete request head. Not extended by more bytes.
    public var readHeaderTimeout: Duration
    /// A connection with no request in progress for this long is closed (gRPC: GOAWAY, then close).
    public var idleTimeout: Duration
    /// A response the client does not read within this long closes the connection (HTTP/1.1 listeners).
    public var writeTimeout: Duration
    public var tls: TLSServerSettings?

    public init(
        maxConnections: Int, readHeaderTimeout: Duration = .seconds(10), idleTimeout: Duration = .seconds(60),
        writeTimeout: Duration = .seconds(30), tls: TLSServerSettings? = nil
    ) {
        self.maxConnections = maxConnections
        self.readHeaderTimeout = readHeaderTimeout
        self.idleTimeout = idleTimeout
        self.writeTimeout = writeTimeout
        self.tls = tls
    }

    /// Reads an HTTP listener's keys from `r`, starting from `defaults`.
    public static func readHTTP(_ r: ConfigReader, defaults: ListenerSettings) -> ListenerSettings {
        var s = defaults
        s.maxConnections = r.int("max_connections", default: s.maxConnections, range: 1...1_000_000)
        s.readHeaderTimeout = r.duration("read_header_timeout", default: s.readHeaderTimeout, minimum: .milliseconds(100))
        s.idleTimeout = r.duration("idle_timeout", default: s.idleTimeout, minimum: .milliseconds(100))
        s.writeTimeout = r.duration("write_timeout", default: s.writeTimeout, minimum: .milliseconds(100))
        s.tls = TLSServerSettings.read(r)
        return s
    }

    /// Reads a gRPC listener's keys from `r`: `max_connections`, `read_header_timeout` (the HTTP/2 preface) and
    /// `tls`. The idle timeout is `keepalive.server_parameters.max_connection_idle`, read with the rest of `keepalive`.
    public static func readGRPC(_ r: ConfigReader, defaults: ListenerSettings) -> ListenerSettings {
        var s = defaults
        s.maxConnections = r.int("max_connections", default: s.maxConnections, range: 1...1_000_000)
        s.readHeaderTimeout = r.duration("read_header_timeout", default: s.readHeaderTimeout, minimum: .milliseconds(100))
        s.tls = TLSServerSettings.read(r)
        return s
    }
}
