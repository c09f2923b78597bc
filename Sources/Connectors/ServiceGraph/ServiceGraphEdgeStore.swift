/// Edges waiting for their other side: at most `maxItems`, each for `ttl`.
///
/// Every edge gets the same time to live, so insertion order is expiry order: the edges form a queue (a doubly
/// linked list threaded through a slot array, so a completed edge leaves from the middle in O(1)), and expiry pops
/// from its head. The slot array never grows past `maxItems`, and a full store takes no new edge unless its oldest
/// has expired: memory is bounded whatever the offered load. Not thread-safe; the connector holds it under its
/// lock.
///
/// Edges are found by key through an open-addressing table of 8-byte entries (32 bits of the key's hash beside
/// the slot number; linear probing, at most half full, deletion by backward shift) hashed with Swift's seeded
/// `Hasher`, so IDs chosen to collide do not make probe runs long. A lookup reads the table alone until a hash
/// matches: with 100,000 edges waiting the slots are tens of megabytes, and reading a slot per probe (a chained
/// table through the slots, before) cost a cache miss per probe.
struct ServiceGraphEdgeStore: Sendable {
    /// What an upsert did with a span.
    enum Outcome {
        /// Both sides are now known; the edge has left the store. `old` is what it held before the span (nil: it
        /// never entered the store, a database call).
        case completed(old: ServiceGraphEdge?, new: ServiceGraphEdge)
        /// The span joined an edge that keeps waiting.
        case updated(old: ServiceGraphEdge, new: ServiceGraphEdge)
        /// The span started a new edge that waits for its other side.
        case inserted(ServiceGraphEdge)
        /// The store is full: the span was not kept.
        case dropped
    }

    private struct Slot: Sendable {
        var edge: ServiceGraphEdge
        var expiresAt: Duration
        var hash: UInt32
        var previous: Int32 = -1
        var next: Int32 = -1
    }

    let maxItems: Int
    let ttl: Duration
    private var slots: [Slot] = []
    private var free: [Int32] = []
    /// The lookup table: 0 is empty, else the key's 32-bit hash in the high half and slot + 1 in the low half. A
    /// power of two long, at most half full.
    private var table: [UInt64] = Array(repeating: 0, count: 64)
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
    mutating func upsert(
        _ span: ServiceGraphInternedSide, hash: UInt32? = nil, now: Duration, expired: inout [ServiceGraphEdge]
    ) -> Outcome {
        let hash = hash ?? Self.hash(span.key)
        let found = find(span.key, hash: hash)
        if let position = found.position {
            let slot = Int(table[position] & 0xFFFF_FFFF) - 1
            let old = slots[slot].edge
            var edge = old
            edge.fold(span)
            guard edge.isComplete else {
                slots[slot].edge = edge
                return .updated(old: old, new: edge)
            }
            remove(slot: Int32(truncatingIfNeeded: slot), at: position)
            return .completed(old: old, new: edge)
        }
        var edge = ServiceGraphEdge(key: span.key)
        edge.fold(span)
        if edge.isComplete { return .completed(old: nil, new: edge) }  // a database call: no server span to wait for
        var emptyPosition = found.empty
        if live >= maxItems {
            while live >= maxItems, let oldest = popExpired(now: now) { expired.append(oldest) }
            if live >= maxItems { return .dropped }
            emptyPosition = nil  // removals shift entries: probe again
        }
        if (live + 1) * 2 > table.count {
            grow()
            emptyPosition = nil
        }
        let i: Int32
        let slot = Slot(edge: edge, expiresAt: now + ttl, hash: hash, previous: tail)
        if let reused = free.popLast() {
            i = reused
            slots[Int(reused)] = slot
        } else {
            i = Int32(truncatingIfNeeded: slots.count)
            slots.append(slot)
        }
        if tail >= 0 { slots[Int(tail)].next = i } else { head = i }
        tail = i
        table[emptyPosition ?? firstEmpty(hash: hash)] = Self.entry(hash: hash, slot: i)
        live += 1
        return .inserted(edge)
    }

    /// The hash the store files `key` under.
    @inline(__always)
    static func hash(_ key: ServiceGraphEdgeKey) -> UInt32 { UInt32(truncatingIfNeeded: key.hashValue) }

    /// Reads the table entry where a lookup of `hash` starts, and returns it (for ``warm(_:)``).
    @inline(__always)
    func peek(_ hash: UInt32) -> UInt64 { table[Int(hash) & (table.count - 1)] }

    /// Reads the table entries where lookups of `hashes` will start, so that the lookups find them in cache: these
    /// reads do not depend on one another, so the processor overlaps their cache misses, where the lookups one
    /// after another would wait for each in turn (the table is megabytes and the keys random). Returns a value
    /// made from them, which the caller keeps so that the reads are not optimized away.
    func warm(_ hashes: [UInt32]) -> UInt64 {
        var folded: UInt64 = 0
        for h in hashes { folded ^= peek(h) }
        return folded
    }

    /// Removes the oldest edges that have expired by `now`, at most `limit`, and appends them to `out` oldest
    /// first; returns how many. Their table entries are read before any is removed (see ``warm(_:)``).
    @discardableResult
    mutating func popExpired(now: Duration, limit: Int, into out: inout [ServiceGraphEdge]) -> Int {
        var due: [Int32] = []
        var folded: UInt64 = 0
        var i = head
        while i >= 0, due.count < limit, slots[Int(i)].expiresAt <= now {
            due.append(i)
            folded ^= peek(slots[Int(i)].hash)
            i = slots[Int(i)].next
        }
        warmth ^= folded
        for i in due {
            out.append(slots[Int(i)].edge)
            remove(slot: i, at: position(of: i))
        }
        return due.count
    }

    /// Where the reads of ``warm(_:)`` and ``popExpired(now:limit:into:)`` land, so that they stay.
    private(set) var warmth: UInt64 = 0

    /// Keeps a value made from warming reads (see ``warm(_:)``).
    mutating func keep(_ folded: UInt64) { warmth ^= folded }

    /// Removes the oldest edge if it has expired by `now`, and returns it.
    mutating func popExpired(now: Duration) -> ServiceGraphEdge? {
        guard head >= 0, slots[Int(head)].expiresAt <= now else { return nil }
        let i = head
        let edge = slots[Int(i)].edge
        remove(slot: i, at: position(of: i))
        return edge
    }

    /// Removes every edge, oldest first (for tests and diagnostics).
    mutating func removeAll() -> [ServiceGraphEdge] {
        var out: [ServiceGraphEdge] = []
        while head >= 0 {
            let i = head
            out.append(slots[Int(i)].edge)
            remove(slot: i, at: position(of: i))
        }
        return out
    }

    @inline(__always)
    private static func entry(hash: UInt32, slot: Int32) -> UInt64 {
        UInt64(hash) << 32 | UInt64(UInt32(bitPattern: slot) &+ 1)
    }

    /// Where `key`'s entry is, or else the empty position that ends its probe run.
    @inline(__always)
    private func find(_ key: ServiceGraphEdgeKey, hash: UInt32) -> (position: Int?, empty: Int?) {
        let mask = table.count - 1
        var p = Int(hash) & mask
        while true {
            let e = table[p]
            if e == 0 { return (nil, p) }
            if UInt32(truncatingIfNeeded: e >> 32) == hash && slots[Int(e & 0xFFFF_FFFF) - 1].edge.key == key { return (p, nil) }
            p = (p + 1) & mask
        }
    }

    private func firstEmpty(hash: UInt32) -> Int {
        let mask = table.count - 1
        var p = Int(hash) & mask
        while table[p] != 0 { p = (p + 1) & mask }
        return p
    }

    /// Where the entry of slot `i` is.
    private func position(of i: Int32) -> Int {
        let mask = table.count - 1
        let wanted = Self.entry(hash: slots[Int(i)].hash, slot: i)
        var p = Int(slots[Int(i)].hash) & mask
        // The entry is in the table while the slot is live, so this ends.
        while table[p] != wanted { p = (p + 1) & mask }
        return p
    }

    private mutating func remove(slot i: Int32, at position: Int) {
        let s = Int(i)
        let previous = slots[s].previous
        let next = slots[s].next
        if previous >= 0 { slots[Int(previous)].next = next } else { head = next }
        if next >= 0 { slots[Int(next)].previous = previous } else { tail = previous }
        // Backward-shift deletion: move later entries of the run into the hole unless that would put them before
        // their home position.
        let mask = table.count - 1
        var hole = position
        var p = position
        while true {
            p = (p + 1) & mask
            let e = table[p]
            if e == 0 { break }
            let home = Int(UInt32(truncatingIfNeeded: e >> 32)) & mask
            // The entry may move to the hole when its home is not cyclically within (hole, p].
            let stays = hole <= p ? (hole < home && home <= p) : (hole < home || home <= p)
            if !stays {
                table[hole] = e
                hole = p
            }
        }
        table[hole] = 0
        live -= 1
        slots[s].previous = -1
        slots[s].next = -1
        free.append(i)
    }

    /// Doubles the table and enters every live edge again (amortized: the table only grows, up to the first power
    /// of two at least twice `maxItems`).
    private mutating func grow() {
        table = Array(repeating: 0, count: table.count * 2)
        var i = head
        while i >= 0 {
            table[firstEmpty(hash: slots[Int(i)].hash)] = Self.entry(hash: slots[Int(i)].hash, slot: i)
            i = slots[Int(i)].next
        }
    }
}
