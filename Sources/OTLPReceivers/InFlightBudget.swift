import Synchronization

/// Bytes of requests held in memory across all connections of one receiver (bodies as they arrive, then what
/// decoding them takes). Shared by the gRPC and HTTP servers.
final class InFlightBudget: Sendable {
    private let used = Atomic<Int>(0)
    let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Reserves `n` more bytes for a request that already holds `own`; false (nothing reserved) when that would
    /// pass the limit while other requests hold bytes. A request alone in flight always gets what it asks for, so
    /// one large request progresses however its reservations are split (body, inflated bytes, decoded messages).
    func reserve(_ n: Int, holding own: Int = 0) -> Bool {
        let after = used.add(n, ordering: .relaxed).newValue
        if after > limit && after != n + own {
            used.subtract(n, ordering: .relaxed)
            return false
        }
        return true
    }

    func release(_ n: Int) { used.subtract(n, ordering: .relaxed) }
}
