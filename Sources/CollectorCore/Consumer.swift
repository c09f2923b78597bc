import OTLP

/// What every consumer declares about itself.
public protocol DataConsumer: Sendable {
    /// Whether this consumer modifies the data it is given; fan-out then hands it its own copy.
    var mutatesData: Bool { get }
}

extension DataConsumer {
    public var mutatesData: Bool { false }
}

/// Something that takes traces: a processor, an exporter, or a fan-out to several of them.
///
/// `consume` returns once the data has been handled downstream as far as this consumer's contract goes; for the
/// SQLite exporter that means committed. It throws a ``PipelineError`` (or any error, treated as permanent) when
/// the data was not taken.
///
/// - Ownership: the request is the consumer's once passed (`consuming`): it may edit it in place and pass it on,
///   and the caller does not look at it again. A fan-out to several consumers that mutate data
///   (``DataConsumer/mutatesData``) gives each its own copy.
/// - Threading: `consume` is called from many tasks at once (one per request in flight, on any thread, gRPC calls
///   on their connection's event loop), so a consumer is `Sendable` and guards shared state itself; it must not
///   block a thread (SQLite work and the like run off the caller, and overload turns into a retryable
///   ``PipelineError`` rather than waiting without bound).
/// - Shutdown: calls can arrive until the receivers feeding this consumer have stopped and their requests in
///   flight are answered (see ``Receiver``); after that no call comes.
public protocol TracesConsumer: DataConsumer {
    /// `traces` is consumed: pass your last use on with `consume` (`try await next.consume(consume request)`) so
    /// that the consumer editing it holds the only reference and edits in place instead of copying.
    func consume(_ traces: consuming ExportTraceRequest) async throws

    /// Takes traces still in their protobuf wire form (see ``EncodedTraces``), as the OTLP receiver hands them on
    /// when it could index them. The default decodes them and calls the decoded `consume`; consumers that use the
    /// bytes as they are (the SQLite exporter) or only pass data on (fan-out, counters, the memory limiter)
    /// override it, so a pipeline made of those never builds the message graph.
    func consume(_ traces: EncodedTraces) async throws
}

extension TracesConsumer {
    public func consume(_ traces: EncodedTraces) async throws {
        let request: ExportTraceRequest
        do { request = try traces.decoded() } catch {
            throw PipelineError(.invalidData, "cannot decode the trace request: \(error)")
        }
        try await consume(consume request)
    }
}

/// Something that takes metrics; see ``TracesConsumer``.
public protocol MetricsConsumer: DataConsumer {
    func consume(_ metrics: consuming ExportMetricsRequest) async throws

    /// Takes metrics still in their protobuf wire form (see ``EncodedMetrics``), as the OTLP receiver hands them on
    /// when it could index them. The default decodes them and calls the decoded `consume`; consumers that read the
    /// bytes (the `prometheus` exporter) or only pass data on override it.
    func consume(_ metrics: EncodedMetrics) async throws
}

extension MetricsConsumer {
    public func consume(_ metrics: EncodedMetrics) async throws {
        let request: ExportMetricsRequest
        do { request = try metrics.decoded() } catch {
            throw PipelineError(.invalidData, "cannot decode the metrics request: \(error)")
        }
        try await consume(consume request)
    }
}

/// Something that takes logs; see ``TracesConsumer``.
public protocol LogsConsumer: DataConsumer {
    func consume(_ logs: consuming ExportLogsRequest) async throws

    /// Takes logs still in their protobuf wire form (see ``EncodedLogs``), as the OTLP receiver hands them on when
    /// it could index them. The default decodes them; consumers that use the bytes (the SQLite exporter, the
    /// forwarding exporters) or only pass data on override it.
    func consume(_ logs: EncodedLogs) async throws
}

extension LogsConsumer {
    public func consume(_ logs: EncodedLogs) async throws {
        let request: ExportLogsRequest
        do { request = try logs.decoded() } catch {
            throw PipelineError(.invalidData, "cannot decode the logs request: \(error)")
        }
        try await consume(consume request)
    }
}

/// The consumers of one component, per signal; `nil` where it does not handle that signal.
public struct SignalConsumers: Sendable {
    public var traces: (any TracesConsumer)?
    public var metrics: (any MetricsConsumer)?
    public var logs: (any LogsConsumer)?

    public init(traces: (any TracesConsumer)? = nil, metrics: (any MetricsConsumer)? = nil, logs: (any LogsConsumer)? = nil) {
        self.traces = traces
        self.metrics = metrics
        self.logs = logs
    }

    public func supports(_ signal: Signal) -> Bool {
        switch signal {
        case .traces: traces != nil
        case .metrics: metrics != nil
        case .logs: logs != nil
        }
    }
}

extension SignalConsumers {
    /// `processor` in place of each consumer present here: what a processor handling every signal offers
    /// upstream when these are its downstream consumers (it takes exactly the signals it can pass on).
    public func routed(through processor: some TracesConsumer & MetricsConsumer & LogsConsumer) -> SignalConsumers {
        SignalConsumers(
            traces: traces == nil ? nil : processor,
            metrics: metrics == nil ? nil : processor,
            logs: logs == nil ? nil : processor)
    }
}
