/// What a query read and returned, for the `stats.summary` object of Loki's query responses (Grafana shows it in
/// the query inspector). The collectors count lines and bytes; the HTTP layer sets ``execTimeSeconds``.
public struct LokiQueryStatistics: Sendable, Equatable {
    /// Candidate entries read (before the pipeline).
    public var linesProcessed: Int64 = 0
    /// UTF-8 bytes of those entries' lines and structured metadata.
    public var bytesProcessed: Int64 = 0
    /// Entries that passed the pipeline.
    public var postFilterLines: Int64 = 0
    /// Entries in the response (log queries).
    public var entriesReturned: Int64 = 0
    /// Structured metadata bytes among ``bytesProcessed``.
    public var structuredMetadataBytesProcessed: Int64 = 0
    public var execTimeSeconds: Double = 0

    public init() {}

    /// Adds what another read of the same query counted (the other half of a split time range).
    mutating func add(_ other: LokiQueryStatistics) {
        linesProcessed &+= other.linesProcessed
        bytesProcessed &+= other.bytesProcessed
        postFilterLines &+= other.postFilterLines
        structuredMetadataBytesProcessed &+= other.structuredMetadataBytesProcessed
    }

    mutating func count(_ entry: LogQLEntry) {
        var metadata = 0
        for (k, v) in entry.structuredMetadata { metadata &+= k.utf8.count &+ v.utf8.count }
        linesProcessed &+= 1
        structuredMetadataBytesProcessed &+= Int64(metadata)
        bytesProcessed &+= Int64(entry.line.utf8.count) &+ Int64(metadata)
    }
}
