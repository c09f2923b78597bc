import CollectorCore
import Logging
import OTLP
import OTTL
import Synchronization

/// The `transform` processor: runs OTTL statements on the spans, span events, metrics, data points, log records,
/// scopes and resources of each batch, in place, in the order the config lists them.
///
/// A statement that fails on an item (a value of the wrong type, an index out of range) is handled per
/// `error_mode`: `propagate` refuses the whole request as invalid data (INVALID_ARGUMENT / HTTP 400, naming the
/// statement), `ignore` logs it (at most once every 10 s, with a count) and goes on with the next statement,
/// `silent` goes on without logging. Every failure is counted in `otelsink_processor_ottl_errors_total`.
public struct TransformProcessor: StatelessProcessor, TracesConsumer, MetricsConsumer, LogsConsumer {
    public let config: TransformProcessorConfig
    let next: SignalConsumers
    private let failures: FailureLog

    public init(config: TransformProcessorConfig, next: SignalConsumers, context: ComponentContext) {
        self.config = config
        self.next = next
        self.failures = FailureLog(context: context)
    }

    public var mutatesData: Bool { true }

    public var consumers: SignalConsumers { next.routed(through: self) }

    public func consume(_ traces: consuming ExportTraceRequest) async throws {
        guard let downstream = next.traces else { return }
        var request = consume traces
        try process(&request)
        try await downstream.consume(consume request)
    }

    public func consume(_ metrics: consuming ExportMetricsRequest) async throws {
        guard let downstream = next.metrics else { return }
        var request = consume metrics
        try process(&request)
        try await downstream.consume(consume request)
    }

    public func consume(_ logs: consuming ExportLogsRequest) async throws {
        guard let downstream = next.logs else { return }
        var request = consume logs
        try process(&request)
        try await downstream.consume(consume request)
    }

    /// Runs the trace statements on `request`; throws a ``PipelineError`` when one fails under `propagate`.
    public func process(_ request: inout ExportTraceRequest) throws {
        for group in config.traces {
            try OTTLWalk.traces(&request, group.context) { try run(group, &$0) }
        }
    }

    public func process(_ request: inout ExportMetricsRequest) throws {
        for group in config.metrics {
            try OTTLWalk.metrics(&request, group.context) { try run(group, &$0) }
        }
    }

    public func process(_ request: inout ExportLogsRequest) throws {
        for group in config.logs {
            try OTTLWalk.logs(&request, group.context) { try run(group, &$0) }
        }
    }

    /// One group on one item: its conditions (any must hold), then each statement.
    private func run(_ group: TransformGroup, _ target: inout OTTLTarget) throws {
        let mode = group.errorMode ?? config.errorMode
        if !group.conditions.isEmpty {
            var holds = false
            for condition in group.conditions {
                do {
                    if try condition.evaluate(&target) { holds = true; break }
                } catch {
                    try failures.handle(error, in: condition.text, mode: mode)
                }
            }
            guard holds else { return }
        }
        for statement in group.statements {
            do {
                try statement.execute(&target)
            } catch {
                try failures.handle(error, in: statement.text, mode: mode)
            }
        }
    }

    /// Counts failures and, under `ignore`, logs them without flooding the log.
    final class FailureLog: Sendable {
        private let logger: Logger
        private let counter: TelemetryCounter
        private let clock: any MonotonicClock
        private let state = Mutex<(last: Duration?, suppressed: Int)>((nil, 0))
        private static let interval = Duration.seconds(10)

        init(context: ComponentContext) {
            logger = context.logger
            clock = context.clock
            counter = context.telemetry.counter("otelsink_processor_ottl_errors_total",
                                                help: "OTTL statements or conditions that failed on an item.",
                                                labels: ["processor": context.id.description])
        }

        func handle(_ error: any Error, in text: String, mode: OTTLErrorMode) throws {
            counter.add(1)
            switch mode {
            case .propagate:
                throw PipelineError(.invalidData, "transform: \"\(text)\" failed: \(error)")
            case .silent:
                return
            case .ignore:
                let now = clock.now
                let suppressed: Int? = state.withLock { s in
                    if let last = s.last, now - last < Self.interval {
                        s.suppressed += 1
                        return nil
                    }
                    defer { s = (now, 0) }
                    return s.suppressed
                }
                guard let suppressed else { return }
                logger.warning("transform statement failed; going on (error_mode: ignore)",
                               metadata: ["statement": "\(text)", "error": "\(error)",
                                          "suppressed_since_last": "\(suppressed)"])
            }
        }
    }
}

/// Registers the `transform` processor.
public struct TransformProcessorFactory: ProcessorFactory {
    public init() {}
    public var type: String { "transform" }
    public var kind: ComponentKind { .processor }
    public var signals: Set<Signal> { [.traces, .metrics, .logs] }
    public var summary: String { "modifies spans, metrics and logs with OTTL statements" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { TransformProcessorConfig(reading: reader) }

    public func makeProcessor(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Processor {
        TransformProcessor(config: try config.as(TransformProcessorConfig.self, for: "transform"), next: next, context: context)
    }
}
