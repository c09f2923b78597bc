import GRDB

/// The database layout. Spans live in time partitions (one table per `partition` of span start time), so that
/// retention drops whole tables and every index stays the size of one partition.
///
/// Per partition `b` (the partition number, start time / partition width):
/// - `traces_b`: one row per trace: a sequence number (`seq`, its rowid, assigned in arrival order), the trace ID,
///   start, end, span and error counts, root service and operation.
/// - `trace_ids_b`: trace ID → `seq`, written in key order in sweeps rather than per trace (``TraceIDTails``): the
///   traces not in it yet (the tail) are known to the writer and to readers in its process from memory, and every
///   trace with a `seq` below the partition's mark in `trace_id_marks` is in it. Partitions written by an earlier
///   otelsink have a unique index on `traces_b(trace_id)` instead.
/// - `span_chunks_b`: the spans, one row per chunk — a trace's spans of one resource and scope written together —
///   holding them as received (``SpanChunks``); rowid = the trace's `seq` shifted left 32 bits plus the chunk's number
///   in the trace. Partitions written by an earlier otelsink have `spans_b` instead:
/// - `spans_b`: one row per span: the columns queries filter on (trace ID and the trace's `seq`, span ID, service,
///   name, kind, start, duration, status) plus `body`, the span itself as OTLP protobuf without the fields those
///   columns hold (`SpanBatchWriter.fieldsInColumns`; `StoredSpan` puts them back), which makes storage
///   lossless; compressed with the partition's dictionary once it has one (``CompressedBody``). No index: a row's
///   rowid is its trace's `seq` shifted left 32 bits plus a slot given by its span ID (``SpanSlots``), so a trace's
///   rows are one rowid range and a span stored again is found at its slot. Partitions written by an earlier
///   otelsink have rowids in arrival order and a unique index on (trace_seq, span_id) instead.
/// - `span_runs_b`: how search finds a service's spans (``SpanRuns``): one row per run of consecutive `span_chunks_b`
///   (or `spans_b`) rows of one service written together (a request's spans, usually), with the run's rowid range and the earliest and
///   latest start in it, keyed by (service, latest start). An index entry per span on (service, start_ns) cost
///   about 0.8 µs of SQLite's CPU per span (docs/performance.md); partitions written by an earlier otelsink have
///   that index instead.
/// - `span_refs_b`: the resources, scopes and operations the partition's spans refer to, one row per distinct combination
///   (``SpanReferences``), so that removing what no span refers to any more does not read the span rows. Partitions
///   written by an earlier otelsink have none.
///
/// Why `seq`: an index keyed by a random ID puts each new entry on a random page, and once the index outgrows the
/// cache every insert writes a page of its own to the WAL (LIMITS.md: an order of magnitude more per span). Keying
/// the span index by the trace's arrival number appends new entries at its end instead; only the trace ID index
/// stays random, with one entry per trace rather than per span.
/// - `logs_b`: one row per log record (see ``LogBatchWriter``): its stream, time (the record's time, or its observed
///   time when unset), severity number, trace and span IDs (NULL when absent), `line` (the body as text) and
///   `record`, the record as OTLP protobuf without the fields the columns hold (compressed as span bodies are, with
///   the partition's dictionary in `log_dictionaries`). Its rowid is the arrival order.
///   No index of its own: `log_trace_blocks_b` says which blocks of 4,096 records hold which traces, and
///   `log_time_blocks_b` which streams each block holds and over what time (``LogTraceBlocks``; records are read in
///   time order through the second, ``LogBlockScan``). Partitions written by an earlier otelsink have indexes on
///   time and on (stream, time) instead of the time blocks, and the earliest have `log_traces_b` instead of the
///   trace blocks (trace ID → a number per trace) and `trace_seq`, indexed.
///
/// Shared tables: `resources` and `scopes` (each distinct resource/scope stored once, as protobuf, with its
/// schema URL), `operations` (distinct service, span name and kind), `log_streams` (each distinct resource, scope
/// and level of log records: a Loki stream, with its labels as JSON), `log_stream_buckets` (which streams have
/// records in which partition, for label queries over a time range), `span_dictionaries` and `log_dictionaries`
/// (the zstd dictionaries of each partition's span bodies and log records, by partition; removed with it),
/// `trace_id_marks` (per partition, the `seq` below which every trace is in `trace_ids_b`), `partitions`, `meta`.
enum SQLiteSchema {
    /// Version 11 stores new partitions' spans in chunks, one row per trace's spans of one resource and scope stored
    /// together (`span_chunks_b`, ``SpanChunks``), instead of a row per span in `spans_b`.
    /// Version 10 records what new partitions' spans refer to in the shared tables (``SpanReferences``), so that
    /// removing unreferenced resources, scopes and operations after retention does not read every span row (an
    /// earlier otelsink writing into such a partition would not record them, and their rows would be removed).
    /// Version 9 clusters new partitions' span rows by trace (``SpanSlots``) instead of keeping a unique index on
    /// `spans_b(trace_seq, span_id)`. Version 8 finds a service's spans in new partitions through runs of rows
    /// (`span_runs_b`) instead of an index entry per span on `spans_b(service, start_ns)`. Version 7 writes new partitions' trace IDs in sweeps
    /// (`trace_ids_b`, `trace_id_marks`) instead of a unique index on `traces_b(trace_id)`, which wrote a random page
    /// per new trace in every transaction. Version 6 reads new partitions' log records in time order by block
    /// (`log_time_blocks_b`) instead of through indexes on time and on (stream, time); version 5 may store log
    /// records compressed (dictionaries in `log_dictionaries`); version 4 may store span bodies compressed
    /// (``CompressedBody``; dictionaries in `span_dictionaries`); version 3 stores them without the fields their
    /// columns hold; version 2 kept every field in the body. This otelsink reads all ten (``StoredSpan`` restores
    /// what a body lacks, ``StoredBodies`` decompresses, ``LogReader`` reads each partition's records by the indexes
    /// it has, ``TraceIDLookup`` each partition's traces by the index it has, search each partition's spans by its
    /// runs or by its service index, and each partition's traces by chunks, by rowid range or by the (trace_seq,
    /// span_id) index) and marks an older file as 11 when it opens it for writing, since new rows and partitions may then need this
    /// version to be read or written right (an older otelsink then refuses the file by its version rather than
    /// misreading it or leaving an index behind).
    static let version = 11
    static let readableVersions: Set<String> = ["2", "3", "4", "5", "6", "7", "8", "9", "10", "11"]

    static func migrate(_ db: Database) throws {
        try db.execute(
            sql: """
                CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS resources(id INTEGER PRIMARY KEY, service TEXT NOT NULL, body BLOB NOT NULL UNIQUE);
                CREATE TABLE IF NOT EXISTS scopes(id INTEGER PRIMARY KEY, name TEXT NOT NULL, body BLOB NOT NULL UNIQUE);
                CREATE TABLE IF NOT EXISTS operations(
                    service TEXT NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL,
                    PRIMARY KEY(service, name, kind)) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS partitions(
                    bucket INTEGER PRIMARY KEY, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS trace_id_marks(bucket INTEGER PRIMARY KEY, indexed_below INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS log_streams(
                    id INTEGER PRIMARY KEY, resource_id INTEGER NOT NULL, scope_id INTEGER NOT NULL, level TEXT NOT NULL,
                    service TEXT NOT NULL, labels TEXT NOT NULL, UNIQUE(resource_id, scope_id, level));
                CREATE TABLE IF NOT EXISTS log_stream_buckets(
                    bucket INTEGER NOT NULL, stream_id INTEGER NOT NULL, PRIMARY KEY(bucket, stream_id)) WITHOUT ROWID;
                CREATE TABLE IF NOT EXISTS span_dictionaries(
                    id INTEGER PRIMARY KEY AUTOINCREMENT, bucket INTEGER NOT NULL, dictionary BLOB NOT NULL);
                CREATE INDEX IF NOT EXISTS span_dictionaries_bucket ON span_dictionaries(bucket);
                CREATE TABLE IF NOT EXISTS log_dictionaries(
                    id INTEGER PRIMARY KEY AUTOINCREMENT, bucket INTEGER NOT NULL, dictionary BLOB NOT NULL);
                CREATE INDEX IF NOT EXISTS log_dictionaries_bucket ON log_dictionaries(bucket);
                CREATE TABLE IF NOT EXISTS latency_baselines(
                    service TEXT NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL, baseline BLOB NOT NULL, recent BLOB NOT NULL,
                    PRIMARY KEY(service, name, kind)) WITHOUT ROWID;
                """)
        // A database written before logs (or anomalies) were stored gains their tables in each existing partition.
        for bucket in try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions") {
            try createLogsTable(db, bucket: bucket)
            try createAnomaliesTable(db, bucket: bucket)
        }
        let stored = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'schema_version'")
        if let stored, !readableVersions.contains(stored) {
            throw DatabaseError(
                message:
                    "database schema version \(stored) is not supported (this otelsink writes version \(version)); move the file away and start with a new one"
            )
        }
        try db.execute(sql: "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", arguments: [String(version)])
        // The key of the span slots of partitions clustered by trace (``SpanSlots``), made once per file.
        try db.execute(
            sql: "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
            arguments: [SpanSlots.metaKey, String(Int64.random(in: .min ... .max))])
    }

    static func spansTable(_ bucket: Int64) -> String { "spans_\(bucket)" }
    static func tracesTable(_ bucket: Int64) -> String { "traces_\(bucket)" }
    static func traceIDsTable(_ bucket: Int64) -> String { "trace_ids_\(bucket)" }
    static func spanRunsTable(_ bucket: Int64) -> String { "span_runs_\(bucket)" }
    static func logsTable(_ bucket: Int64) -> String { "logs_\(bucket)" }
    static func logTracesTable(_ bucket: Int64) -> String { "log_traces_\(bucket)" }
    static func logTraceBlocksTable(_ bucket: Int64) -> String { "log_trace_blocks_\(bucket)" }
    static func logTimeBlocksTable(_ bucket: Int64) -> String { "log_time_blocks_\(bucket)" }
    /// The index on `time_ns` alone that partitions of an earlier otelsink have.
    static func logsTimeIndex(_ bucket: Int64) -> String { "\(logsTable(bucket))_time" }
    static func anomaliesTable(_ bucket: Int64) -> String { "anomalies_\(bucket)" }

    /// `anomalies_b`: the spans of partition `b` flagged as unusually slow at ingest (``LatencyBaselines``), with
    /// the baseline p99 they were judged against.
    static func createAnomaliesTable(_ db: Database, bucket: Int64) throws {
        try db.execute(
            sql: """
                CREATE TABLE IF NOT EXISTS \(anomaliesTable(bucket))(
                    trace_seq INTEGER NOT NULL, span_id BLOB NOT NULL, duration_ns INTEGER NOT NULL, p99_ns INTEGER NOT NULL,
                    PRIMARY KEY(trace_seq, span_id)) WITHOUT ROWID
                """)
    }

    /// `logs_b` and `log_trace_blocks_b`, the index its records are found by trace ID with (``LogTraceBlocks``).
    ///
    /// No index on the records themselves: an index on time cost ~0.9 µs of CPU and ~70 bytes written per record,
    /// and one on (stream, time) about as much; records are read in time order by block instead, through the time
    /// range of each stream in each block (``LogBlockScan``).
    ///
    /// A partition whose logs table an earlier otelsink made keeps the layout it has, and its time index; the
    /// earliest also keep their traces numbered in arrival order (`log_traces_b`, one row per trace, keyed by trace
    /// ID) and records referring to that number (`trace_seq`, indexed).
    static func createLogsTable(_ db: Database, bucket: Int64) throws {
        let logs = logsTable(bucket)
        if try db.tableExists(logTraceBlocksTable(bucket)) {
            // A partition of the version before gains the table its blocks' times are written to from now on (its
            // queries in time order keep using its indexes, which cover its earlier records too).
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS \(logTimeBlocksTable(bucket))(
                        block INTEGER NOT NULL, stream_id INTEGER NOT NULL, min_time INTEGER NOT NULL, max_time INTEGER NOT NULL,
                        PRIMARY KEY(block, stream_id, min_time, max_time)) WITHOUT ROWID
                    """)
            return
        }
        guard try db.tableExists(logs) else {
            try db.execute(
                sql: """
                    CREATE TABLE \(logs)(
                        stream_id INTEGER NOT NULL, time_ns INTEGER NOT NULL, severity INTEGER NOT NULL,
                        trace_id BLOB, span_id BLOB, line TEXT NOT NULL, record BLOB NOT NULL);
                    CREATE TABLE \(logTraceBlocksTable(bucket))(
                        block INTEGER NOT NULL, trace_hash INTEGER NOT NULL, first_row INTEGER NOT NULL, last_row INTEGER NOT NULL,
                        PRIMARY KEY(block, trace_hash, first_row)) WITHOUT ROWID;
                    CREATE TABLE \(logTimeBlocksTable(bucket))(
                        block INTEGER NOT NULL, stream_id INTEGER NOT NULL, min_time INTEGER NOT NULL, max_time INTEGER NOT NULL,
                        PRIMARY KEY(block, stream_id, min_time, max_time)) WITHOUT ROWID;
                    """)
            return
        }
        let traces = logTracesTable(bucket)
        try db.execute(
            sql: """
                CREATE TABLE IF NOT EXISTS \(logs)(
                    stream_id INTEGER NOT NULL, time_ns INTEGER NOT NULL, severity INTEGER NOT NULL,
                    trace_id BLOB, span_id BLOB, line TEXT NOT NULL, record BLOB NOT NULL, trace_seq INTEGER);
                CREATE INDEX IF NOT EXISTS \(logs)_time ON \(logs)(time_ns);
                CREATE INDEX IF NOT EXISTS \(logs)_stream ON \(logs)(stream_id, time_ns);
                CREATE TABLE IF NOT EXISTS \(traces)(trace_id BLOB PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
                """)
        // A logs table of an early development build (trace ID index, no trace number) gains the column and index.
        if try !Row.fetchAll(db, sql: "PRAGMA table_info(\(logs))").contains(where: { ($0["name"] as String?) == "trace_seq" }) {
            try db.execute(sql: "ALTER TABLE \(logs) ADD COLUMN trace_seq INTEGER")
        }
        try db.execute(sql: "CREATE INDEX IF NOT EXISTS \(logs)_trace_seq ON \(logs)(trace_seq) WHERE trace_seq IS NOT NULL")
    }

    /// Makes partition `bucket`'s tables, those it lacks when it exists. A new partition stores chunks of spans
    /// (``SpanChunks``) unless `chunks` is false (a row per span, as schema version 10 did: for tests of such
    /// partitions).
    static func createPartition(_ db: Database, bucket: Int64, widthNanos: Int64, chunks: Bool = true) throws {
        let spans = spansTable(bucket)
        let traces = tracesTable(bucket)
        // A partition keeps the layout it was made with: one that has span rows without runs must not gain an
        // (empty) runs table, which would hide those rows from search, and one whose rows are found through the
        // unique index on (trace_seq, span_id) keeps that index (its rowids are not clustered by trace).
        if try !db.tableExists(spans), try !db.tableExists(SpanChunks.table(bucket)) {
            let spanTables =
                chunks
                ? SpanChunks.createSQL(bucket)
                : """
                CREATE TABLE \(spans)(
                    trace_seq INTEGER NOT NULL, trace_id BLOB NOT NULL, span_id BLOB NOT NULL, parent_span_id BLOB NOT NULL,
                    resource_id INTEGER NOT NULL, scope_id INTEGER NOT NULL,
                    service TEXT NOT NULL, name TEXT NOT NULL, kind INTEGER NOT NULL,
                    start_ns INTEGER NOT NULL, duration_ns INTEGER NOT NULL, status_code INTEGER NOT NULL,
                    body BLOB NOT NULL);
                """
            try db.execute(
                sql: """
                    CREATE TABLE \(spanRunsTable(bucket))(
                        service TEXT NOT NULL, max_start_ns INTEGER NOT NULL, min_start_ns INTEGER NOT NULL,
                        first_row INTEGER NOT NULL, last_row INTEGER NOT NULL,
                        PRIMARY KEY(service, max_start_ns, first_row)) WITHOUT ROWID;
                    \(SpanReferences.createSQL(bucket))
                    \(spanTables)
                    """)
        }
        try db.execute(
            sql: """
                CREATE TABLE IF NOT EXISTS \(traces)(
                    seq INTEGER PRIMARY KEY, trace_id BLOB NOT NULL, start_ns INTEGER NOT NULL, end_ns INTEGER NOT NULL,
                    span_count INTEGER NOT NULL, error_count INTEGER NOT NULL,
                    root_service TEXT, root_name TEXT);
                CREATE TABLE IF NOT EXISTS \(traceIDsTable(bucket))(trace_id BLOB PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
                """)
        try createLogsTable(db, bucket: bucket)
        try createAnomaliesTable(db, bucket: bucket)
        try db.execute(
            sql: "INSERT OR IGNORE INTO partitions(bucket, start_ns, end_ns) VALUES (?, ?, ?)",
            arguments: [bucket, bucket &* widthNanos, (bucket &+ 1) &* widthNanos])
    }

    /// Every table partition `bucket` may have.
    static func partitionTables(_ bucket: Int64) -> [String] {
        [
            spansTable(bucket), tracesTable(bucket), logsTable(bucket), logTracesTable(bucket), logTraceBlocksTable(bucket),
            logTimeBlocksTable(bucket), anomaliesTable(bucket), traceIDsTable(bucket), spanRunsTable(bucket), SpanReferences.table(bucket),
            SpanChunks.table(bucket), SpanChunks.idsTable(bucket),
        ]
    }

    /// Removes partition `bucket`: its rows in the shared tables, and its tables — renamed for ``RetiredTables`` to
    /// empty in steps (true), or dropped at once when they have indexes (a partition made by an earlier otelsink).
    @discardableResult
    static func dropPartition(_ db: Database, bucket: Int64) throws -> Bool {
        let tables = partitionTables(bucket)
        let retired = try RetiredTables.retire(db, tables: tables)
        if !retired {
            try db.execute(sql: tables.map { "DROP TABLE IF EXISTS \($0)" }.joined(separator: "; "))
        }
        try db.execute(sql: "DELETE FROM trace_id_marks WHERE bucket = ?", arguments: [bucket])
        try db.execute(sql: "DELETE FROM partitions WHERE bucket = ?", arguments: [bucket])
        try db.execute(sql: "DELETE FROM log_stream_buckets WHERE bucket = ?", arguments: [bucket])
        try db.execute(sql: "DELETE FROM span_dictionaries WHERE bucket = ?", arguments: [bucket])
        try db.execute(sql: "DELETE FROM log_dictionaries WHERE bucket = ?", arguments: [bucket])
        return retired
    }
}
