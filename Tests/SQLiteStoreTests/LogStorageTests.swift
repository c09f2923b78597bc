import CollectorCore
import CollectorTesting
import Foundation
import GRDB
import OTLP
import Testing

@testable import SQLiteStore

private typealias ScopeLogs = Opentelemetry_Proto_Logs_V1_ScopeLogs

/// A log record with every field set; `body` as given.
func fullRecord(time: UInt64, body: AnyValue?, severity: Int = 13, text: String = "WARN", trace: Data? = nil, span: Data? = nil) -> LogRecord {
    var r = LogRecord()
    r.timeUnixNano = time
    r.observedTimeUnixNano = time + 5
    r.severityNumber = Opentelemetry_Proto_Logs_V1_SeverityNumber(rawValue: severity) ?? .unspecified
    r.severityText = text
    if let body { r.body = body }
    r.attributes = [stringAttribute("http.method", "GET"), attribute("retries", .int(3))]
    r.droppedAttributesCount = 2
    r.flags = 1
    if let trace { r.traceID = trace }
    if let span { r.spanID = span }
    r.eventName = "request.done"
    return r
}

func logsRequest(service: String = "svc", scope: String = "app.logger", extra: [KeyValue] = [], records: [LogRecord]) -> ExportLogsRequest {
    var rl = ResourceLogs()
    rl.resource.attributes = [stringAttribute("service.name", service), stringAttribute("deployment.environment", "prod")] + extra
    rl.schemaURL = "https://opentelemetry.io/schemas/1.26.0"
    var sl = ScopeLogs()
    sl.scope.name = scope
    sl.scope.version = "1.2"
    sl.logRecords = records
    rl.scopeLogs = [sl]
    var r = ExportLogsRequest()
    r.resourceLogs = [rl]
    return r
}

func allRows(_ reader: LogReader, _ configure: (inout LogQuery) -> Void = { _ in }) throws -> [StoredLogRow] {
    var q = LogQuery()
    configure(&q)
    var rows: [StoredLogRow] = []
    try reader.scan(q) {
        rows.append($0)
        return true
    }
    return rows
}

@Suite("Log storage")
struct LogStorageTests {
    @Test func everyFieldOfEveryBodyKindComesBackAsSent() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let now = nowNanos()
            var map = AnyValue()
            map.kvlistValue.values = [stringAttribute("user", "ada"), attribute("n", .int(7))]
            var array = AnyValue()
            array.arrayValue.values = [.string("a"), .int(1)]
            var bytes = AnyValue()
            bytes.bytesValue = Data([0, 1, 2, 255])
            let bodies: [AnyValue?] = [.string("plain text body"), .string(""), map, array, bytes, .int(42), .double(1.5), .bool(true), nil]
            var records: [LogRecord] = []
            for (i, body) in bodies.enumerated() {
                records.append(fullRecord(time: now + UInt64(i) * 1000, body: body, trace: randomBytes(16), span: randomBytes(8)))
            }
            // Records without IDs, with an unknown severity number and without a time (observed time only).
            var bare = LogRecord()
            bare.observedTimeUnixNano = now + 99_000
            bare.severityNumber = Opentelemetry_Proto_Logs_V1_SeverityNumber(rawValue: 77) ?? .unspecified
            bare.body = .string("observed only")
            records.append(bare)
            let sent = logsRequest(records: records)
            try await store.append(sent)

            let reader = LogReader(TraceReader(store: store))
            let rows = try allRows(reader) { $0.newestFirst = false }
            #expect(rows.count == records.count)
            let back = try reader.request(rows)
            #expect(back == sent)
            #expect(
                rows.map(\.line) == [
                    "plain text body", "", #"{"n":7,"user":"ada"}"#, #"["a",1]"#, "AAEC/w==", "42", "1.5", "true", "", "observed only",
                ])
            #expect(rows.last?.time == Int64(now + 99_000))
            await store.close()
        }
    }

    @Test func indexesAnswerTraceSpanServiceSeverityAndSubstringQueries() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let now = nowNanos()
            let trace = randomBytes(16)
            let span = randomBytes(8)
            let otherSpan = randomBytes(8)
            try await store.append(
                logsRequest(
                    service: "checkout",
                    records: [
                        fullRecord(time: now, body: .string("payment accepted"), severity: 9, text: "INFO", trace: trace, span: span),
                        fullRecord(time: now + 10, body: .string("payment slow"), severity: 13, text: "WARN", trace: trace, span: otherSpan),
                        fullRecord(time: now + 20, body: .string("card declined"), severity: 17, text: "ERROR"),
                    ]))
            try await store.append(
                logsRequest(
                    service: "cart",
                    records: [
                        fullRecord(time: now + 5, body: .string("payment page shown"), severity: 9, text: "INFO")
                    ]))
            let reader = LogReader(TraceReader(store: store))
            #expect(try allRows(reader) { $0.traceID = trace }.map(\.line) == ["payment slow", "payment accepted"])
            #expect(
                try allRows(reader) {
                    $0.traceID = trace
                    $0.spanID = span
                }.map(\.line) == ["payment accepted"])

            let streams = try reader.streams()
            #expect(Set(streams.map { $0.labels["level"] ?? "" }) == ["INFO", "WARN", "ERROR"])
            let first = try #require(streams.first)
            #expect(first.labels["deployment_environment"] == "prod")
            #expect(first.labels["scope_name"] == "app.logger")
            let checkout = Set(streams.filter { $0.service == "checkout" }.map(\.id))
            #expect(
                try allRows(reader) {
                    $0.streams = checkout
                    $0.minSeverity = 13
                }.map(\.line) == ["card declined", "payment slow"])
            #expect(try allRows(reader) { $0.lineContains = ["payment"] }.map(\.line) == ["payment slow", "payment page shown", "payment accepted"])
            #expect(
                try allRows(reader) {
                    $0.lineContains = ["payment"]
                    $0.newestFirst = false
                    $0.end = Int64(now + 5)
                }.map(\.line)
                    == ["payment accepted", "payment page shown"])
            #expect(try allRows(reader) { $0.streams = [] }.isEmpty)

            // The query plans read record ranges by rowid (a trace's ranges; a block's records), not the whole table.
            let plans = try await store.pool.read { db in
                let table = SQLiteSchema.logsTable(Int64(now / hourNanos))
                return try [
                    """
                    SELECT rowid FROM \(table) NOT INDEXED WHERE time_ns >= 0 AND (rowid BETWEEN 1 AND 10 OR rowid BETWEEN 4096 AND \(Int64.max))
                    AND trace_id = x'00' ORDER BY time_ns DESC, rowid DESC
                    """,
                    "SELECT rowid, time_ns FROM \(table) WHERE rowid BETWEEN 4096 AND 8191 AND time_ns >= 5 AND time_ns <= 10 AND stream_id IN (1,2)",
                ].map { sql in try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { $0["detail"] as String }.joined(separator: " | ") }
            }
            #expect(plans[0].contains("INTEGER PRIMARY KEY") && !plans[0].contains("SCAN"), "\(plans[0])")
            #expect(plans[1].contains("INTEGER PRIMARY KEY") && !plans[1].contains("SCAN"), "\(plans[1])")
            await store.close()
        }
    }

    /// Several streams are read as one index range each and merged: the order must be the one a single sorted
    /// read gives, in both directions, and stopping early must return the first records of that order.
    @Test(arguments: [UInt64(11), 12])
    func recordsOfSeveralStreamsMergeInTimeOrder(seed: UInt64) async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            var rng = SeededRandom(seed: seed)
            let now = nowNanos()
            let levels = [(9, "INFO"), (13, "WARN"), (17, "ERROR"), (5, "DEBUG")]
            for batch in 0..<4 {
                var records: [LogRecord] = []
                for i in 0..<50 {
                    let (n, text) = levels[Int(rng.next() % 4)]
                    // Times repeat (ties are broken by arrival) and go back and forth.
                    let t = now - UInt64(rng.next() % 40) * 1_000_000
                    records.append(fullRecord(time: t, body: .string("b\(batch)-\(i)"), severity: n, text: text))
                }
                try await store.append(logsRequest(records: records))
            }
            let reader = LogReader(TraceReader(store: store))
            let streams = try reader.streams()
            #expect(streams.count == 4, "seed \(seed)")
            let chosen = Set(streams.filter { $0.labels["level"] != "DEBUG" }.map(\.id))
            for newestFirst in [true, false] {
                // Every stream: merged too (partitions have no index on time alone).
                let all = try allRows(reader) { $0.newestFirst = newestFirst }
                let sorted = all.sorted { a, b in newestFirst ? (a.time, a.rowID) > (b.time, b.rowID) : (a.time, a.rowID) < (b.time, b.rowID) }
                #expect(all.count == 200, "seed \(seed)")
                #expect(all.map(\.rowID) == sorted.map(\.rowID), "seed \(seed), newestFirst \(newestFirst)")
                let expected = all.filter { chosen.contains($0.stream) }.map(\.line)
                let merged = try allRows(reader) {
                    $0.streams = chosen
                    $0.newestFirst = newestFirst
                }.map(\.line)
                #expect(merged == expected, "seed \(seed), newestFirst \(newestFirst)")
                var firstTen: [String] = []
                var q = LogQuery()
                q.streams = chosen
                q.newestFirst = newestFirst
                try reader.scan(q) {
                    firstTen.append($0.line)
                    return firstTen.count < 10
                }
                #expect(firstTen == Array(expected.prefix(10)), "seed \(seed)")
            }
            await store.close()
        }
    }

    /// A partition written by an earlier otelsink has indexes on time and on (stream, time), and queries read
    /// through them; they must answer as the blocks of a partition without them do.
    @Test func queriesAnswerAlikeByBlockAndThroughTheIndexesOfAnEarlierPartition() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let now = nowNanos()
            let bucket = Int64(now / hourNanos)
            for (k, service) in ["a", "b", "c"].enumerated() {
                let records = (0..<30).map { i in
                    fullRecord(time: now - UInt64((i * 7 + k * 3) % 50) * 1_000_000, body: .string("\(service)\(i)"), severity: 9 + 4 * (i % 3))
                }
                try await store.append(logsRequest(service: service, records: records))
            }
            let reader = LogReader(TraceReader(store: store))
            // One stream per service (every record is WARN): b and c, merged through the index in the earlier layout.
            let ofB = Set(try reader.streams().filter { $0.service != "a" }.map(\.id))
            #expect(ofB.count == 2)
            func answers() throws -> [[String]] {
                try [true, false].flatMap { newestFirst in
                    [
                        try allRows(reader) { $0.newestFirst = newestFirst }.map(\.line),
                        try allRows(reader) {
                            $0.newestFirst = newestFirst
                            $0.minSeverity = 13
                            $0.start = Int64(now) - 30_000_000
                        }.map(\.line),
                        try allRows(reader) {
                            $0.newestFirst = newestFirst
                            $0.streams = ofB
                            $0.lineContains = ["1"]
                        }.map(\.line),
                        try allRows(reader) {
                            $0.newestFirst = newestFirst
                            $0.streams = [ofB.min() ?? 0]
                        }.map(\.line),
                    ]
                }
            }
            let byBlock = try answers()
            #expect(byBlock[0].count == 90)
            #expect(Set(byBlock[2]) == Set((0..<30).flatMap { ["b\($0)", "c\($0)"] }.filter { $0.contains("1") }))
            #expect(try await store.pool.read { db in try !LogReader.hasRecordIndexes(db, bucket: bucket) })
            try await store.pool.write { db in
                let logs = SQLiteSchema.logsTable(bucket)
                try db.execute(
                    sql:
                        "CREATE INDEX \(SQLiteSchema.logsTimeIndex(bucket)) ON \(logs)(time_ns); CREATE INDEX \(logs)_stream ON \(logs)(stream_id, time_ns)"
                )
            }
            #expect(try await store.pool.read { db in try LogReader.hasRecordIndexes(db, bucket: bucket) })
            #expect(try answers() == byBlock)
            await store.close()
        }
    }

    /// The split comes from row ids (arrival order), so it follows where the records are, not the clock.
    @Test func theSplitTimeHalvesTheRecordsOfARangeHoweverTheyAreSpreadInTime() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let base = nowNanos() - 3_600_000_000_000
            // 1,000 records over the first 50 minutes, then 9,000 in the last 5: the midpoint in time holds a tenth.
            var times = (0..<1_000).map { base + UInt64($0) * 3_000_000_000 }
            times += (0..<9_000).map { base + 3_300_000_000_000 + UInt64($0) * 30_000_000 }
            for chunk in stride(from: 0, to: times.count, by: 2_500) {
                let records = times[chunk..<min(chunk + 2_500, times.count)].map { fullRecord(time: $0, body: .string("line")) }
                try await store.append(logsRequest(records: Array(records)))
            }
            let reader = LogReader(TraceReader(store: store))
            let (start, end) = (Int64(base), Int64(base + 3_600_000_000_000))
            #expect(try reader.splitTime(start: start, end: end, minimumRecords: 20_000) == nil)
            let split = try #require(try reader.splitTime(start: start, end: end, minimumRecords: 1_000))
            let before = try allRows(reader) {
                $0.start = start
                $0.end = split - 1
            }.count
            let after = try allRows(reader) {
                $0.start = split
                $0.end = end
            }.count
            #expect(before + after == times.count)
            #expect(abs(before - after) <= times.count / 10, "\(before) before, \(after) after")
            await store.close()
        }
    }

    /// A filter that matches nothing reads the whole range inside one SQLite step; the time budget still ends it.
    @Test func aScanPastItsTimeBudgetEndsAndSaysSo() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let now = nowNanos()
            let records = (0..<2000).map { fullRecord(time: now + UInt64($0), body: .string("line \($0)")) }
            try await store.append(logsRequest(records: records))
            let reader = LogReader(TraceReader(store: store))
            var q = LogQuery()
            q.lineContains = ["never there"]
            q.timeBudget = .zero
            var visited = 0
            #expect(
                try reader.scan(q) { _ in
                    visited += 1
                    return true
                } == false)
            #expect(visited == 0)
            q.timeBudget = .seconds(60)
            #expect(
                try reader.scan(q) { _ in
                    visited += 1
                    return true
                } == true)
            q.lineContains = ["line 1999"]
            #expect(
                try reader.scan(q) { _ in
                    visited += 1
                    return true
                } == true)
            #expect(visited == 1)
            await store.close()
        }
    }

    /// A trace's records are found through the block index (``LogTraceBlocks``) whichever blocks they are in:
    /// complete blocks written in other transactions, the open block, and blocks completed after a restart, whose
    /// open block was recovered from the database.
    @Test func aTracesRecordsAreFoundAcrossBlocksTransactionsAndRestarts() async throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        try await withTemporaryDirectory { dir in
            let config = storeConfig(dir)
            let now = nowNanos()
            var rng = SplitMix64(seed: seed)
            let traces = (0..<40).map { _ in randomBytes(16) }
            var expected: [Data: [String]] = [:]
            func batch(_ from: Int, _ count: Int) -> ExportLogsRequest {
                logsRequest(
                    records: (from..<from + count).map { i in
                        // One record in five has no trace.
                        let trace = rng.next() % 5 == 0 ? nil : traces[Int(rng.next() % UInt64(traces.count))]
                        if let trace { expected[trace, default: []].append("r\(i)") }
                        return fullRecord(time: now + UInt64(i), body: .string("r\(i)"), trace: trace)
                    })
            }
            var store = try SQLiteTraceStore(config: config)
            var sent = 0
            for _ in 0..<30 {  // 6,000 records: block 0 complete, block 1 open
                try await store.append(batch(sent, 200))
                sent += 200
            }
            await store.close()
            store = try SQLiteTraceStore(config: config)
            for _ in 0..<15 {  // 3,000 more: block 1 (recovered) complete, block 2 open
                try await store.append(batch(sent, 200))
                sent += 200
            }
            let reader = LogReader(TraceReader(store: store))
            for trace in traces {
                let found = try allRows(reader) {
                    $0.traceID = trace
                    $0.newestFirst = false
                }
                #expect(found.map(\.line) == expected[trace] ?? [], "seed \(seed)")
            }
            #expect(try allRows(reader) { $0.traceID = randomBytes(16) }.isEmpty)
            let bucket = Int64(now / hourNanos)
            let blocks = try await store.pool.read { db in
                (
                    try Int64.fetchAll(
                        db, sql: "SELECT DISTINCT block FROM \(SQLiteSchema.logTraceBlocksTable(bucket)) WHERE block >= 0 ORDER BY block"),
                    try LogTraceBlocks.watermark(db, table: SQLiteSchema.logTraceBlocksTable(bucket))
                )
            }
            #expect(blocks.0 == [0, 1])
            #expect(blocks.1 == 2 * LogTraceBlocks.blockSize - 1)
            // A hash that collides names another trace's records: they are read and left out by their trace ID.
            let (a, b) = (traces[0], traces[1])
            try await store.pool.write { db in
                let hash = try #require(LogTraceBlocks.hash(a))
                let rows = try Int64.fetchAll(
                    db, sql: "SELECT rowid FROM \(SQLiteSchema.logsTable(bucket)) WHERE trace_id = ? AND rowid < 4096", arguments: [b])
                let first = try #require(rows.first)
                try db.execute(
                    sql: "INSERT INTO \(SQLiteSchema.logTraceBlocksTable(bucket)) VALUES (0, ?, ?, ?)",
                    arguments: [hash, first, rows.last ?? first])
            }
            #expect(
                try allRows(reader) {
                    $0.traceID = a
                    $0.newestFirst = false
                }.map(\.line) == expected[a] ?? [], "seed \(seed)")
            await store.close()
        }
    }

    /// Once a newer partition is written to, an older one's open block is written too: no record of it is left past
    /// its watermark for trace queries to read, and records that come late for it are covered the same way.
    @Test func aPartitionNoLongerWrittenToHasEveryRecordUnderItsWatermark() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let now = nowNanos()
            let bucket = Int64(now / hourNanos)
            let (a, b) = (randomBytes(16), randomBytes(16))
            let old = time(inBucket: bucket - 1)
            try await store.append(logsRequest(records: (0..<300).map { fullRecord(time: old + UInt64($0), body: .string("old \($0)"), trace: a) }))
            func watermark(_ b: Int64) async throws -> Int64 {
                try await store.pool.read { db in try LogTraceBlocks.watermark(db, table: SQLiteSchema.logTraceBlocksTable(b)) }
            }
            #expect(try await watermark(bucket - 1) == 0)  // still the partition being written
            try await store.append(logsRequest(records: [fullRecord(time: now, body: .string("new"), trace: b)]))
            #expect(try await watermark(bucket - 1) == 300)
            // A late record for the old partition, in a transaction that also writes the new one.
            try await store.append(
                logsRequest(records: [
                    fullRecord(time: old + 1_000, body: .string("late"), trace: a), fullRecord(time: now + 1, body: .string("new 2"), trace: b),
                ]))
            #expect(try await watermark(bucket - 1) == 301)
            let reader = LogReader(TraceReader(store: store))
            #expect(try allRows(reader) { $0.traceID = a }.count == 301)
            #expect(try allRows(reader) { $0.traceID = b }.map(\.line) == ["new 2", "new"])
            await store.close()
        }
    }

    /// A partition whose logs table an earlier otelsink made keeps its trace numbers (`log_traces_b`), for the
    /// records it has and the ones written to it now; a new partition uses the block index.
    @Test func aPartitionOfAnEarlierVersionKeepsItsTraceNumbers() async throws {
        try await withTemporaryDirectory { dir in
            let config = storeConfig(dir)
            let now = nowNanos()
            let bucket = Int64(now / hourNanos)
            let store = try SQLiteTraceStore(config: config)
            try await store.pool.write { db in
                let logs = SQLiteSchema.logsTable(bucket)
                try db.execute(
                    sql: """
                        CREATE TABLE \(logs)(
                            stream_id INTEGER NOT NULL, time_ns INTEGER NOT NULL, severity INTEGER NOT NULL,
                            trace_id BLOB, span_id BLOB, line TEXT NOT NULL, record BLOB NOT NULL, trace_seq INTEGER);
                        CREATE TABLE \(SQLiteSchema.logTracesTable(bucket))(trace_id BLOB PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
                        """)
            }
            let a = randomBytes(16)
            try await store.append(logsRequest(records: [fullRecord(time: now, body: .string("a1"), trace: a)]))
            try await store.append(logsRequest(records: [fullRecord(time: now + 1, body: .string("a2"), trace: a)]))
            try await store.append(logsRequest(records: [fullRecord(time: time(inBucket: bucket - 1), body: .string("a0"), trace: a)]))
            let reader = LogReader(TraceReader(store: store))
            #expect(
                try allRows(reader) {
                    $0.traceID = a
                    $0.newestFirst = false
                }.map(\.line) == ["a0", "a1", "a2"])
            let layout = try await store.pool.read { db in
                (
                    try Int64.fetchAll(db, sql: "SELECT trace_seq FROM \(SQLiteSchema.logsTable(bucket))"),
                    try db.tableExists(SQLiteSchema.logTraceBlocksTable(bucket)),
                    try db.tableExists(SQLiteSchema.logTraceBlocksTable(bucket - 1)),
                    try db.tableExists(SQLiteSchema.logTracesTable(bucket - 1))
                )
            }
            #expect(layout.0 == [1, 1])
            #expect(!layout.1 && layout.2 && !layout.3)
            await store.close()
        }
    }

    @Test func retentionRemovesLogsWithTheirPartitionAndForgetsUnusedStreams() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let now = nowNanos()
            let bucket = Int64(now / hourNanos)
            try await store.append(logsRequest(service: "old", records: [fullRecord(time: time(inBucket: bucket - 2), body: .string("old line"))]))
            try await store.append(logsRequest(service: "new", records: [fullRecord(time: time(inBucket: bucket), body: .string("new line"))]))
            let reader = LogReader(TraceReader(store: store))
            #expect(try allRows(reader).count == 2)
            #expect(try await store.applyRetention(now: Int64(now + 71 * hourNanos)) == 1)
            #expect(try allRows(reader).map(\.line) == ["new line"])
            #expect(try reader.streams().map(\.service) == ["new"])
            let tables = try await store.pool.read { db in
                try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'logs%'")
            }
            #expect(tables == [SQLiteSchema.logsTable(bucket)])
            #expect(try await store.applyRetention(now: Int64(now + 1000 * hourNanos)) == 1)
            let shared = try await store.pool.read { db in
                try ["resources", "scopes", "log_streams", "log_stream_buckets"].map { try Int.fetchOne(db, sql: "SELECT count(*) FROM \($0)") ?? -1 }
            }
            #expect(shared == [0, 0, 0, 0])
            await store.close()
        }
    }

    @Test func spansAndLogsOfOneResourceShareItsRowAndBothSurvivePruning() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let now = nowNanos()
            let bucket = Int64(now / hourNanos)
            // Spans of "svc" only in an old partition; its logs in the current one.
            let old = traceRequest(spans: 2, start: time(inBucket: bucket - 2))
            try await store.append(old.request)
            var logs = logsRequest(records: [fullRecord(time: now, body: .string("still here"))])
            logs.resourceLogs[0].resource = old.request.resourceSpans[0].resource
            logs.resourceLogs[0].schemaURL = ""
            try await store.append(logs)
            #expect(try await store.applyRetention(now: Int64(now + 71 * hourNanos)) == 1)
            let reader = LogReader(TraceReader(store: store))
            let back = try reader.request(try allRows(reader))
            #expect(back.resourceLogs.first?.resource == old.request.resourceSpans[0].resource)
            #expect(back.resourceLogs.first?.scopeLogs.first?.logRecords.first?.body.stringValue == "still here")
            await store.close()
        }
    }

    @Test func aDatabaseWrittenBeforeLogsOpensAndGainsTheLogTables() async throws {
        try await withTemporaryDirectory { dir in
            let config = storeConfig(dir)
            let first = try SQLiteTraceStore(config: config)
            let t = traceRequest(spans: 3, start: nowNanos())
            try await first.append(t.request)
            await first.close()
            // Make it look like a file of the previous otelsink: no log tables anywhere.
            let db = try DatabaseQueue(path: config.path)
            try await db.write { db in
                for name in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'log%'") {
                    try db.execute(sql: "DROP TABLE \(name)")
                }
            }
            try db.close()

            // A reader of the old file sees no logs rather than failing.
            let oldReader = LogReader(try TraceReader(path: config.path))
            #expect(try allRows(oldReader).isEmpty)
            #expect(try oldReader.streams().isEmpty)

            let store = try SQLiteTraceStore(config: config)
            try await store.append(logsRequest(records: [fullRecord(time: nowNanos(), body: .string("after upgrade"))]))
            let reader = LogReader(TraceReader(store: store))
            #expect(try allRows(reader).map(\.line) == ["after upgrade"])
            #expect(try TraceReader(store: store).trace(id: t.trace)?.spanCount == 3)
            await store.close()
        }
    }

    /// Without an index on time, records of every stream are read block by block: blocks that overlap in time, a
    /// block the writer wrote early (its partition was left for a newer one) and then went on filling, and the
    /// records past the watermark must still come out in exactly the order of one sort, in both directions, with
    /// filters, and stopping early.
    @Test(arguments: [UInt64(21), 22])
    func recordsOfEveryStreamComeInTimeOrderByBlockWhateverOrderTheyArrivedIn(seed: UInt64) async throws {
        try await withTemporaryDirectory { dir in
            var rng = SeededRandom(seed: seed)
            let bucket = Int64(nowNanos() / hourNanos)
            let levels = [(9, "INFO"), (13, "WARN"), (17, "ERROR")]
            var sequence = 0
            // Times rise with arrival, jittered by up to a minute either way, so neighbouring blocks overlap in time.
            func records(_ count: Int, in b: Int64) -> [LogRecord] {
                (0..<count).map { _ in
                    sequence += 1
                    let (n, text) = levels[Int(rng.next() % 3)]
                    let t = time(inBucket: b, seconds: 120) + UInt64(sequence) * 100_000_000 + rng.next() % 120_000_000_000
                    return fullRecord(time: t, body: .string("r\(sequence)"), severity: n, text: text)
                }
            }
            var store = try SQLiteTraceStore(config: storeConfig(dir))
            try await store.append(logsRequest(service: "a", records: records(1_000, in: bucket - 1)))
            try await store.append(logsRequest(service: "b", records: records(6_000, in: bucket)))
            // A restart: the open blocks (their streams' times too) are rebuilt from the rows past the watermarks.
            await store.close()
            store = try SQLiteTraceStore(config: storeConfig(dir))
            try await store.append(logsRequest(service: "a", records: records(1_000, in: bucket - 1)))
            try await store.append(logsRequest(service: "c", records: records(4_000, in: bucket)))
            let reader = LogReader(TraceReader(store: store))
            var cursor: [Int64: Int64] = [:]
            let arrived = try reader.arrivals(after: &cursor, query: LogQuery(), limit: 100_000)
            #expect(arrived.count == 12_000)
            let timeIndexes = try await store.pool.read { db in
                try [bucket - 1, bucket].map { try LogReader.hasRecordIndexes(db, bucket: $0) }
            }
            #expect(timeIndexes == [false, false])
            for newestFirst in [true, false] {
                func sorted(_ rows: [StoredLogRow]) -> [String] {
                    rows.sorted { a, b in
                        newestFirst
                            ? (a.bucket, a.time, a.rowID) > (b.bucket, b.time, b.rowID) : (a.bucket, a.time, a.rowID) < (b.bucket, b.time, b.rowID)
                    }.map(\.line)
                }
                let all = try allRows(reader) { $0.newestFirst = newestFirst }.map(\.line)
                #expect(all == sorted(arrived), "seed \(seed), newestFirst \(newestFirst)")
                let (start, end) = (Int64(time(inBucket: bucket, seconds: 300)), Int64(time(inBucket: bucket, seconds: 700)))
                let warn = try allRows(reader) {
                    $0.newestFirst = newestFirst
                    $0.minSeverity = 13
                    $0.start = start
                    $0.end = end
                }.map(\.line)
                #expect(!warn.isEmpty)
                #expect(warn == sorted(arrived.filter { $0.severity >= 13 && (start...end).contains($0.time) }), "seed \(seed)")
                var firstFifty: [String] = []
                var q = LogQuery()
                q.newestFirst = newestFirst
                try reader.scan(q) {
                    firstFifty.append($0.line)
                    return firstFifty.count < 50
                }
                #expect(firstFifty == Array(sorted(arrived).prefix(50)), "seed \(seed)")
                // Records held waiting for their turn are bounded: past the bound the scan ends, as at its time budget.
                for (limit, completes) in [(50, false), (100_000, true)] {
                    let (finished, visited) = try await store.pool.read { db in
                        var visited = 0
                        let finished = try LogBlockScan.rowIDs(
                            db, bucket: bucket, streams: nil, conditions: ["time_ns >= ?", "time_ns <= ?"], arguments: [Int64.min, Int64.max],
                            start: .min, end: .max, newestFirst: newestFirst, heldLimit: limit
                        ) { _ in
                            visited += 1
                            return true
                        }
                        return (finished, visited)
                    }
                    #expect(finished == completes, "seed \(seed), limit \(limit)")
                    #expect(visited == (completes ? 10_000 : 0), "seed \(seed), limit \(limit)")
                }
            }
            await store.close()
        }
    }

    @Test func followingReturnsOnlyRecordsWrittenAfterTheCursor() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let now = nowNanos()
            try await store.append(logsRequest(records: [fullRecord(time: now, body: .string("before"))]))
            let reader = LogReader(TraceReader(store: store))
            var cursor = try reader.currentCursor()
            #expect(try reader.arrivals(after: &cursor, query: LogQuery(), limit: 100).isEmpty)
            // A late record (older time, written later) still counts as an arrival.
            try await store.append(
                logsRequest(records: [
                    fullRecord(time: now + 10, body: .string("one")), fullRecord(time: now - 1_000_000, body: .string("late")),
                ]))
            #expect(try reader.arrivals(after: &cursor, query: LogQuery(), limit: 100).map(\.line) == ["one", "late"])
            #expect(try reader.arrivals(after: &cursor, query: LogQuery(), limit: 100).isEmpty)
            await store.close()
        }
    }
}

extension AnyValue {
    static func int(_ i: Int64) -> AnyValue {
        var v = AnyValue()
        v.intValue = i
        return v
    }
    static func double(_ d: Double) -> AnyValue {
        var v = AnyValue()
        v.doubleValue = d
        return v
    }
    static func bool(_ b: Bool) -> AnyValue {
        var v = AnyValue()
        v.boolValue = b
        return v
    }
}
