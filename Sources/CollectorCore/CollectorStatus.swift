import Foundation
import Synchronization

/// Whether the collector is serving, for probes (the `health_check` extension): `starting` until every receiver
/// listens, `ready` while it serves, `stopping` from the moment a graceful shutdown begins (before receivers stop
/// taking data). The collector moves it forward; it never goes back.
public final class CollectorStatus: Sendable {
    public enum Phase: Sendable, Equatable {
        case starting
        /// Serving since `since`.
        case ready(since: Date)
        case stopping
    }

    private let phase = Mutex<Phase>(.starting)

    public init() {}

    public var current: Phase { phase.withLock { $0 } }

    /// Marks the collector ready (once every receiver listens). Has no effect once stopping.
    public func markReady(at now: Date = Date()) {
        phase.withLock { if case .starting = $0 { $0 = .ready(since: now) } }
    }

    /// Marks the start of a graceful shutdown.
    public func markStopping() {
        phase.withLock { $0 = .stopping }
    }
}
