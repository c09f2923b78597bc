/// Edges waiting for their other side: at most `maxItems`, each for `ttl`.
///
/// Every edge gets the same time to live, so insertion order is expiry order: the edges form a queue (a doubly
/// linked list threaded through a slot array, so a completed edge leaves from the middle in O(1)), and expiry pops
/// from its head. The slot array never grows past `maxItems`, and a full store takes no new edge unless its oldest
/// has expired: memory is bounded whatever the offered load. Not thread-safe; the connector holds it under its
/// lock.
///
/// Edges are found by key through a chained hash table threaded through the same slots (bucket heads in
/// `buckets`, the next slot of a chain in the slot), with Swift's seeded `Hasher`, so IDs chosen to collide do not
/// make chains long. A `Dictionary` beside the slots cost a lookup, an insertion and a removal (with its backward
/// shift) in a table of up to `maxItems` random keys per edge: cache misses that were most of the store's time.
struct ServiceGraphEdgeStore: Sendable {
    /// What an upsert did with a span.
    enum Outcome {
        /// Both sides are now known; the edge has left the store (`created`: it never entered it, a database call).
        case completed(ServiceGraphEdge, created: Bool)
        /// The span joined an edge that keeps waiting.
        case updated
        /// The span started a new edge that waits for its other side.
        case inserted
        /// The store is full: the span was not kept.
        case dropped
    }

    private struct Slot: Sendable {
        var edge: ServiceGraphEdge
        var expiresAt: Duration
        var hash: Int
        var previous: Int32 = -1
        var next: Int32 = -1
        /// The next slot in this slot's hash chain.
        var chain: Int32 = -1
    }

    let maxItems: Int
    let ttl: Duration
    private var slots: [Slot] = []
    private var free: [Int32] = []
    /// Heads of the hash chains (a power of two of them, at least as many as live edges).
    private var buckets: [Int32] = Array(repeating: -1, count: 64)
    private var live = 0
    private var head: Int32 = -1
    private var tail: Int32 = -1

    init(maxItems: Int, ttl: Duration) {
        self.maxItems = max(1, maxItems)
        self.ttl = ttl
    }

    /// Edges waiting now.
    var count: Int { live }

    /// Folds `span` into the edge of its key, creating the edge if needed. An edge that becomes complete leaves the
    /// store and is returned. When the store is full, expired edges at its head are removed first (appended to
    /// `expired`) to make room, as otelcol does.
    mutating func upsert(_ span: ServiceGraphSpanSide, now: Duration, expired: inout [ServiceGraphEdge]) -> Outcome {
        let hash = span.key.hashValue
        if let i = find(span.key, hash: hash) {
            let slot = Int(i)
            slots[slot].edge.fold(span)
            guard slots[slot].edge.isComplete else { return .updated }
            let edge = slots[slot].edge
            remove(slot: i)
            return .completed(edge, created: false)
        }
        var edge = ServiceGraphEdge(key: span.key)
        edge.fold(span)
        if edge.isComplete { return .completed(edge, created: true) }  // a database call: no server span to wait for
        if live >= maxItems {
            while live >= maxItems, let oldest = popExpired(now: now) { expired.append(oldest) }
            if live >= maxItems { return .dropped }
        }
        let i: Int32
        if live >= buckets.count { growBuckets() }
        let bucket = hash & (buckets.count - 1)
        let slot = Slot(edge: edge, expiresAt: now + ttl, hash: hash, previous: tail, chain: buckets[bucket])
        if let reused = free.popLast() {
            i = reused
            slots[Int(reused)] = slot
        } else {
            i = Int32(truncatingIfNeeded: slots.count)
            slots.append(slot)
        }
        if tail >= 0 { slots[Int(tail)].next = i } else { head = i }
        tail = i
        buckets[bucket] = i
        live += 1
        return .inserted
    }

    /// Removes the oldest edge if it has expired by `now`, and returns it.
    mutating func popExpired(now: Duration) -> ServiceGraphEdge? {
        guard head >= 0, slots[Int(head)].expiresAt <= now else { return nil }
        let i = head
        let edge = slots[Int(i)].edge
        remove(slot: i)
        return edge
    }

    /// Removes every edge, oldest first (for tests and diagnostics).
    mutating func removeAll() -> [ServiceGraphEdge] {
        var out: [ServiceGraphEdge] = []
        while head >= 0 {
            let i = head
            out.append(slots[Int(i)].edge)
            remove(slot: i)
        }
        return out
    }

    private mutating func remove(slot i: Int32) {
        let s = Int(i)
        let previous = slots[s].previous
        let next = slots[s].next
        if previous >= 0 { slots[Int(previous)].next = next } else { head = next }
        if next >= 0 { slots[Int(next)].previous = previous } else { tail = previous }
        // Unlink from the hash chain.
        let bucket = slots[s].hash & (buckets.count - 1)
        if buckets[bucket] == i {
            buckets[bucket] = slots[s].chain
        } else {
            var p = buckets[bucket]
            while p >= 0 {
                let after = slots[Int(p)].chain
                if after == i {
                    slots[Int(p)].chain = slots[s].chain
                    break
                }
                p = after
            }
        }
        live -= 1
        // Let go of the edge's strings now rather than when the slot is reused.
        slots[s] = Slot(edge: ServiceGraphEdge(key: slots[s].edge.key), expiresAt: .zero, hash: 0)
        free.append(i)
    }

    /// The slot holding `key`'s edge.
    @inline(__always)
    private func find(_ key: ServiceGraphEdgeKey, hash: Int) -> Int32? {
        var i = buckets[hash & (buckets.count - 1)]
        while i >= 0 {
            if slots[Int(i)].hash == hash && slots[Int(i)].edge.key == key { return i }
            i = slots[Int(i)].chain
        }
        return nil
    }

    /// Doubles the buckets and links every live edge into them again (amortized: the table only grows, up to the
    /// first power of two at least `maxItems`).
    private mutating func growBuckets() {
        let size = buckets.count * 2
        buckets = Array(repeating: -1, count: size)
        var i = head
        while i >= 0 {
            let b = slots[Int(i)].hash & (size - 1)
            slots[Int(i)].chain = buckets[b]
            buckets[b] = i
            i = slots[Int(i)].next
        }
    }
}
