import CollectorCore
import OTLP
import ServiceLifecycle

/// A processor that handles each batch inside `consume`, with no background work and nothing buffered: it lives
/// until graceful shutdown and has nothing to flush. Attribute edits, filters and the probabilistic sampler are this.
public protocol StatelessProcessor: Processor {}

extension StatelessProcessor {
    public func run() async throws {
        try? await gracefulShutdown()
    }
}

extension SignalConsumers {
    // What an editing stateless processor's `consume` does: edit the request it owns in place with `edit` (which
    // returns false when nothing is left to forward), then hand it on. Nothing happens without a consumer for it.

    func forward(_ request: consuming ExportTraceRequest, editedBy edit: (inout ExportTraceRequest) -> Bool) async throws {
        guard let downstream = traces else { return }
        var request = consume request
        if edit(&request) { try await downstream.consume(consume request) }
    }

    func forward(_ request: consuming ExportMetricsRequest, editedBy edit: (inout ExportMetricsRequest) -> Bool) async throws {
        guard let downstream = metrics else { return }
        var request = consume request
        if edit(&request) { try await downstream.consume(consume request) }
    }

    func forward(_ request: consuming ExportLogsRequest, editedBy edit: (inout ExportLogsRequest) -> Bool) async throws {
        guard let downstream = logs else { return }
        var request = consume request
        if edit(&request) { try await downstream.consume(consume request) }
    }
}
