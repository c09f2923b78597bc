import CollectorCore

/// Request latency of the query API (`otelsink_query_request_duration_seconds{route}`): the query API calls
/// ``QueryAPILatency/observe(route:_:)`` once per request.
public struct QueryAPILatency: Sendable {
    let registry: TelemetryRegistry
    public init(registry: TelemetryRegistry) { self.registry = registry }

    public static let bounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    public func observe(route: String, _ duration: Duration) {
        registry.histogram(
            "otelsink_query_request_duration_seconds", help: "Query API request latency by route.",
            bounds: Self.bounds, labels: ["route": route]
        ).observe(duration)
    }
}
