/// What the `loadbalancing` exporter hashes to choose a backend (`routing_key`).
public enum RoutingKey: String, Sendable, Equatable, CaseIterable {
    /// A span's (or log record's) trace ID: every span of a trace reaches the same backend. Metrics have no trace
    /// ID and are routed by `service`; log records without one by their resource's `service.name`.
    case traceID
    /// The resource's `service.name`.
    case service
    /// All the resource's attributes.
    case resource
}
