import GRDB

/// How search finds a service's spans in a partition: `span_runs_b` holds one row per run of `spans_b` rows of one
/// service written one after another (a request's spans of one resource, usually), keyed by (service, latest start
/// in the run, lowest rowid), with the earliest start and the highest rowid. In a partition whose rows are clustered by
/// trace (``SpanSlots``) a run holds rows of traces numbered within ``maxTraces`` of each other; in an older one,
/// consecutive rowids. A run's spans start within ``maxSpreadNanos`` of each other.
///
/// A run is a candidate, not an answer: search reads the run's rowid range and filters each row on its service,
/// start and the query's other criteria, so a run that covers rows it does not describe (rowids of deleted rows
/// given again) costs reading and nothing else. Every row is in the run written with it.
///
/// Replaces an index entry per span on `spans_b(service, start_ns)`, about 0.8 µs of SQLite's CPU per span
/// (`bench/sqlite/span_rows.c`); search pays with reading runs out of time order (``NewestTraces``).
enum SpanRuns {
    /// The widest a run may be: its spans start within 5 minutes of each other (the writer starts a new run rather
    /// than widen one past this), so a search of a past window reads no run whose latest start is more than this
    /// after the window's end. Spans a request carries usually start within seconds of each other.
    static let maxSpreadNanos: Int64 = 300_000_000_000
    /// The most trace numbers a run spans in a partition clustered by trace: its rowid range holds every row of those
    /// traces, other services' too, which search reads and filters out, so this bounds what reading a run costs.
    static let maxTraces: Int64 = 64

    /// A run being gathered by the writer.
    struct Run {
        let bucket: Int64
        let service: String
        /// Whether the partition's rowids are clustered by trace (``SpanSlots``): the run's rows are then of traces
        /// numbered close together, each trace's at slots across its range, and `firstRow...lastRow` spans from the
        /// lowest to the highest of them.
        let clustered: Bool
        private(set) var firstRow: Int64
        private(set) var lastRow: Int64
        private(set) var minStart: Int64
        private(set) var maxStart: Int64
        /// The partition's insert into `span_runs_b`.
        let statement: Statement

        init(bucket: Int64, service: String, row: Int64, start: Int64, clustered: Bool, statement: Statement) {
            self.bucket = bucket
            self.service = service
            self.clustered = clustered
            firstRow = row
            lastRow = row
            minStart = start
            maxStart = start
            self.statement = statement
        }

        /// Whether row `row`, just written, may join the run: the next rowid; in a clustered partition, a row of a
        /// trace whose number keeps the run's traces within ``SpanRuns/maxTraces`` numbers, in any order (a request's
        /// new traces are numbered in turn; the traces of another service's recent request, which a request's spans
        /// often join, were numbered close together).
        func continues(row: Int64) -> Bool {
            guard clustered else { return lastRow &+ 1 == row }
            let trace = row >> 32
            return max(lastRow >> 32, trace) - min(firstRow >> 32, trace) < SpanRuns.maxTraces
        }

        /// Whether a span starting at `start` keeps the run within ``SpanRuns/maxSpreadNanos``.
        func admits(start: Int64) -> Bool {
            let (spread, overflow) = max(maxStart, start).subtractingReportingOverflow(min(minStart, start))
            return !overflow && spread <= SpanRuns.maxSpreadNanos
        }

        mutating func add(row: Int64, start: Int64) {
            firstRow = min(firstRow, row)
            lastRow = max(lastRow, row)
            minStart = min(minStart, start)
            maxStart = max(maxStart, start)
        }
    }

    static func insertSQL(bucket: Int64) -> String {
        "INSERT INTO \(SQLiteSchema.spanRunsTable(bucket))(service, max_start_ns, min_start_ns, first_row, last_row) VALUES (?, ?, ?, ?, ?)"
    }

    /// The runs of `service` in partition `bucket` that may hold a span starting in `startMin...startMax`, latest
    /// start first: (latest start, first rowid, last rowid).
    static func candidates(_ db: Database, bucket: Int64, service: String, startMin: Int64, startMax: Int64) throws -> RowCursor {
        let (latest, overflow) = startMax.addingReportingOverflow(maxSpreadNanos)
        return try Row.fetchCursor(
            db.cachedStatement(
                sql: """
                    SELECT max_start_ns, first_row, last_row FROM \(SQLiteSchema.spanRunsTable(bucket))
                    WHERE service = ? AND max_start_ns >= ? AND max_start_ns <= ? AND min_start_ns <= ? ORDER BY max_start_ns DESC
                    """),
            arguments: [service, startMin, overflow ? Int64.max : latest, startMax])
    }
}
