import CollectorCore

/// The gRPC receiver's `keepalive`, with otelcol's (configgrpc's) keys and grpc-go's defaults:
/// `server_parameters` (`max_connection_idle`, `max_connection_age`, `max_connection_age_grace`, `time`,
/// `timeout`) and `enforcement_policy` (`min_time`, `permit_without_stream`).
public struct GRPCKeepalive: Sendable, Equatable {
    /// A connection older than this is sent GOAWAY (with ±10 % jitter); nil: no limit.
    public var maxConnectionAge: Duration?
    /// After GOAWAY for age, calls in flight get this long before the connection is closed; nil: no limit.
    public var maxConnectionAgeGrace: Duration?
    /// With nothing received for this long, the server pings the client...
    public var time: Duration = .seconds(7200)
    /// ...and closes the connection when the ping is not answered within this.
    public var timeout: Duration = .seconds(20)
    /// Clients pinging more often than this get GOAWAY (ENHANCE_YOUR_CALM) after three such pings.
    public var minTime: Duration = .seconds(300)
    /// Whether clients may ping while no call is open.
    public var permitWithoutStream = false

    public init() {}

    /// Reads `keepalive`; `server_parameters.max_connection_idle` is the listener's idle timeout.
    init(reading k: ConfigReader, listener: inout ListenerSettings) {
        let sp = k.child("server_parameters")
        listener.idleTimeout = sp.duration("max_connection_idle", default: listener.idleTimeout, minimum: .seconds(1))
        if sp.contains("max_connection_age") {
            maxConnectionAge = sp.duration("max_connection_age", default: .seconds(3600), minimum: .seconds(1))
        }
        if sp.contains("max_connection_age_grace") {
            maxConnectionAgeGrace = sp.duration("max_connection_age_grace", default: .seconds(30), minimum: .zero)
        }
        time = sp.duration("time", default: time, minimum: .seconds(1))
        timeout = sp.duration("timeout", default: timeout, minimum: .seconds(1))
        let ep = k.child("enforcement_policy")
        minTime = ep.duration("min_time", default: minTime, minimum: .zero)
        permitWithoutStream = ep.bool("permit_without_stream", default: permitWithoutStream)
    }
}
