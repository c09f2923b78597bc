import CollectorCore
import Logging
import OTLP
import ServiceLifecycle

/// A forwarding exporter (`otlp`, `otlphttp`): takes traces, metrics and logs, queues them in a ``SendingQueue``
/// (in memory, or in a storage extension with `sending_queue.storage`) and sends them to one upstream, with
/// retries. Requests that arrive in wire form and that no processor changed go upstream as the bytes received.
public final class ForwardingExporter: Exporter, TracesConsumer, MetricsConsumer, LogsConsumer {
    let context: ComponentContext
    let upstream: any UpstreamSender
    let queue: SendingQueue
    private let connect: @Sendable () async throws -> Void
    private let disconnect: @Sendable () async -> Void
    private let telemetry: ForwardingTelemetry

    /// - Parameters:
    ///   - connect: runs the upstream's connections until `disconnect` is called.
    /// - Throws: when the persistent queue's storage cannot be opened or read.
    init(
        upstream: any UpstreamSender, queue settings: SendingQueueSettings, retry: RetryPolicy, breaker: CircuitBreakerSettings,
        context: ComponentContext,
        connect: @escaping @Sendable () async throws -> Void, disconnect: @escaping @Sendable () async -> Void
    ) throws {
        self.context = context
        self.upstream = upstream
        self.connect = connect
        self.disconnect = disconnect
        let telemetry = ForwardingTelemetry(context: context)
        self.telemetry = telemetry
        let store = try settings.storage.map { try context.extensions.storage($0).openQueue(owner: context.id, kind: .exporter, name: "queue") }
        let queue = SendingQueue(
            settings: settings, retry: retry, breaker: breaker, sender: upstream, clock: context.clock,
            logger: context.logger, store: store, report: telemetry.record)
        self.queue = queue
        telemetry.registerQueueGauges(breakerEnabled: breaker.enabled) { queue }
        try queue.restore()
    }

    public var consumers: SignalConsumers { SignalConsumers(traces: self, metrics: self, logs: self) }
    public var countsItsOwnDelivery: Bool { true }

    private func submit(_ request: OutgoingRequest) async throws {
        do { try await queue.submit(request) } catch {
            telemetry.recordEnqueueFailed(request.signal, items: request.items)
            throw error
        }
    }

    public func consume(_ traces: ExportTraceRequest) async throws {
        try await submit(OutgoingRequest(signal: .traces, bytes: try traces.serializedBytes(), items: traces.spanCount))
    }

    public func consume(_ traces: EncodedTraces) async throws {
        try await submit(OutgoingRequest(signal: .traces, bytes: traces.bytes, items: traces.spanCount))
    }

    public func consume(_ metrics: ExportMetricsRequest) async throws {
        try await submit(OutgoingRequest(signal: .metrics, bytes: try metrics.serializedBytes(), items: metrics.dataPointCount))
    }

    public func consume(_ metrics: EncodedMetrics) async throws {
        try await submit(OutgoingRequest(signal: .metrics, bytes: metrics.bytes, items: metrics.dataPointCount))
    }

    public func consume(_ logs: ExportLogsRequest) async throws {
        let items = logs.resourceLogs.reduce(0) { $0 + $1.scopeLogs.reduce(0) { $0 + $1.logRecords.count } }
        try await submit(OutgoingRequest(signal: .logs, bytes: try logs.serializedBytes(), items: items))
    }

    public func consume(_ logs: EncodedLogs) async throws {
        try await submit(OutgoingRequest(signal: .logs, bytes: logs.bytes, items: logs.recordCount))
    }

    /// Connects and sends until graceful shutdown; then takes nothing more, lets the queue drain for up to 10 s, and
    /// closes the connection. What is left is dropped from an in-memory queue (logged and counted) and kept by a
    /// persistent one for the next start. Cancellation (a failed start of another component) ends it at once.
    public func run() async throws {
        let queue = self.queue
        let connect = self.connect
        let disconnect = self.disconnect
        let logger = context.logger
        await withDiscardingTaskGroup { group in
            group.addTask { try? await connect() }
            group.addTask {
                await withTaskCancellationHandler {
                    await queue.run()
                } onCancel: {
                    queue.close()
                }
            }
            try? await gracefulShutdown()
            queue.close()
            let deadline = ContinuousClock.now + .seconds(10)
            while queue.size > 0, ContinuousClock.now < deadline, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(20))
            }
            if queue.size > 0 && queue.isPersistent {
                logger.info("shutting down with exports still queued; they stay on disk for the next start", metadata: ["queued": "\(queue.size)"])
            } else if queue.size > 0 {
                logger.warning("shutting down with exports still queued; they are dropped", metadata: ["queued": "\(queue.size)"])
            }
            // Cancelled consumers give up on what they hold (counted as dropped) instead of retrying.
            group.cancelAll()
            await disconnect()
        }
    }
}
