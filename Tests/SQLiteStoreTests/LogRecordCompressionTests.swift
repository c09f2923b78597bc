import CollectorCore
import CollectorTesting
import Foundation
import GRDB
import OTLP
import Testing

@testable import SQLiteStore

/// Log records compressed with a dictionary per partition, as span bodies are (``BodyCompressor`` with
/// `log_dictionaries`, read back through ``StoredBodies`` and ``StoredLogRow/logRecord()``).
@Suite("Log record compression")
struct LogRecordCompressionTests {
    /// `count` records one microsecond apart from `start`, shaped like an application's logs: the same attribute
    /// keys record after record, some values repeating and some new each time, string and structured bodies.
    static func records(_ count: Int, start: UInt64, seed: UInt64) -> [LogRecord] {
        var rng = SplitMix64(seed: seed)
        let routes = ["/api/orders/{id}", "/api/cart", "/api/checkout", "/api/users/{id}/profile"]
        return (0..<count).map { i in
            var body = AnyValue()
            if i % 10 == 9 {
                body.kvlistValue.values = [stringAttribute("event", "payment"), attribute("amount", .int(Int64(rng.next() % 10_000)))]
            } else {
                body.stringValue = "handled \(routes[i % 4]) for user-\(rng.next() % 100_000) in \(rng.next() % 900) ms"
            }
            var r = fullRecord(time: start + UInt64(i) * 1_000, body: body, trace: randomBytes(16), span: randomBytes(8))
            r.attributes = [
                stringAttribute("http.route", routes[(i + 1) % 4]),
                stringAttribute("http.request.method", ["GET", "POST"][i % 2]),
                stringAttribute("code.function", "OrderController.handle"),
                stringAttribute("request.id", UUID().uuidString),
                attribute("http.response.status_code", .int(Int64([200, 200, 404, 500][Int(rng.next() % 4)]))),
            ]
            return r
        }
    }

    /// Sends `records` in requests of 100.
    static func send(_ records: [LogRecord], to store: SQLiteTraceStore) async throws {
        for start in stride(from: 0, to: records.count, by: 100) {
            try await store.append(logsRequest(records: Array(records[start..<min(start + 100, records.count)])))
        }
    }

    private func stored(_ store: SQLiteTraceStore) async throws -> (compressed: Int, raw: Int, compressedBytes: Int, rawBytes: Int, dictionaries: Int)
    {
        try await store.pool.read { db in
            var out = (compressed: 0, raw: 0, compressedBytes: 0, rawBytes: 0, dictionaries: 0)
            for b in try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions") {
                for record in try Data.fetchAll(db, sql: "SELECT record FROM \(SQLiteSchema.logsTable(b))") {
                    if record.first == 0 {
                        out.compressed += 1
                        out.compressedBytes += record.count
                    } else {
                        out.raw += 1
                        out.rawBytes += record.count
                    }
                }
            }
            out.dictionaries = try Int.fetchOne(db, sql: "SELECT count(*) FROM log_dictionaries") ?? 0
            return out
        }
    }

    @Test func aPartitionsRecordsAreCompressedOnceItHasADictionaryAndEveryRecordReadsBackExactly() async throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let sent = Self.records(1_500, start: nowNanos() - 10_000_000_000, seed: seed)
            try await Self.send(sent, to: store)
            let counts = try await stored(store)
            // The first 1,000 records were the samples the dictionary was trained on.
            #expect(counts.raw == BodyCompressor.samplesWanted, "seed \(seed)")
            #expect(counts.compressed == 500, "seed \(seed)")
            #expect(counts.dictionaries == 1)
            let perCompressed = Double(counts.compressedBytes) / Double(counts.compressed)
            let perRaw = Double(counts.rawBytes) / Double(counts.raw)
            #expect(perCompressed < perRaw / 2, "compressed records average \(perCompressed) bytes, others \(perRaw); seed \(seed)")

            let reader = LogReader(TraceReader(store: store))
            let rows = try allRows(reader) { $0.newestFirst = false }
            #expect(try reader.request(rows) == logsRequest(records: sent), "seed \(seed)")
            // A record found by its trace (another index, another code path to the row) reads back as well.
            let last = try #require(sent.last)
            let byTrace = try allRows(reader) { $0.traceID = last.traceID }
            #expect(try byTrace.map { try $0.logRecord() } == [last], "seed \(seed)")
            // The same file read by a reader of its own (as `otelsink logs --db` does).
            let fromFile = LogReader(try TraceReader(path: storeConfig(dir).path))
            #expect(try fromFile.request(try allRows(fromFile) { $0.newestFirst = false }) == logsRequest(records: sent), "seed \(seed)")
            await store.close()
        }
    }

    @Test func aMissingDictionaryFailsTheReadAndSaysWhichOne() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            try await Self.send(Self.records(1_100, start: nowNanos(), seed: 1), to: store)
            try await store.pool.write { db in try db.execute(sql: "DELETE FROM log_dictionaries") }
            #expect {
                try allRows(LogReader(TraceReader(store: store)))
            } throws: { error in
                "\(error)".contains("log record dictionary") && "\(error)".contains("is missing")
            }
            await store.close()
        }
    }

    @Test func retentionRemovesAPartitionsLogDictionaryWithIt() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir) { $0.retention = .seconds(7200) })
            try await Self.send(Self.records(1_100, start: nowNanos(), seed: 2), to: store)
            #expect(try await stored(store).dictionaries == 1)
            #expect(try await store.applyRetention(now: Int64(nowNanos() + 4 * hourNanos)) == 1)
            #expect(try await stored(store).dictionaries == 0)
            await store.close()
        }
    }

    @Test func withCompressionNoneRecordsAreStoredAsProtobuf() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir) { $0.compression = .none })
            try await Self.send(Self.records(1_200, start: nowNanos(), seed: 3), to: store)
            let counts = try await stored(store)
            #expect(counts.compressed == 0 && counts.raw == 1_200 && counts.dictionaries == 0)
            await store.close()
        }
    }

    /// A file of the version before (records stored as protobuf, no `log_dictionaries`) opens, gains the table, and
    /// its old records read back beside the new, compressed ones.
    @Test func aDatabaseOfTheVersionBeforeKeepsItsRecordsAndStoresNewOnesCompressed() async throws {
        try await withTemporaryDirectory { dir in
            let config = storeConfig(dir)
            let start = nowNanos() - 10_000_000_000
            let old = Self.records(300, start: start, seed: 4)
            var store = try SQLiteTraceStore(config: config)
            try await Self.send(old, to: store)
            await store.close()
            let queue = try DatabaseQueue(path: config.path)
            try await queue.write { db in
                try db.execute(sql: "DROP TABLE log_dictionaries; UPDATE meta SET value = '4' WHERE key = 'schema_version'")
            }
            try queue.close()
            #expect(try allRows(LogReader(try TraceReader(path: config.path))).count == 300)

            store = try SQLiteTraceStore(config: config)
            let new = Self.records(1_300, start: start + 300_000, seed: 5)
            try await Self.send(new, to: store)
            #expect(try await stored(store).compressed == 300)
            let reader = LogReader(TraceReader(store: store))
            #expect(try reader.request(try allRows(reader) { $0.newestFirst = false }) == logsRequest(records: old + new))
            let version = try await store.pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'schema_version'") }
            #expect(version == String(SQLiteSchema.version))
            await store.close()
        }
    }
}
