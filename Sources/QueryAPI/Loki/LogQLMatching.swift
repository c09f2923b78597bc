/// A stored log record as LogQL sees it.
public struct LogQLEntry: Sendable {
    public var timestampNanos: Int64
    /// The log body as text.
    public var line: String
    /// Indexed labels: service_name, level, scope_name, resource attributes (dots → underscores).
    public var streamLabels: [String: String]
    /// Per-entry labels: log attributes (dots → underscores), trace_id and span_id (hex).
    public var structuredMetadata: [String: String]

    public init(timestampNanos: Int64, line: String, streamLabels: [String: String], structuredMetadata: [String: String] = [:]) {
        self.timestampNanos = timestampNanos
        self.line = line
        self.streamLabels = streamLabels
        self.structuredMetadata = structuredMetadata
    }

    /// The labels Loki 3 gives the entry after its pipeline, which label filters read and which name the entry's
    /// stream in a response (without `categorize-labels`) and its series in a metric query: the stream labels
    /// plus the structured metadata, where metadata whose name is also a stream label is renamed `<name>_extracted`
    /// (Loki's `LabelsBuilder.Add`). Empty values are absent, as in Prometheus.
    public var labels: [String: String] {
        var out = streamLabels.filter { !$0.value.isEmpty }
        guard !structuredMetadata.isEmpty else { return out }
        for (name, value) in structuredMetadata where !value.isEmpty {
            if let s = streamLabels[name], !s.isEmpty {
                out[name + "_extracted"] = value
            } else {
                out[name] = value
            }
        }
        return out
    }
}

extension LogSelector {
    /// Whether a stream's labels satisfy every matcher; a missing label is `""` (so `{a!="x"}` matches a stream
    /// without `a`, and `{a=""}` one without `a` or with it empty).
    public func matchesStream(_ labels: [String: String]) -> Bool {
        matchers.allSatisfy { $0.matches(labels[$0.name] ?? "") }
    }

    /// Whether the entry's stream matches and the entry passes every pipeline stage, in order. Label filters read
    /// ``LogQLEntry/labels`` (stream labels and structured metadata; on a name clash the stream label, the metadata
    /// being `<name>_extracted`, as in Loki).
    public func matches(_ entry: LogQLEntry) -> Bool {
        guard matchesStream(entry.streamLabels) else { return false }
        var merged: [String: String]? = nil
        for stage in pipeline {
            switch stage {
            case .lineFilter(let f):
                guard f.matches(entry.line) else { return false }
            case .labelFilter(let f):
                if merged == nil { merged = entry.labels }
                guard f.matches(merged ?? [:]) else { return false }
            case .dropErrorLabels:
                continue
            }
        }
        return true
    }

    // MARK: Narrowing for storage

    /// The `=` stream matchers with non-empty values (`{service_name="api"}` → `["service_name": "api"]`): a
    /// stream lacking one of these values cannot match. The first wins when a name repeats.
    public var equalityMatchers: [String: String] {
        var out: [String: String] = [:]
        for m in matchers where m.op == .equal && !m.value.isEmpty && out[m.name] == nil { out[m.name] = m.value }
        return out
    }

    /// Whether the pipeline filters lines (`|=`, `!=`, `|~`, `!~`): every candidate record's line is then read.
    public var filtersLines: Bool {
        pipeline.contains { if case .lineFilter = $0 { true } else { false } }
    }

    /// The texts of `|=` filters without `or` (non-empty): a line not containing one of them (byte-wise,
    /// case-sensitively) cannot match.
    public var lineContains: [String] {
        pipeline.compactMap { stage in
            if case .lineFilter(let f) = stage, f.op == .contains, f.patterns.count == 1, let p = f.patterns.first, !p.isEmpty { return p }
            return nil
        }
    }

    /// The `name="value"` label filters every match must satisfy (`| trace_id="0af7…"` → `["trace_id": "0af7…"]`;
    /// not those under `or`): an entry whose ``LogQLEntry/labels`` lack one cannot match. The value may come from
    /// a stream label or from structured metadata, so storage must check both where it narrows. First wins.
    public var labelEquals: [String: String] {
        var out: [String: String] = [:]
        func collect(_ f: LabelFilter) {
            switch f {
            case .matcher(let m):
                if m.op == .equal, !m.value.isEmpty, out[m.name] == nil { out[m.name] = m.value }
            case .and(let fs):
                for f in fs { collect(f) }
            case .or:
                break
            }
        }
        for stage in pipeline { if case .labelFilter(let f) = stage { collect(f) } }
        return out
    }
}

extension LabelFilter {
    /// Whether `labels` satisfy the filter; a missing label is `""`.
    public func matches(_ labels: [String: String]) -> Bool {
        switch self {
        case .matcher(let m): m.matches(labels[m.name] ?? "")
        case .and(let fs): fs.allSatisfy { $0.matches(labels) }
        case .or(let fs): fs.contains { $0.matches(labels) }
        }
    }
}
