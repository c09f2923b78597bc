import CollectorCore
import Logging
import Synchronization

/// `circuit_breaker` of a forwarding exporter (otelsink's; otelcol has none): after `failure_threshold` failed
/// attempts in a row the circuit opens and nothing is sent to the upstream for `open_duration` (data waits in the
/// queue; once the queue is full, new exports are refused retryably); then `half_open_requests` probes go, one
/// success closes the circuit and a failure opens it again.
public struct CircuitBreakerSettings: Sendable, Equatable {
    public var enabled = false
    public var failureThreshold = 5
    public var openDuration: Duration = .seconds(30)
    public var halfOpenRequests = 1

    public init() {}

    public init(reading r: ConfigReader) {
        enabled = r.bool("enabled", default: enabled)
        failureThreshold = r.int("failure_threshold", default: failureThreshold, range: 1...1_000_000)
        openDuration = r.duration("open_duration", default: openDuration, minimum: .milliseconds(1))
        halfOpenRequests = r.int("half_open_requests", default: halfOpenRequests, range: 1...1000)
    }
}

/// The breaker's state machine, on a ``MonotonicClock``. Only transport-level failures (retryable answers) count:
/// an upstream that refuses one request's data for good is alive.
public final class CircuitBreaker: Sendable {
    public enum State: Sendable, Equatable {
        case closed
        case open(until: Duration)
        case halfOpen

        /// 0 closed, 1 half-open, 2 open: the `otelsink_exporter_circuit_state` gauge.
        public var gaugeValue: Double {
            switch self {
            case .closed: 0
            case .halfOpen: 1
            case .open: 2
            }
        }
    }

    private struct Inner {
        var state = State.closed
        var consecutiveFailures = 0
        var probesInFlight = 0
    }

    public let settings: CircuitBreakerSettings
    private let clock: any MonotonicClock
    private let logger: Logger
    private let inner = Mutex(Inner())

    public init(settings: CircuitBreakerSettings, clock: any MonotonicClock, logger: Logger) {
        self.settings = settings
        self.clock = clock
        self.logger = logger
    }

    public var state: State { inner.withLock { $0.state } }

    /// Waits until an attempt may go: at once when closed; when open, until `open_duration` has passed and a
    /// half-open probe slot is free. Throws when the task is cancelled.
    public func acquire() async throws {
        guard settings.enabled else { return }
        while true {
            let wait: Duration? = inner.withLock { s in
                let now = clock.now
                switch s.state {
                case .closed:
                    return nil
                case .open(let until) where now >= until:
                    transition(&s, to: .halfOpen)
                    s.probesInFlight = 1
                    return nil
                case .open(let until):
                    return until
                case .halfOpen where s.probesInFlight < settings.halfOpenRequests:
                    s.probesInFlight += 1
                    return nil
                case .halfOpen:
                    return now + .milliseconds(100)
                }
            }
            guard let wait else { return }
            try await clock.sleep(until: wait)
        }
    }

    /// Records the outcome of an attempt that ``acquire()`` let through.
    public func record(success: Bool) {
        guard settings.enabled else { return }
        inner.withLock { s in
            if s.state == .halfOpen { s.probesInFlight = max(0, s.probesInFlight - 1) }
            if success {
                s.consecutiveFailures = 0
                if s.state != .closed { transition(&s, to: .closed) }
                return
            }
            s.consecutiveFailures += 1
            switch s.state {
            case .halfOpen:
                transition(&s, to: .open(until: clock.now + settings.openDuration))
            case .closed where s.consecutiveFailures >= settings.failureThreshold:
                transition(&s, to: .open(until: clock.now + settings.openDuration))
            default:
                break
            }
        }
    }

    private func transition(_ s: inout Inner, to new: State) {
        let old = s.state
        s.state = new
        let name: (State) -> String = {
            switch $0 {
            case .closed: "closed"
            case .open: "open"
            case .halfOpen: "half-open"
            }
        }
        logger.warning("circuit breaker \(name(old)) → \(name(new))", metadata: ["consecutive_failures": "\(s.consecutiveFailures)"])
    }
}
