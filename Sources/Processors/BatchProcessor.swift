import CollectorCore
import OTLP
import ServiceLifecycle

/// Settings of the `batch` processor, with otelcol's keys and defaults.
public struct BatchProcessorConfig: ComponentConfig, Equatable {
    /// Items (spans, data points, log records) that trigger a send regardless of the timeout; not a cap.
    public var sendBatchSize = 8192
    /// How long a batch's first item waits at most; 0 sends every request at once (split by the max size).
    public var timeout: Duration = .milliseconds(200)
    /// Largest batch sent; 0 means no cap. Must be at least `send_batch_size` when set.
    public var sendBatchMaxSize = 0

    public init(sendBatchSize: Int = 8192, timeout: Duration = .milliseconds(200), sendBatchMaxSize: Int = 0) {
        self.sendBatchSize = sendBatchSize
        self.timeout = timeout
        self.sendBatchMaxSize = sendBatchMaxSize
    }

    public init(reading r: ConfigReader) {
        sendBatchSize = r.int("send_batch_size", default: sendBatchSize, range: 0...Int(Int32.max))
        timeout = r.duration("timeout", default: timeout)
        sendBatchMaxSize = r.int("send_batch_max_size", default: sendBatchMaxSize, range: 0...Int(Int32.max))
        if sendBatchMaxSize > 0, sendBatchMaxSize < sendBatchSize {
            r.report("send_batch_max_size", "must be 0 (no cap) or at least send_batch_size (\(sendBatchSize)), got \(sendBatchMaxSize)")
        }
        // otelcol batches per client-metadata value; otelsink's pipeline carries no request metadata.
        if !r.stringList("metadata_keys").isEmpty {
            r.report("metadata_keys", "batching by request metadata is not supported by otelsink; remove metadata_keys")
        }
        _ = r.int("metadata_cardinality_limit", default: 1000, range: 0...Int(Int32.max))
    }
}

/// The `batch` processor: merges requests into batches of `send_batch_size` items or whatever arrived within
/// `timeout`, and splits anything above `send_batch_max_size`. Callers complete when their items have been
/// delivered downstream (see ``Batcher``); on graceful shutdown it sends what it holds before returning.
public final class BatchProcessor: Processor, TracesConsumer, MetricsConsumer, LogsConsumer {
    let traces: Batcher<ExportTraceRequest>?
    let metrics: Batcher<ExportMetricsRequest>?
    let logs: Batcher<ExportLogsRequest>?

    public init(config: BatchProcessorConfig, next: SignalConsumers, clock: any MonotonicClock = SystemClock()) {
        let settings = BatchSettings(
            sendBatchSize: config.sendBatchSize, sendBatchMaxSize: config.sendBatchMaxSize, timeout: config.timeout)
        traces = next.traces.map { n in Batcher(settings: settings, clock: clock) { try await n.consume($0) } }
        metrics = next.metrics.map { n in Batcher(settings: settings, clock: clock) { try await n.consume($0) } }
        logs = next.logs.map { n in Batcher(settings: settings, clock: clock) { try await n.consume($0) } }
    }

    public var consumers: SignalConsumers {
        SignalConsumers(
            traces: traces == nil ? nil : self,
            metrics: metrics == nil ? nil : self,
            logs: logs == nil ? nil : self)
    }

    /// Merging builds new requests and never modifies the caller's.
    public var mutatesData: Bool { false }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            if let traces { group.addTask { await traces.run() } }
            if let metrics { group.addTask { await metrics.run() } }
            if let logs { group.addTask { await logs.run() } }
        }
    }

    /// Items waiting in unsent batches, across signals.
    public var pendingItemCount: Int {
        (traces?.pendingCount ?? 0) + (metrics?.pendingCount ?? 0) + (logs?.pendingCount ?? 0)
    }

    public func consume(_ request: ExportTraceRequest) async throws { try await traces?.consume(request) }
    public func consume(_ request: ExportMetricsRequest) async throws { try await metrics?.consume(request) }
    public func consume(_ request: ExportLogsRequest) async throws { try await logs?.consume(request) }
}

public struct BatchProcessorFactory: ProcessorFactory {
    public init() {}
    public var type: String { "batch" }
    public var kind: ComponentKind { .processor }
    public var signals: Set<Signal> { [.traces, .metrics, .logs] }
    public var summary: String { "merges requests into batches by size and timeout; callers complete when their batch is delivered" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { BatchProcessorConfig(reading: reader) }

    public func makeProcessor(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Processor {
        BatchProcessor(config: try config.as(BatchProcessorConfig.self, for: "batch"), next: next, clock: context.clock)
    }
}
