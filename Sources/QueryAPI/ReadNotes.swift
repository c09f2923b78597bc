import SQLiteStore

/// What the query API tells a client when a response's span cap or time budget left part of it out: the texts of
/// the `errors` / `warnings` entries and the `Otelsink-Truncated` header.
enum ReadNotes {
    static func truncated(_ c: QueryConfig) -> String {
        "trace truncated: the response holds at most \(c.maxSpansPerResponse) spans (query max_spans_per_response); read the rest with otelsink trace --db"
    }

    static func unreadForSpans(_ c: QueryConfig) -> String {
        "trace not loaded: the response reached its limit of \(c.maxSpansPerResponse) spans (query max_spans_per_response); ask for it alone"
    }

    static func unreadForTime(_ c: QueryConfig) -> String {
        "trace not loaded: the lookup stopped after its time budget (\(DurationFormat.text(c.timeBudget))); ask for it again"
    }

    /// One line per kind of omission in a search's results.
    static func searchErrors<Trace>(_ read: BoundedReads<Trace>, config c: QueryConfig) -> [String] {
        var out: [String] = []
        if !read.truncated.isEmpty {
            out.append(
                "\(read.truncated.count) trace(s) truncated: the response holds at most \(c.maxSpansPerResponse) spans (query max_spans_per_response)"
            )
        }
        if !read.unreadForSpans.isEmpty {
            out.append(
                "\(read.unreadForSpans.count) matching trace(s) left out: the response reached its limit of \(c.maxSpansPerResponse) spans; lower the limit or narrow the search"
            )
        }
        if !read.unreadForTime.isEmpty {
            out.append(
                "\(read.unreadForTime.count) matching trace(s) left out: loading stopped after the time budget (\(DurationFormat.text(c.timeBudget)))"
            )
        }
        return out
    }

    static func headers(truncated: Bool, config c: QueryConfig) -> [(String, String)] {
        truncated ? [("Otelsink-Truncated", "response limited to \(c.maxSpansPerResponse) spans or \(DurationFormat.text(c.timeBudget))")] : []
    }
}
