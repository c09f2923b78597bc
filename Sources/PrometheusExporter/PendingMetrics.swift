import OTLP
import Synchronization

/// Wire-form requests the `prometheus` exporter has accepted and not yet applied to its series store.
///
/// On a server that sleeps between requests, applying one request at once spends most of its CPU on cache misses:
/// the translator's caches, the store's tables and the code between them are cold again every time. So requests
/// wait here and are applied in arrival order, many in one warm pass: by the exporter's timer `maxAge` after the
/// first of them arrived, by the request that fills the queue (`maxRequests` or `maxBytes`), and before anything
/// reads the store. A scrape drains first, so it shows every point acknowledged before it started.
///
/// Bounded by `maxRequests` and `maxBytes` (wire bytes held); a request that reaches either limit applies the queue,
/// its own request included, before it returns.
final class PendingMetrics: Sendable {
    /// One accepted request and when it arrived (the time its series count as updated).
    struct Request: Sendable {
        let metrics: EncodedMetrics
        let received: Duration
    }

    private struct Queue {
        var requests: [Request] = []
        var bytes = 0
    }

    let maxRequests: Int
    let maxBytes: Int
    private let queue = Mutex(Queue())
    /// Held while a batch taken from the queue is applied, so that a drain returns only after every batch taken
    /// before it was applied (a scrape must not overtake a batch in progress).
    private let applying = Mutex(())

    init(maxRequests: Int = 1_024, maxBytes: Int = 4 << 20) {
        self.maxRequests = max(1, maxRequests)
        self.maxBytes = maxBytes
    }

    /// Queues `request`. Returns true when the queue was empty before (the caller starts the timer), and drains the
    /// queue through `apply` when it is full.
    @discardableResult
    func add(_ request: Request, apply: (Request) -> Void) -> Bool {
        let (first, full) = queue.withLock { q in
            q.requests.append(request)
            q.bytes += request.metrics.bytes.count
            return (q.requests.count == 1, q.requests.count >= maxRequests || q.bytes >= maxBytes)
        }
        if full { drain(apply) }
        return first
    }

    /// Applies every queued request, in arrival order, through `apply`.
    func drain(_ apply: (Request) -> Void) {
        applying.withLock { _ in
            let batch = queue.withLock { q in
                let taken = q.requests
                q = Queue()
                return taken
            }
            for request in batch { apply(request) }
        }
    }

    /// Requests waiting.
    var count: Int { queue.withLock { $0.requests.count } }
}
