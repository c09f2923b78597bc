import Foundation

/// The `capacity` traces whose newest matching span is newest, for a search that reads spans out of time order
/// (through ``SpanRuns``). A trace's key is its newest matching span's (start, rowid): the order in which walking
/// an index on (service, start_ns) backwards meets them, so the answer is the same as that walk's.
///
/// Memory is bounded by `capacity` (a min-heap of the kept keys, rebuilt when stale entries pile up).
struct NewestTraces {
    struct Key: Comparable {
        var start: Int64
        var row: Int64

        static func < (a: Key, b: Key) -> Bool { a.start != b.start ? a.start < b.start : a.row < b.row }
    }

    let capacity: Int
    /// The kept traces and their keys.
    private var kept: [Data: Key] = [:]
    /// Min-heap of (key, trace); an entry is stale when the trace is no longer kept with that key.
    private var heap: [(key: Key, id: Data)] = []

    init(capacity: Int) {
        self.capacity = max(0, capacity)
    }

    var isFull: Bool { kept.count >= capacity }

    /// The smallest key kept (nil when none is).
    mutating func smallest() -> Key? {
        dropStale()
        return heap.first?.key
    }

    /// Whether a span of trace `id` with `key` would change what is kept (checked before the costly part of
    /// matching it).
    mutating func admits(_ id: Data, _ key: Key) -> Bool {
        if let known = kept[id] { return key > known }
        guard isFull else { return capacity > 0 }
        guard let least = smallest() else { return false }
        return key > least
    }

    /// Records a matching span of trace `id`.
    mutating func add(_ id: Data, _ key: Key) {
        guard admits(id, key) else { return }
        if kept[id] == nil, isFull {
            // The trace with the smallest key makes room (`admits` has checked that `key` is larger).
            dropStale()
            if let least = heap.first {
                kept[least.id] = nil
                popRoot()
            }
        }
        kept[id] = key
        push((key, id))
        if heap.count > 2 * capacity + 64 { rebuild() }
    }

    /// The kept traces, newest key first.
    func newestFirst() -> [Data] {
        kept.sorted { $0.value > $1.value }.map(\.key)
    }

    private mutating func dropStale() {
        while let top = heap.first, kept[top.id] != top.key { popRoot() }
    }

    private mutating func rebuild() {
        heap = kept.map { (key: $0.value, id: $0.key) }
        var i = heap.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    private mutating func push(_ entry: (key: Key, id: Data)) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].key < heap[parent].key else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popRoot() {
        guard !heap.isEmpty else { return }
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        siftDown(0)
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            var least = left
            if left + 1 < heap.count, heap[left + 1].key < heap[left].key { least = left + 1 }
            guard heap[least].key < heap[parent].key else { return }
            heap.swapAt(least, parent)
            parent = least
        }
    }
}
