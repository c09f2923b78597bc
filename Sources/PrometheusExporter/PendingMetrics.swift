import OTLP
import Synchronization

/// Wire-form requests the `prometheus` exporter has accepted and not yet applied to its series store.
///
/// On a server that sleeps between requests, applying one request at once spends most of its CPU on cache misses:
/// the translator's caches, the store's tables and the code between them are cold again every time. So requests
/// wait here and are applied in arrival order, many in one warm pass: by the exporter's own task a second after the
/// first of them arrived (`PrometheusExporter.pendingMaxAge`) or as soon as the queue passes its soft limits, and
/// before a scrape reads the store, so that it shows every point acknowledged before it started.
///
/// Bounded: past the hard limits (`hardRequests`, `hardBytes`: wire bytes plus their index) the request that
/// crosses them applies the queue, its own request included, before it returns, so memory stays bounded even when
/// the exporter's task falls behind (or does not run, as in tests).
final class PendingMetrics: Sendable {
    /// One accepted request and when it arrived (the time its series count as updated).
    struct Request: Sendable {
        let metrics: EncodedMetrics
        let received: Duration

        /// Bytes it holds: the request and its index of points.
        var size: Int { metrics.bytes.count + metrics.dataPointCount * MemoryLayout<EncodedMetrics.PointEntry>.stride }
    }

    /// What the caller of ``add(_:apply:)`` should do next.
    struct Added: Equatable {
        /// The queue was empty: start the timer.
        var first = false
        /// The queue just passed a soft limit: have it applied now, off the caller's thread.
        var drainSoon = false
    }

    private struct Queue {
        var requests: [Request] = []
        var bytes = 0
        /// A soft limit was passed since the last drain (ask once).
        var drainAsked = false
    }

    let softRequests: Int
    let softBytes: Int
    let hardRequests: Int
    let hardBytes: Int
    private let queue = Mutex(Queue())
    /// Held while a batch taken from the queue is applied, so that a drain returns only after every batch taken
    /// before it was applied (a scrape must not overtake a batch in progress).
    private let applying = Mutex(())

    init(softRequests: Int = 512, softBytes: Int = 4 << 20, hardRequests: Int = 2_048, hardBytes: Int = 16 << 20) {
        self.hardRequests = max(1, hardRequests)
        self.hardBytes = max(1, hardBytes)
        self.softRequests = min(max(1, softRequests), self.hardRequests)
        self.softBytes = min(max(1, softBytes), self.hardBytes)
    }

    /// Queues `request`, and applies the queue through `apply` when it passes a hard limit.
    @discardableResult
    func add(_ request: Request, apply: (Request) -> Void) -> Added {
        let (added, full) = queue.withLock { q in
            q.requests.append(request)
            q.bytes += request.size
            var added = Added(first: q.requests.count == 1)
            if !q.drainAsked && (q.requests.count >= softRequests || q.bytes >= softBytes) {
                q.drainAsked = true
                added.drainSoon = true
            }
            return (added, q.requests.count >= hardRequests || q.bytes >= hardBytes)
        }
        if full { drain(apply) }
        return added
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
