import OTLP

/// The label sets of the previous metric's points, by position, within one scope of one request.
///
/// The metrics of a scope mostly carry the same attribute sets in the same order (one set per instrument call site),
/// so a point's label set is usually that of the point at the same position in the metric before it: comparing the
/// attribute bytes in the request (already in cache) finds it without hashing them or touching
/// ``LabelSetCache``. Kept per reserved label, as a histogram's label sets are built differently from a gauge's.
struct RecentLabelSets {
    private struct Entry {
        var attributes: Range<Int>
        var labels: LabelSet?
    }

    /// The previous metric's points, one array per reserved label (its raw value).
    private var previous = [[Entry]](repeating: [], count: LabelSetCache.Reserved.allCases.count)
    private var current: [Entry] = []
    private var currentKind: LabelSetCache.Reserved = .none

    /// Starts the next metric: the current one's label sets become the ones to compare with.
    mutating func startMetric() {
        if !current.isEmpty { swap(&previous[Int(currentKind.rawValue)], &current) }
        current.removeAll(keepingCapacity: true)
    }

    /// The label set of the next point of the current metric when the point at its position in the previous metric
    /// (of the same reserved label) had the same attribute bytes; the outer optional is nil otherwise. A hit records
    /// the point; after a miss, ``record(_:reserving:_:)`` does.
    mutating func labels(of attributes: Range<Int>, reserving reserved: LabelSetCache.Reserved, in request: EncodedMetrics) -> LabelSet?? {
        currentKind = reserved
        let kind = Int(reserved.rawValue)
        let position = current.count
        guard position < previous[kind].count, request.bytesEqual(previous[kind][position].attributes, attributes) else { return nil }
        let labels = previous[kind][position].labels
        current.append(Entry(attributes: attributes, labels: labels))
        return .some(labels)
    }

    /// Records the label set of the next point of the current metric, found elsewhere.
    mutating func record(_ attributes: Range<Int>, reserving reserved: LabelSetCache.Reserved, _ labels: LabelSet?) {
        currentKind = reserved
        current.append(Entry(attributes: attributes, labels: labels))
    }
}
