/// The order of a log query's entries: `backward` (Loki's default) is newest first.
public enum LokiDirection: String, Sendable, Equatable {
    case forward
    case backward
}

/// One entry of a stream in a log query's answer.
public struct LokiStreamEntry: Sendable, Equatable {
    public var timestampNanos: Int64
    public var line: String
    /// Sent as the value's third element when labels are categorized; otherwise part of the stream's labels.
    public var structuredMetadata: [String: String]

    public init(timestampNanos: Int64, line: String, structuredMetadata: [String: String] = [:]) {
        self.timestampNanos = timestampNanos
        self.line = line
        self.structuredMetadata = structuredMetadata
    }
}

/// A stream in a log query's answer: a label set and its entries in the query's direction.
public struct LokiStream: Sendable, Equatable {
    public var labels: [String: String]
    public var entries: [LokiStreamEntry]

    public init(labels: [String: String], entries: [LokiStreamEntry]) {
        self.labels = labels
        self.entries = entries
    }
}

/// Builds the answer to a log query (`/loki/api/v1/query_range` with a log query) from candidate entries in any
/// order: keeps those the selector matches with `start <= timestamp < end`, the `limit` first in `direction`
/// (newest for `backward`), grouped into streams as Loki does.
///
/// Streams are named by ``LogQLEntry/labels`` (stream labels and structured metadata, Loki 3's answer without
/// the `categorize-labels` encoding flag) or, with `categorizeLabels`, by the stream labels alone, the metadata
/// going with each entry. Streams are ordered by their label text (`{a="1", b="2"}`), as Loki sorts them.
public struct LokiStreamCollector: Sendable {
    public let selector: LogSelector
    public let startNanos: Int64
    public let endNanos: Int64
    public let limit: Int
    public let direction: LokiDirection
    public let categorizeLabels: Bool
    private var counted = LokiQueryStatistics()

    /// Lines and bytes read so far, entries kept (`entriesReturned`); the caller sets `execTimeSeconds`.
    public var statistics: LokiQueryStatistics {
        var s = counted
        s.entriesReturned = Int64(entriesReturned)
        return s
    }

    private var kept: [(order: Int, entry: LogQLEntry)] = []
    private var added = 0

    public init(selector: LogSelector, startNanos: Int64, endNanos: Int64, limit: Int, direction: LokiDirection, categorizeLabels: Bool = false) {
        self.selector = selector
        self.startNanos = startNanos
        self.endNanos = endNanos
        self.limit = max(limit, 0)
        self.direction = direction
        self.categorizeLabels = categorizeLabels
    }

    /// Counts the candidate and keeps it if it matches and is among the first `limit` so far.
    public mutating func add(_ entry: LogQLEntry) {
        counted.count(entry)
        guard entry.timestampNanos >= startNanos, entry.timestampNanos < endNanos, selector.matches(entry) else { return }
        counted.postFilterLines &+= 1
        kept.append((added, entry))
        added &+= 1
        // Trim when twice the limit is kept (or 1024 for small limits): sorting stays O(n log limit) overall.
        if kept.count - limit >= max(limit, 1024) { trim() }
    }

    /// Adds what `other` (a copy of this collector fed the records of a later time range in the query's direction)
    /// counted and kept, after what this one keeps.
    public mutating func append(_ other: LokiStreamCollector) {
        counted.add(other.counted)
        for (_, entry) in other.kept {
            kept.append((added, entry))
            added &+= 1
        }
        if kept.count - limit >= max(limit, 1024) { trim() }
    }

    /// The timestamp past which (older for `backward`, newer for `forward`) no entry can enter the answer any
    /// more, once `limit` entries are kept: storage reading in the query's direction can stop there. Costs a sort
    /// of what is kept: ask now and then, not per entry.
    public var cutoffNanos: Int64? {
        guard kept.count >= limit, limit > 0 else { return nil }
        var copy = self
        copy.trim()
        return copy.kept.last?.entry.timestampNanos
    }

    private func precedes(_ a: (order: Int, entry: LogQLEntry), _ b: (order: Int, entry: LogQLEntry)) -> Bool {
        if a.entry.timestampNanos != b.entry.timestampNanos {
            return direction == .backward ? a.entry.timestampNanos > b.entry.timestampNanos : a.entry.timestampNanos < b.entry.timestampNanos
        }
        return a.order < b.order
    }

    private mutating func trim() {
        kept.sort(by: precedes)
        if kept.count > limit { kept.removeSubrange(limit...) }
    }

    /// The streams, ordered by label text, each with its entries in the query's direction.
    public func streams() -> [LokiStream] {
        var copy = self
        copy.trim()
        var byKey: [String: Int] = [:]
        var streams: [(key: String, stream: LokiStream)] = []
        for (_, e) in copy.kept {
            let labels = categorizeLabels ? e.streamLabels.filter { !$0.value.isEmpty } : e.labels
            let key = Self.labelText(labels)
            let item = LokiStreamEntry(
                timestampNanos: e.timestampNanos, line: e.line,
                structuredMetadata: categorizeLabels ? e.structuredMetadata.filter { !$0.value.isEmpty } : [:])
            if let i = byKey[key] {
                streams[i].stream.entries.append(item)
            } else {
                byKey[key] = streams.count
                streams.append((key, LokiStream(labels: labels, entries: [item])))
            }
        }
        streams.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        return streams.map(\.stream)
    }

    /// The number of entries ``streams()`` returns.
    public var entriesReturned: Int { min(kept.count, limit) }

    /// Prometheus's text for a label set, `{a="1", b="2"}`, by which Loki orders streams.
    static func labelText(_ labels: [String: String]) -> String {
        "{" + LokiLabels.sorted(labels).map { "\($0.0)=\(PrometheusDuration.goQuoted($0.1))" }.joined(separator: ", ") + "}"
    }
}

/// Label sets as Prometheus orders and compares them (byte-wise by name, then value).
enum LokiLabels {
    static func sorted(_ labels: [String: String]) -> [(String, String)] {
        labels.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { ($0.key, $0.value) }
    }

    /// Prometheus's `labels.Compare`: the first differing name, then value, decides; then the shorter set.
    static func precedes(_ a: [(String, String)], _ b: [(String, String)]) -> Bool {
        for (x, y) in zip(a, b) {
            if x.0 != y.0 { return x.0.utf8.lexicographicallyPrecedes(y.0.utf8) }
            if x.1 != y.1 { return x.1.utf8.lexicographicallyPrecedes(y.1.utf8) }
        }
        return a.count < b.count
    }
}
