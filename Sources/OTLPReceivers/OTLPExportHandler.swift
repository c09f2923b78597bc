import CollectorCore
import OTLP

/// The transport-independent part of an OTLP export: validate IDs, hand to the pipeline, build the answer.
struct OTLPExportHandler: Sendable {
    let next: SignalConsumers
    /// `grpc` or `http`: what self-telemetry labels this receiver's counts with (``ReceiverTransport``).
    var transport = ReceiverTransport.unspecified

    /// A successful answer; `rejected` > 0 becomes `partial_success`.
    struct Accepted: Sendable {
        var rejected: Int64 = 0
        var message = ""
    }

    func export(_ request: consuming ExportTraceRequest) async throws(PipelineError) -> Accepted {
        guard let consumer = next.traces else { throw PipelineError(.permanent, "traces are not handled by any pipeline") }
        var request = consume request
        let outcome = SpanIDValidation.filter(&request)
        if request.spanCount > 0 {
            // Handed over, not shared: the first processor that edits the request then edits it in place.
            var handedOver: ExportTraceRequest? = consume request
            do {
                try await ReceiverTransport.$current.withValue(transport) {
                    guard let r = handedOver.take() else { return }
                    try await consumer.consume(consume r)
                }
            } catch { throw PipelineError.classify(error) }
        }
        return Accepted(rejected: Int64(outcome.rejected), message: outcome.message)
    }

    func export(_ traces: consuming ReceivedTraces) async throws(PipelineError) -> Accepted {
        switch consume traces {
        case .decoded(let request):
            return try await export(consume request)
        case .encoded(let encoded):
            guard let consumer = next.traces else { throw PipelineError(.permanent, "traces are not handled by any pipeline") }
            if encoded.spanCount > 0 {
                do { try await ReceiverTransport.$current.withValue(transport) { try await consumer.consume(encoded) } } catch {
                    throw PipelineError.classify(error)
                }
            }
            return Accepted()
        }
    }

    func export(_ request: ExportMetricsRequest) async throws(PipelineError) -> Accepted {
        guard let consumer = next.metrics else { throw PipelineError(.permanent, "metrics are not handled by any pipeline") }
        if request.dataPointCount > 0 || !request.resourceMetrics.isEmpty {
            do { try await ReceiverTransport.$current.withValue(transport) { try await consumer.consume(request) } } catch {
                throw PipelineError.classify(error)
            }
        }
        return Accepted()
    }

    /// Metrics still in wire form (indexed by the receiver): consumers decode them only if they need to.
    func export(_ metrics: EncodedMetrics) async throws(PipelineError) -> Accepted {
        guard let consumer = next.metrics else { throw PipelineError(.permanent, "metrics are not handled by any pipeline") }
        if metrics.dataPointCount > 0 || !metrics.resources.isEmpty {
            do { try await ReceiverTransport.$current.withValue(transport) { try await consumer.consume(metrics) } } catch {
                throw PipelineError.classify(error)
            }
        }
        return Accepted()
    }

    func export(_ request: consuming ExportLogsRequest) async throws(PipelineError) -> Accepted {
        guard let consumer = next.logs else { throw PipelineError(.permanent, "logs are not handled by any pipeline") }
        var request = consume request
        let outcome = LogIDValidation.filter(&request)
        if request.logRecordCount > 0 || (!request.resourceLogs.isEmpty && outcome.rejected == 0) {
            do { try await ReceiverTransport.$current.withValue(transport) { try await consumer.consume(request) } } catch {
                throw PipelineError.classify(error)
            }
        }
        return Accepted(rejected: Int64(outcome.rejected), message: outcome.message)
    }

    /// Logs still in wire form, indexed by the receiver: handed on as they are when every record's IDs have valid
    /// lengths; otherwise decoded, so the bad records can be dropped and reported.
    func export(_ logs: EncodedLogs) async throws(PipelineError) -> Accepted {
        guard let consumer = next.logs else { throw PipelineError(.permanent, "logs are not handled by any pipeline") }
        guard logs.recordsWithInvalidIDs == 0 else {
            let request: ExportLogsRequest
            do { request = try logs.decoded() } catch { throw PipelineError(.invalidData, "cannot decode the logs request: \(error)") }
            return try await export(request)
        }
        if logs.recordCount > 0 || !logs.resources.isEmpty {
            do { try await ReceiverTransport.$current.withValue(transport) { try await consumer.consume(logs) } } catch {
                throw PipelineError.classify(error)
            }
        }
        return Accepted()
    }

    func logsResponse(_ a: Accepted) -> ExportLogsResponse {
        var r = ExportLogsResponse()
        if a.rejected > 0 || !a.message.isEmpty {
            r.partialSuccess.rejectedLogRecords = a.rejected
            r.partialSuccess.errorMessage = a.message
        }
        return r
    }

    func traceResponse(_ a: Accepted) -> ExportTraceResponse {
        var r = ExportTraceResponse()
        if a.rejected > 0 || !a.message.isEmpty {
            r.partialSuccess.rejectedSpans = a.rejected
            r.partialSuccess.errorMessage = a.message
        }
        return r
    }
}
