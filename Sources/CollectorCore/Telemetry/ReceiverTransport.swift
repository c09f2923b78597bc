/// The transport a receiver took the data in on (`grpc`, `http`), visible to the pipeline while the receiver
/// awaits it; self-telemetry labels receiver counters with it (`transport="grpc"`), as otelcol does.
public enum ReceiverTransport {
    @TaskLocal public static var current: String = ""
}
