import CollectorCore
import OTLP

/// Takes every signal and drops it: the pipeline behind the receivers the connection targets feed.
struct DropEverything: TracesConsumer, MetricsConsumer, LogsConsumer {
    func consume(_ t: ExportTraceRequest) async throws {}
    func consume(_ m: ExportMetricsRequest) async throws {}
    func consume(_ l: ExportLogsRequest) async throws {}
}
