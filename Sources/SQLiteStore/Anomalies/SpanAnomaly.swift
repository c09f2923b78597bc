import Foundation
import GRDB

/// A span flagged at ingest as unusually slow for its operation (see ``LatencyBaselines``).
public struct SpanAnomaly: Sendable, Equatable {
    public var durationNanos: Int64
    /// The p99 of the operation's baseline when the span was stored.
    public var baselineP99Nanos: Int64

    /// How many times the baseline p99 the span took.
    public var ratio: Double { Double(durationNanos) / Double(max(baselineP99Nanos, 1)) }

    public init(durationNanos: Int64, baselineP99Nanos: Int64) {
        self.durationNanos = durationNanos
        self.baselineP99Nanos = baselineP99Nanos
    }

    /// The tag that marks an anomalous span in Jaeger JSON, and that finds them in a search (`otelsink.anomaly=true`).
    public static let tag = TagFilter(key: "otelsink.anomaly", value: "true")
}

extension TraceReader {
    /// The anomalous spans of the trace at `numbers` (``traceNumbers(_:id:lookup:layout:)``), by span ID (read inside
    /// an open read transaction).
    static func anomalies(_ db: Database, at numbers: [TraceNumber], tables: Set<String>) throws -> [Data: SpanAnomaly] {
        var found: [Data: SpanAnomaly] = [:]
        for n in numbers where tables.contains(SQLiteSchema.anomaliesTable(n.bucket)) {
            let statement = try db.cachedStatement(
                sql: "SELECT span_id, duration_ns, p99_ns FROM \(SQLiteSchema.anomaliesTable(n.bucket)) WHERE trace_seq = ?")
            let rows = try Row.fetchCursor(statement, arguments: [n.seq])
            while let row = try rows.next() {
                found[row[0]] = SpanAnomaly(durationNanos: row[1], baselineP99Nanos: row[2])
            }
        }
        return found
    }

    /// The names of the partitions' anomaly tables that exist (a database written before anomalies has none).
    static func anomalyTables(_ db: Database) throws -> Set<String> {
        let sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'anomalies\\_%' ESCAPE '\\'"
        return Set(try String.fetchAll(db.cachedStatement(sql: sql)))
    }
}
