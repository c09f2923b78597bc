import Synchronization

/// Whether a client connection still takes new calls; set false from its event loop (GOAWAY, closed, failed),
/// read by callers choosing a connection.
final class GRPCConnectionHealth: Sendable {
    private let usable = Atomic(true)
    var isUsable: Bool { usable.load(ordering: .acquiring) }
    func markUnusable() { usable.store(false, ordering: .releasing) }
}
