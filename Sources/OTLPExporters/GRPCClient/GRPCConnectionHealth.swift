import Synchronization

/// Whether a client connection still takes new calls; set false from its event loop (GOAWAY, closed, failed),
/// read by callers choosing a connection. Also holds the first known cause of its failure.
final class GRPCConnectionHealth: Sendable {
    private let usable = Atomic(true)
    private let failure = Mutex<String?>(nil)
    var isUsable: Bool { usable.load(ordering: .acquiring) }
    func markUnusable() { usable.store(false, ordering: .releasing) }

    /// Keeps the first cause recorded.
    func recordFailure(_ reason: String) {
        failure.withLock { if $0 == nil { $0 = reason } }
    }

    var failureReason: String? { failure.withLock { $0 } }
}
