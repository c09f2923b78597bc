/// The label sets one ``SeriesStore/apply(_:targets:now:)`` has already found, with their positions in their shards.
///
/// The points of one export mostly repeat a few label sets (the metrics of a call site share its attributes): a
/// repeated label set is found here by comparing hashes, without hashing it again or probing the shard's table.
/// A dictionary index stays valid while the dictionary only has values modified in place (a copy-on-write copy
/// keeps the layout), so positions are forgotten whenever their shard gains or loses a label set.
struct FoundLabelSets {
    typealias Position = Dictionary<LabelSet, [SeriesStore.Member]>.Index

    private struct Entry {
        var labels: LabelSet
        var shard: Int
        var position: Position
    }

    /// Label sets remembered; beyond it, the oldest one is replaced.
    static let capacity = 16
    private var entries: [Entry] = []
    private var next = 0

    /// Where `labels` was found, if it was.
    @inline(__always)
    func position(of labels: LabelSet) -> Position? {
        for e in entries where e.labels == labels { return e.position }
        return nil
    }

    mutating func remember(_ labels: LabelSet, at position: Position, shard: Int) {
        let entry = Entry(labels: labels, shard: shard, position: position)
        if entries.count < Self.capacity {
            entries.append(entry)
        } else {
            entries[next] = entry
            next = (next + 1) % Self.capacity
        }
    }

    /// Forgets the positions in `shard`, whose table changed.
    mutating func forget(shard: Int) {
        guard entries.contains(where: { $0.shard == shard }) else { return }
        entries.removeAll { $0.shard == shard }
        next = 0
    }
}
