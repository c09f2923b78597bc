import CollectorCore
import OTLP

// Consumers that count what crosses a component boundary under otelcol's metric names, wrapped around receivers'
// pipelines, processors and exporters by `Collector`, so no component has to count for itself.

/// Counts what a receiver hands to its pipelines: accepted when the pipeline took it, refused when it threw.
struct ReceiverObserver: Sendable {
    let registry: TelemetryRegistry
    let receiver: ComponentID
    let counters: [ReceiverTransport: [Signal: PipelineTelemetry.ReceiverCounters]]

    init(registry: TelemetryRegistry, receiver: ComponentID) {
        self.registry = registry
        self.receiver = receiver
        var all: [ReceiverTransport: [Signal: PipelineTelemetry.ReceiverCounters]] = [:]
        // Series for the real transports exist from the start (at zero); `unspecified` ones only once used.
        for t in [ReceiverTransport.grpc, .http] {
            for s in Signal.allCases { all[t, default: [:]][s] = .init(registry: registry, receiver: receiver, transport: t, signal: s) }
        }
        counters = all
    }

    func counters(_ signal: Signal) -> PipelineTelemetry.ReceiverCounters {
        let transport = ReceiverTransport.current
        return counters[transport]?[signal] ?? .init(registry: registry, receiver: receiver, transport: transport, signal: signal)
    }

    func wrap(_ next: SignalConsumers) -> SignalConsumers {
        SignalConsumers(
            traces: next.traces.map { c in ObservedTraces(next: c) { n, ok in self.count(.traces, n, ok) } },
            metrics: next.metrics.map { c in ObservedMetrics(next: c) { n, ok in self.count(.metrics, n, ok) } },
            logs: next.logs.map { c in ObservedLogs(next: c) { n, ok in self.count(.logs, n, ok) } })
    }

    private func count(_ signal: Signal, _ n: Int, _ ok: Bool) {
        let c = counters(signal)
        (ok ? c.accepted : c.refused).add(n)
    }
}

extension SignalConsumers {
    /// Only the consumers for `signals` (so counters exist only for signals a component is used for).
    func restricted(to signals: Set<Signal>) -> SignalConsumers {
        SignalConsumers(
            traces: signals.contains(.traces) ? traces : nil,
            metrics: signals.contains(.metrics) ? metrics : nil,
            logs: signals.contains(.logs) ? logs : nil)
    }

    /// Counts what an exporter was given: sent when it succeeded, send-failed when it threw.
    func observedAsExporter(_ id: ComponentID, registry: TelemetryRegistry) -> SignalConsumers {
        wrapped { s in
            let c = PipelineTelemetry.ExporterCounters(registry: registry, exporter: id, signal: s)
            return { n, ok in (ok ? c.sent : c.failed).add(n) }
        }
    }

    /// Counts what a processor was given (`incoming`).
    func observedAsProcessorInput(_ id: ComponentID, registry: TelemetryRegistry) -> SignalConsumers {
        wrapped { s in
            let c = PipelineTelemetry.ProcessorCounters(registry: registry, processor: id, signal: s)
            return { n, _ in c.incoming.add(n) }
        }
    }

    /// Counts what a processor passed on (`outgoing`).
    func observedAsProcessorOutput(_ id: ComponentID, registry: TelemetryRegistry) -> SignalConsumers {
        wrapped { s in
            let c = PipelineTelemetry.ProcessorCounters(registry: registry, processor: id, signal: s)
            return { n, _ in c.outgoing.add(n) }
        }
    }

    private func wrapped(_ record: (Signal) -> @Sendable (Int, Bool) -> Void) -> SignalConsumers {
        SignalConsumers(
            traces: traces.map { ObservedTraces(next: $0, record: record(.traces)) },
            metrics: metrics.map { ObservedMetrics(next: $0, record: record(.metrics)) },
            logs: logs.map { ObservedLogs(next: $0, record: record(.logs)) })
    }
}

struct ObservedTraces: TracesConsumer {
    let next: any TracesConsumer
    let record: @Sendable (Int, Bool) -> Void
    var mutatesData: Bool { next.mutatesData }

    func consume(_ request: consuming ExportTraceRequest) async throws {
        let n = request.spanCount
        do { try await next.consume(consume request) } catch {
            record(n, false)
            throw error
        }
        record(n, true)
    }

    func consume(_ request: EncodedTraces) async throws {
        let n = request.spanCount
        do { try await next.consume(request) } catch {
            record(n, false)
            throw error
        }
        record(n, true)
    }
}

struct ObservedMetrics: MetricsConsumer {
    let next: any MetricsConsumer
    let record: @Sendable (Int, Bool) -> Void
    var mutatesData: Bool { next.mutatesData }

    func consume(_ request: consuming ExportMetricsRequest) async throws {
        let n = request.dataPointCount
        do { try await next.consume(consume request) } catch {
            record(n, false)
            throw error
        }
        record(n, true)
    }

    func consume(_ request: EncodedMetrics) async throws {
        let n = request.dataPointCount
        do { try await next.consume(request) } catch {
            record(n, false)
            throw error
        }
        record(n, true)
    }
}

struct ObservedLogs: LogsConsumer {
    let next: any LogsConsumer
    let record: @Sendable (Int, Bool) -> Void
    var mutatesData: Bool { next.mutatesData }

    func consume(_ request: consuming ExportLogsRequest) async throws {
        let n = request.logRecordCount
        do { try await next.consume(consume request) } catch {
            record(n, false)
            throw error
        }
        record(n, true)
    }

    func consume(_ request: EncodedLogs) async throws {
        let n = request.recordCount
        do { try await next.consume(request) } catch {
            record(n, false)
            throw error
        }
        record(n, true)
    }
}
