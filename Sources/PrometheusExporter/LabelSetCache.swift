import Synchronization

/// Rendered label sets by the wire bytes of a data point's attributes, within a label context (the resource and
/// scope labels around the point) and a reserved label name.
///
/// A label set is a pure function of those three, and the same attribute bytes arrive with every export of a series,
/// so the sanitizing, sorting and string building of ``PrometheusLabels/labelSet(_:reserving:)`` runs once per
/// series instead of once per point; the cached ``LabelSet`` (its hash computed once) is also what the series store keys on.
///
/// Bounded: two generations of at most `generationSize` entries and `generationBytes` of keys and label strings
/// each; attribute bytes over `maxKeyBytes` are not cached (their label sets are built every time). When the
/// current generation fills, it becomes the previous one and the older is dropped; a hit in the previous
/// generation moves the entry forward. Contexts get numbers that are never reused, so an entry of a forgotten
/// context can never answer for another.
final class LabelSetCache: Sendable {
    /// Which label the exposition adds itself, so that an attribute of that name makes the point unrepresentable.
    enum Reserved: UInt8, CaseIterable { case none, le, quantile }

    struct Key: Hashable {
        let context: UInt64
        let reserved: Reserved
        let attributes: ByteKey
        /// The hash of the three, computed once: a lookup compares digests before it touches a stored key's bytes.
        let digest: Int

        init(context: UInt64, reserved: Reserved, attributes: [UInt8]) {
            self.context = context
            self.reserved = reserved
            self.attributes = ByteKey(attributes)
            var hasher = Hasher()
            hasher.combine(context)
            hasher.combine(reserved)
            hasher.combine(self.attributes)
            digest = hasher.finalize()
        }

        static func == (a: Key, b: Key) -> Bool {
            a.digest == b.digest && a.context == b.context && a.reserved == b.reserved && a.attributes == b.attributes
        }

        func hash(into hasher: inout Hasher) { hasher.combine(digest) }
    }

    /// A rendered label set, or `nil` when the point has a label named as the reserved one.
    typealias Entry = LabelSet?

    private struct State {
        var contexts: [String: UInt64] = [:]
        var nextContext: UInt64 = 0
        var current: [Key: Entry] = [:]
        var currentBytes = 0
        var previous: [Key: Entry] = [:]
    }

    private let state = Mutex(State())
    let generationSize: Int
    let generationBytes: Int
    let maxKeyBytes: Int
    let maxContexts: Int

    init(generationSize: Int = 32_768, generationBytes: Int = 8 << 20, maxKeyBytes: Int = 4_096, maxContexts: Int = 4_096) {
        self.generationSize = max(1, generationSize)
        self.generationBytes = generationBytes
        self.maxKeyBytes = maxKeyBytes
        self.maxContexts = max(1, maxContexts)
    }

    /// The number of the label context described by `text` (any text that differs when the context differs).
    func context(_ text: String) -> UInt64 {
        state.withLock { s in
            if let n = s.contexts[text] { return n }
            if s.contexts.count >= maxContexts { s.contexts.removeAll(keepingCapacity: true) }
            let n = s.nextContext
            s.nextContext += 1
            s.contexts[text] = n
            return n
        }
    }

    /// The cached label set for `key`; the outer optional is nil on a miss.
    func lookup(_ key: Key) -> Entry? {
        state.withLock { s in
            if let hit = s.current[key] { return hit }
            guard let hit = s.previous[key] else { return nil }
            insert(key, hit, into: &s)
            return hit
        }
    }

    func insert(_ key: Key, _ entry: Entry) {
        guard key.attributes.bytes.count <= maxKeyBytes else { return }
        state.withLock { s in insert(key, entry, into: &s) }
    }

    private func insert(_ key: Key, _ entry: Entry, into s: inout State) {
        // Keys and label strings, plus a rough overhead per entry.
        let cost = key.attributes.bytes.count + (entry?.text.utf8.count ?? 0) + 64
        if s.current.count >= generationSize || s.currentBytes + cost > generationBytes {
            s.previous = s.current
            s.current = [:]
            s.currentBytes = 0
        }
        s.current[key] = entry
        s.currentBytes += cost
    }

    /// Entries held (both generations), for tests.
    var count: Int { state.withLock { $0.current.count + $0.previous.count } }
}
