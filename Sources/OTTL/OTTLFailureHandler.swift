import CollectorCore
import Logging
import Synchronization

/// What a component does with a statement or condition that failed on an item, per `error_mode`: counts it in
/// `otelsink_ottl_errors_total{component}`, then under `propagate` throws a ``PipelineError`` (invalid data:
/// INVALID_ARGUMENT / HTTP 400, naming the statement), under `ignore` logs it (at most once every 10 s, saying how
/// many were not logged since) and returns, under `silent` returns.
public final class OTTLFailureHandler: Sendable {
    private let logger: Logger
    private let counter: TelemetryCounter
    private let clock: any MonotonicClock
    private let component: String
    private let state = Mutex<(last: Duration?, suppressed: Int)>((nil, 0))
    private static let interval = Duration.seconds(10)

    /// - Parameter component: the component's type, as it names itself in messages (`transform`, `routing`).
    public init(context: ComponentContext, component: String) {
        logger = context.logger
        clock = context.clock
        self.component = component
        counter = context.telemetry.counter(
            "otelsink_ottl_errors_total",
            help: "OTTL statements or conditions that failed on an item.",
            labels: ["component": context.id.description])
    }

    /// How many failures were counted.
    public var count: UInt64 { counter.value }

    public func handle(_ error: any Error, in text: String, mode: OTTLErrorMode) throws {
        counter.add(1)
        switch mode {
        case .propagate:
            throw PipelineError(.invalidData, "\(component): \"\(text)\" failed: \(error)")
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
            logger.warning(
                "OTTL failed on an item; going on (error_mode: ignore)",
                metadata: ["statement": "\(text)", "error": "\(error)", "not_logged_since_last": "\(suppressed)"])
        }
    }
}
