import CollectorCore
import Foundation

/// The store's own metrics (see docs/configuration.md, "Self-telemetry"): commit latency, spans per transaction,
/// rows removed by retention, and (read at scrape time) queue fill and database size.
public struct SQLiteStoreTelemetry: Sendable {
    let commitDuration: TelemetryHistogram
    let transactionSpans: TelemetryHistogram
    let retentionRemovedSpans: TelemetryCounter
    let retentionRemovedPartitions: TelemetryCounter
    private let registry: TelemetryRegistry
    private let exporter: String

    /// Instruments that count into a registry nobody reads (tests, tools).
    public static let unobserved = SQLiteStoreTelemetry(registry: TelemetryRegistry(), exporter: "sqlite")

    public init(registry: TelemetryRegistry, exporter: String) {
        self.registry = registry
        self.exporter = exporter
        let labels: TelemetryLabels = ["exporter": exporter]
        commitDuration = registry.histogram(
            "otelsink_sqlite_commit_duration_seconds", help: "Time to write and commit one SQLite transaction (group commit).",
            bounds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], labels: labels)
        transactionSpans = registry.histogram(
            "otelsink_sqlite_transaction_spans", help: "Spans written per SQLite transaction.",
            bounds: [1, 10, 100, 500, 1000, 2500, 5000, 10000, 20000], labels: labels)
        retentionRemovedSpans = registry.counter(
            "otelsink_sqlite_retention_removed_spans_total",
            help:
                "Spans removed by retention (by age or size); for dropped partitions the count is an estimate (from rowids, or trace numbers and spans per trace).",
            labels: labels)
        retentionRemovedPartitions = registry.counter(
            "otelsink_sqlite_retention_removed_partitions_total", help: "Time partitions dropped by retention.", labels: labels)
    }

    /// Spans of `service` flagged as anomalous at ingest. Services are bounded by the baselines' `max_operations`.
    func anomalousSpans(service: String) -> TelemetryCounter {
        registry.counter(
            "otelsink_sqlite_anomalous_spans_total",
            help: "Stored spans slower than their operation's baseline p99 times anomalies.factor.",
            labels: ["exporter": exporter, "service": service])
    }

    /// Registers the gauges read at scrape time: otelcol's queue size and capacity, and the database file size.
    public static func registerGauges(_ registry: TelemetryRegistry, exporter: String, store: SQLiteTraceStore) {
        let labels: TelemetryLabels = ["exporter": exporter]
        registry.gauge(
            "otelcol_exporter_queue_size",
            help: "Spans and log records queued for the SQLite writer (otelcol counts batches; otelsink counts items).", labels: labels
        ) {
            Double(store.queuedSpans)
        }
        registry.gauge(
            "otelcol_exporter_queue_capacity", help: "Spans and log records the SQLite writer queue holds at most (queue_size).", labels: labels
        ) {
            Double(store.config.queueSize)
        }
        let path = store.config.path
        registry.gauge("otelsink_sqlite_database_size_bytes", help: "Size of the SQLite database file and its WAL.", labels: labels) {
            let fm = FileManager.default
            func size(_ p: String) -> Int { ((try? fm.attributesOfItem(atPath: p))?[.size] as? Int) ?? 0 }
            return Double(size(path) + size(path + "-wal"))
        }
    }
}
