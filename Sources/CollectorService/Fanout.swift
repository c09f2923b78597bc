import CollectorCore
import OTLP

/// Delivers traces to several consumers concurrently; succeeds only when all succeed.
///
/// Messages are value types with copy-on-write storage, so a consumer that mutates its copy never disturbs
/// another: "copy only for mutating consumers" falls out of the representation.
struct TracesFanout: TracesConsumer {
    let consumers: [any TracesConsumer]
    var mutatesData: Bool { consumers.contains { $0.mutatesData } }

    func consume(_ traces: consuming ExportTraceRequest) async throws {
        if consumers.count == 1 { return try await consumers[0].consume(consume traces) }
        let shared = copy traces
        try await fanout(consumers) { try await $0.consume(shared) }
    }

    /// Each consumer gets the encoded request and decodes it only if it needs to.
    func consume(_ traces: EncodedTraces) async throws {
        try await fanout(consumers) { try await $0.consume(traces) }
    }
}

struct MetricsFanout: MetricsConsumer {
    let consumers: [any MetricsConsumer]
    var mutatesData: Bool { consumers.contains { $0.mutatesData } }

    func consume(_ metrics: consuming ExportMetricsRequest) async throws {
        if consumers.count == 1 { return try await consumers[0].consume(consume metrics) }
        let shared = copy metrics
        try await fanout(consumers) { try await $0.consume(shared) }
    }

    /// Each consumer gets the encoded request and decodes it only if it needs to.
    func consume(_ metrics: EncodedMetrics) async throws {
        try await fanout(consumers) { try await $0.consume(metrics) }
    }
}

struct LogsFanout: LogsConsumer {
    let consumers: [any LogsConsumer]
    var mutatesData: Bool { consumers.contains { $0.mutatesData } }

    func consume(_ logs: consuming ExportLogsRequest) async throws {
        if consumers.count == 1 { return try await consumers[0].consume(consume logs) }
        let shared = copy logs
        try await fanout(consumers) { try await $0.consume(shared) }
    }

    /// Each consumer gets the encoded request and decodes it only if it needs to.
    func consume(_ logs: EncodedLogs) async throws {
        try await fanout(consumers) { try await $0.consume(logs) }
    }
}

/// Runs `deliver` on every consumer concurrently and reports the combined failure, if any.
private func fanout<C: Sendable>(_ consumers: [C], _ deliver: @escaping @Sendable (C) async throws -> Void) async throws {
    if consumers.count == 1 {
        try await deliver(consumers[0])
        return
    }
    let errors = await withTaskGroup(of: PipelineError?.self) { group in
        for c in consumers {
            group.addTask {
                do {
                    try await deliver(c)
                    return nil
                } catch { return PipelineError.classify(error) }
            }
        }
        var errors: [PipelineError] = []
        for await e in group { if let e { errors.append(e) } }
        return errors
    }
    if let e = PipelineError.combine(errors) { throw e }
}

extension SignalConsumers {
    /// One consumer per signal that delivers to every consumer in `all` handling it.
    static func fanout(_ all: [SignalConsumers]) -> SignalConsumers {
        let t = all.compactMap(\.traces)
        let m = all.compactMap(\.metrics)
        let l = all.compactMap(\.logs)
        return SignalConsumers(
            traces: t.isEmpty ? nil : (t.count == 1 ? t[0] : TracesFanout(consumers: t)),
            metrics: m.isEmpty ? nil : (m.count == 1 ? m[0] : MetricsFanout(consumers: m)),
            logs: l.isEmpty ? nil : (l.count == 1 ? l[0] : LogsFanout(consumers: l))
        )
    }

    /// Keeps only the consumer for `signal`.
    func only(_ signal: Signal) -> SignalConsumers {
        switch signal {
        case .traces: SignalConsumers(traces: traces)
        case .metrics: SignalConsumers(metrics: metrics)
        case .logs: SignalConsumers(logs: logs)
        }
    }
}
