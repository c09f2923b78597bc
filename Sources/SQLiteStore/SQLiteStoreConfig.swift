import CollectorCore

/// Settings of the `sqlite` exporter.
public struct SQLiteStoreConfig: ComponentConfig, Equatable {
    /// The database file; its directory is created if missing.
    public var path: String = "./otelsink-data/traces.db"
    /// Spans whose partition ended longer ago than this are removed.
    public var retention: Duration = .seconds(72 * 3600)
    /// Upper bound on the database size in MiB; the oldest partitions are removed to stay under it. 0 = no limit.
    public var maxSizeMiB: Int = 8192
    /// Width of a time partition. Retention removes whole partitions, which is cheap.
    public var partition: Duration = .seconds(3600)
    /// Spans waiting for the writer beyond which new exports are refused (retryably).
    public var queueSize: Int = 50_000
    /// `normal` survives a crash of otelsink (kill -9); `full` also survives power loss, at a cost per commit.
    public var synchronous: Synchronous = .normal
    /// Latency baselines and the flagging of unusually slow spans.
    public var anomalies = AnomalyDetectionConfig()
    /// How span bodies and log records are stored: `zstd` compresses each with a dictionary trained per partition
    /// (one for spans, one for log records); `none` stores the protobuf as it is.
    public var compression: Compression = .zstd
    /// New traces one sweep of the trace-ID tails is paced to (``TraceIDTails``); smaller in tests, not configurable.
    var traceIDSweepTraces = TraceIDTails.defaultSweepTraces
    /// Whether new partitions store chunks of spans (``SpanChunks``); false makes them store a row per span, as
    /// schema version 10 did (for tests of such partitions).
    var spanChunks = true

    public enum Synchronous: String, Sendable, CaseIterable { case normal, full }
    public enum Compression: String, Sendable, CaseIterable { case zstd, none }

    public init(path: String = "./otelsink-data/traces.db") { self.path = path }

    /// Reads the settings, reporting problems with their paths.
    public init(reading r: ConfigReader) {
        path = r.string("path", default: path)
        if path.isEmpty { r.report("path", "must not be empty") }
        retention = r.duration("retention", default: retention, minimum: .seconds(60))
        maxSizeMiB = r.int("max_size_mib", default: maxSizeMiB, range: 0...(1 << 30))
        if maxSizeMiB > 0 && maxSizeMiB < 16 { r.report("max_size_mib", "must be 0 (no limit) or at least 16, got \(maxSizeMiB)") }
        partition = r.duration("partition", default: partition, minimum: .seconds(60))
        if partition > retention { r.report("partition", "must not be longer than retention (\(DurationText.format(retention)))") }
        queueSize = r.int("queue_size", default: queueSize, range: 100...10_000_000)
        let sync = r.string("synchronous", default: synchronous.rawValue)
        if let s = Synchronous(rawValue: sync) {
            synchronous = s
        } else {
            r.report("synchronous", "expected normal or full, got \"\(sync)\"")
        }
        let compression = r.string("compression", default: self.compression.rawValue)
        if let c = Compression(rawValue: compression) {
            self.compression = c
        } else {
            r.report("compression", "expected zstd or none, got \"\(compression)\"")
        }
        anomalies = AnomalyDetectionConfig(reading: r.child("anomalies"))
    }
}
