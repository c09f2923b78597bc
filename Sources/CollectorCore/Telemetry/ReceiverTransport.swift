/// The transport a receiver took the data in on; self-telemetry labels receiver counters with it
/// (`transport="grpc"`), as otelcol does.
public enum ReceiverTransport: String, Sendable {
    case grpc
    case http
    /// Data that came in some other way (fed straight into a pipeline, as tests and benchmarks do).
    case unspecified = ""

    /// The transport of the export the current task serves, visible to the pipeline while the receiver awaits it.
    @TaskLocal public static var current: ReceiverTransport = .unspecified
}
