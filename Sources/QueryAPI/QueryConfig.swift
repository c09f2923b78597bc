import CollectorCore

/// Settings of the `query` extension (the Jaeger-compatible query API).
public struct QueryConfig: ComponentConfig, Equatable {
    /// Where the API listens.
    public var endpoint = ListenEndpoint(host: "127.0.0.1", port: 16686)
    /// The `sqlite` exporter whose database the API reads (a component ID, as in `exporters`).
    public var storage: String = "sqlite"
    /// Traces a search returns when the request gives no `limit`.
    public var defaultLimit: Int = 20
    /// The most traces a search returns; a larger `limit` is lowered to this.
    public var maxLimit: Int = 1000
    /// How far back a search looks when the request gives no `start` (Jaeger's default: two days).
    public var defaultLookback: Duration = .seconds(48 * 3600)
    /// A search, a lookup by ID or a dependency scan stops after this long and answers with what it found, saying
    /// it is incomplete.
    public var timeBudget: Duration = .seconds(2)
    /// The most spans one response carries, across all its traces; a trace that reaches it is cut short and the
    /// answer says so (a 20,000-span response is about 10-20 MB of JSON).
    public var maxSpansPerResponse: Int = 20_000
    /// The most attribute criteria (`tags`, `tag`, `query.attributes`) one search may give; more is a 400.
    public var maxTagCriteria: Int = 32
    /// Connections, deadlines and TLS of the listener.
    public var listener = ListenerSettings(maxConnections: 256)
    /// `auth.authenticator`: the extension that checks each request's credentials (`/health` stays open).
    public var auth: ComponentID?

    public init() {}

    public init(reading r: ConfigReader) {
        let text = r.string("endpoint", default: endpoint.description)
        if let e = ListenEndpoint(parsing: text) {
            endpoint = e
        } else {
            r.report("endpoint", "expected host:port with an IP address or localhost (e.g. \"localhost:16686\"), got \"\(text)\"")
        }
        storage = r.string("storage", default: storage)
        defaultLimit = r.int("default_limit", default: defaultLimit, range: 1...100_000)
        maxLimit = r.int("max_limit", default: maxLimit, range: 1...100_000)
        if defaultLimit > maxLimit { r.report("default_limit", "must not be above max_limit (\(maxLimit))") }
        defaultLookback = r.duration("default_lookback", default: defaultLookback, minimum: .seconds(1))
        timeBudget = r.duration("time_budget", default: timeBudget, minimum: .milliseconds(10))
        maxSpansPerResponse = r.int("max_spans_per_response", default: maxSpansPerResponse, range: 1...10_000_000)
        maxTagCriteria = r.int("max_tag_criteria", default: maxTagCriteria, range: 1...1_000)
        listener = ListenerSettings.readHTTP(r, defaults: listener)
        auth = r.authenticatorReference()
    }
}
