import CollectorCore
import OTLP
import Synchronization

/// Consumers whose target is set after they are handed out: a connector's output, built before the pipelines it
/// feeds. Bound once, before anything runs.
final class LateBoundConsumers: Sendable {
    private let target = Mutex(SignalConsumers())

    func bind(_ consumers: SignalConsumers) { target.withLock { $0 = consumers } }

    /// Forwarding consumers for `signals`.
    func consumers(_ signals: Set<Signal>) -> SignalConsumers {
        SignalConsumers(
            traces: signals.contains(.traces) ? Forward(owner: self) : nil,
            metrics: signals.contains(.metrics) ? Forward(owner: self) : nil,
            logs: signals.contains(.logs) ? Forward(owner: self) : nil)
    }

    struct Forward: TracesConsumer, MetricsConsumer, LogsConsumer {
        let owner: LateBoundConsumers
        var mutatesData: Bool { true }

        func consume(_ request: consuming ExportTraceRequest) async throws {
            guard let c = owner.target.withLock({ $0.traces }) else { return }
            try await c.consume(consume request)
        }

        func consume(_ request: EncodedTraces) async throws {
            guard let c = owner.target.withLock({ $0.traces }) else { return }
            try await c.consume(request)
        }

        func consume(_ request: consuming ExportMetricsRequest) async throws {
            guard let c = owner.target.withLock({ $0.metrics }) else { return }
            try await c.consume(consume request)
        }

        func consume(_ request: EncodedMetrics) async throws {
            guard let c = owner.target.withLock({ $0.metrics }) else { return }
            try await c.consume(request)
        }

        func consume(_ request: consuming ExportLogsRequest) async throws {
            guard let c = owner.target.withLock({ $0.logs }) else { return }
            try await c.consume(consume request)
        }

        func consume(_ request: EncodedLogs) async throws {
            guard let c = owner.target.withLock({ $0.logs }) else { return }
            try await c.consume(request)
        }
    }
}
