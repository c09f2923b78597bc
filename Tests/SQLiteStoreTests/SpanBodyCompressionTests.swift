import CollectorCore
import CollectorTesting
import Foundation
import GRDB
import OTLP
import Testing

@testable import SQLiteStore

/// Span bodies compressed with a dictionary per partition (``BodyCompressor``, ``StoredBodies``).
@Suite("Span body compression")
struct SpanBodyCompressionTests {
    /// Requests of `traces` traces of 10 spans each, shaped like instrumented HTTP and database calls: keys and many
    /// values repeat across spans, some values (ids, users, timings) are new in every span.
    static func requests(traces: Int, start: UInt64, seed: UInt64) -> [(trace: Data, request: ExportTraceRequest)] {
        var rng = SplitMix64(seed: seed)
        let routes = ["/api/orders/{id}", "/api/cart", "/api/checkout", "/api/users/{id}/profile"]
        return (0..<traces).map { t in
            let trace = randomBytes(16)
            var spans: [Span] = []
            for i in 0..<10 {
                var s = makeSpan(trace: trace, name: i == 0 ? "GET \(routes[t % 4])" : "SELECT orders", start: start + UInt64(t * 10 + i) * 1_000)
                s.attributes = [
                    stringAttribute("http.request.method", ["GET", "POST"][t % 2]),
                    stringAttribute("http.route", routes[(t + i) % 4]),
                    stringAttribute("db.system", "postgresql"),
                    stringAttribute("db.statement", "SELECT * FROM orders WHERE customer_id = $1 AND status = $2"),
                    stringAttribute("user.id", "user-\(rng.next() % 100_000)"),
                    attribute("http.response.status_code", .int(Int64([200, 200, 200, 404, 500][Int(rng.next() % 5)]))),
                    stringAttribute("request.id", UUID().uuidString),
                ]
                var event = Span.Event()
                event.name = "cache.lookup"
                event.timeUnixNano = s.startTimeUnixNano + 10
                event.attributes = [stringAttribute("cache.hit", rng.next() % 2 == 0 ? "true" : "false")]
                s.events = [event]
                spans.append(s)
            }
            return (trace, makeRequest(service: "checkout", spans: spans))
        }
    }

    private func bodies(_ store: SQLiteTraceStore) async throws -> (compressed: Int, raw: Int, compressedBytes: Int, dictionaries: Int) {
        try await store.pool.read { db in
            var out = (compressed: 0, raw: 0, compressedBytes: 0, dictionaries: 0)
            for b in try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions") {
                for body in try Data.fetchAll(db, sql: "SELECT body FROM \(SQLiteSchema.spansTable(b))") {
                    if body.first == 0 {
                        out.compressed += 1
                        out.compressedBytes += body.count
                    } else {
                        out.raw += 1
                    }
                }
            }
            out.dictionaries = try Int.fetchOne(db, sql: "SELECT count(*) FROM span_dictionaries") ?? 0
            return out
        }
    }

    @Test func aPartitionsBodiesAreCompressedOnceItHasADictionaryAndEverySpanReadsBackExactly() async throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: rowStoreConfig(dir))
            let start = nowNanos()
            let sent = Self.requests(traces: 300, start: start, seed: seed)
            for (_, request) in sent { try await store.append(request) }
            let stored = try await bodies(store)
            // The first 1,000 bodies were the samples the dictionary was trained on.
            #expect(stored.raw == BodyCompressor.samplesWanted, "seed \(seed)")
            #expect(stored.compressed == 3_000 - BodyCompressor.samplesWanted, "seed \(seed)")
            #expect(stored.dictionaries == 1)
            let reader = TraceReader(store: store)
            var rawBytes = 0
            for (trace, request) in sent {
                #expect(try reader.trace(id: trace) == request, "trace \(trace.map { String(format: "%02x", $0) }.joined()), seed \(seed)")
                rawBytes += request.resourceSpans[0].scopeSpans[0].spans.reduce(0) { $0 + ((try? $1.serializedBytes() as [UInt8])?.count ?? 0) }
            }
            let perCompressed = Double(stored.compressedBytes) / Double(stored.compressed)
            let perSpan = Double(rawBytes) / 3_000
            #expect(perCompressed < perSpan / 2, "compressed bodies average \(perCompressed) bytes, spans \(perSpan); seed \(seed)")
            // Summaries (the query API's large-trace path) read compressed bodies too.
            let summaries = try #require(try reader.summaries(id: sent[299].trace, limits: TraceReadLimits(maxSpans: 100)))
            #expect(summaries.spans.count == 10)
            #expect(summaries.spans.allSatisfy { $0.attributes.count == 7 })
            await store.close()
        }
    }

    @Test func aTraceLargeEnoughToBeDecodedOnSeveralThreadsReadsBackExactly() async throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: rowStoreConfig(dir))
            // 3,000 spans of one trace: the first 1,000 bodies stored as they are (the dictionary's samples), the
            // rest compressed; read in ranges of at least ``TraceReader/parallelDecodeMinimum`` spans at once.
            let trace = randomBytes(16)
            var all: [Span] = []
            for (_, request) in Self.requests(traces: 300, start: nowNanos(), seed: seed) {
                var spans = request.resourceSpans[0].scopeSpans[0].spans
                for i in spans.indices { spans[i].traceID = trace }
                all += spans
                try await store.append(makeRequest(service: "checkout", spans: spans))
            }
            #expect(all.count / 2 >= TraceReader.parallelDecodeMinimum)
            let reader = TraceReader(store: store)
            #expect(try reader.trace(id: trace) == makeRequest(service: "checkout", spans: all), "seed \(seed)")
            // A dictionary gone missing fails the read, whichever thread meets it (for a reader that has not digested
            // it yet: one that has keeps it, as ids are never reused).
            try await store.pool.write { db in try db.execute(sql: "DELETE FROM span_dictionaries") }
            #expect(try reader.trace(id: trace) == makeRequest(service: "checkout", spans: all), "seed \(seed)")
            #expect(throws: TraceReaderError.self) { try TraceReader(store: store).trace(id: trace) }
            await store.close()
        }
    }

    @Test func aTagSearchFindsSpansWhoseBodiesAreCompressed() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: rowStoreConfig(dir))
            let start = nowNanos() - 10_000_000_000
            for (_, request) in Self.requests(traces: 150, start: start, seed: 7) { try await store.append(request) }
            let trace = randomBytes(16)
            var needle = makeSpan(trace: trace, name: "SELECT orders", start: start + 5_000_000)
            needle.attributes = [stringAttribute("db.system", "postgresql"), stringAttribute("tenant", "needle-tenant-42")]
            try await store.append(makeRequest(service: "checkout", spans: [needle]))
            #expect(try await bodies(store).compressed > 0)
            let found = try TraceReader(store: store).searchTraces(
                TraceSearchQuery(
                    service: "checkout", tags: [TagFilter(key: "tenant", value: "needle-tenant-42")], startMin: 0,
                    startMax: Int64.max, limit: 10, timeBudget: .seconds(10)))
            #expect(found.traceIDs == [trace])
            let stored = try await store.pool.read { db in
                try Data.fetchOne(
                    db, sql: "SELECT body FROM \(SQLiteSchema.spansTable(Int64(start / hourNanos))) WHERE trace_id = ?", arguments: [trace])
            }
            #expect(stored?.first == 0, "the needle's body is stored compressed")
            await store.close()
        }
    }

    @Test func afterARestartAPartitionKeepsItsDictionary() async throws {
        try await withTemporaryDirectory { dir in
            let config = rowStoreConfig(dir)
            let start = nowNanos()
            var store = try SQLiteTraceStore(config: config)
            for (_, request) in Self.requests(traces: 120, start: start, seed: 1) { try await store.append(request) }
            await store.close()
            store = try SQLiteTraceStore(config: config)
            let later = Self.requests(traces: 20, start: start + 1, seed: 2)
            for (_, request) in later { try await store.append(request) }
            let stored = try await bodies(store)
            #expect(stored.dictionaries == 1)
            #expect(stored.compressed == 1_400 - BodyCompressor.samplesWanted)
            #expect(try TraceReader(store: store).trace(id: later[3].trace) == later[3].request)
            await store.close()
        }
    }

    @Test func retentionRemovesAPartitionsDictionaryWithIt() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: rowStoreConfig(dir) { $0.retention = .seconds(7200) })
            for (_, request) in Self.requests(traces: 110, start: nowNanos(), seed: 3) { try await store.append(request) }
            #expect(try await bodies(store).dictionaries == 1)
            // Four hours on, the partition is past the 2 h retention.
            #expect(try await store.applyRetention(now: Int64(nowNanos() + 4 * hourNanos)) == 1)
            #expect(try await bodies(store).dictionaries == 0)
            await store.close()
        }
    }

    @Test func withCompressionNoneBodiesAreStoredAsProtobuf() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: rowStoreConfig(dir) { $0.compression = .none })
            for (_, request) in Self.requests(traces: 150, start: nowNanos(), seed: 4) { try await store.append(request) }
            let stored = try await bodies(store)
            #expect(stored.compressed == 0 && stored.raw == 1_500 && stored.dictionaries == 0)
            await store.close()
        }
    }

    @Test func aCorruptCompressedBodyIsAnErrorThatSaysSo() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: rowStoreConfig(dir))
            let start = nowNanos()
            let sent = Self.requests(traces: 110, start: start, seed: 5)
            for (_, request) in sent { try await store.append(request) }
            let trace = sent[109].trace
            let table = SQLiteSchema.spansTable(Int64(start / hourNanos))
            try await store.pool.write { db in
                // Keep the header, cut the frame short.
                try db.execute(sql: "UPDATE \(table) SET body = substr(body, 1, 6) WHERE trace_id = ?", arguments: [trace])
            }
            #expect {
                try TraceReader(store: store).trace(id: trace)
            } throws: { error in
                "\(error)".contains("does not decompress")
            }
            try await store.pool.write { db in
                try db.execute(sql: "UPDATE \(table) SET body = x'00ffffffffffffffffffff' WHERE trace_id = ?", arguments: [trace])
            }
            #expect {
                try TraceReader(store: store).trace(id: trace)
            } throws: { error in
                "\(error)".contains("malformed header") || "\(error)".contains("claims")
            }
            #expect(try TraceReader(store: store).trace(id: sent[108].trace) == sent[108].request)
            await store.close()
        }
    }

    /// Bodies of random bytes do not compress: they are stored as they are, and everything reads back.
    @Test func incompressibleBodiesAreStoredAsTheyAre() async throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: rowStoreConfig(dir))
            var rng = SplitMix64(seed: seed)
            let start = nowNanos()
            var sent: [(Data, ExportTraceRequest)] = []
            for t in 0..<130 {
                let trace = randomBytes(16)
                let spans = (0..<10).map { i in
                    var s = makeSpan(trace: trace, name: "op", start: start + UInt64(t * 10 + i))
                    var noise = AnyValue()
                    noise.bytesValue = Data((0..<200).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
                    s.attributes = [attribute("noise", noise)]
                    return s
                }
                let request = makeRequest(spans: spans)
                sent.append((trace, request))
                try await store.append(request)
            }
            let stored = try await bodies(store)
            #expect(stored.raw + stored.compressed == 1_300)
            #expect(stored.compressed < 50, "random bytes compressed in \(stored.compressed) bodies; seed \(seed)")
            for (trace, request) in sent.suffix(20) {
                #expect(try TraceReader(store: store).trace(id: trace) == request, "seed \(seed)")
            }
            await store.close()
        }
    }

    /// Samples are collected for the newest two partitions only; a partition that falls behind gives its samples
    /// back and stores its bodies as they are.
    @Test func onlyTheNewestTwoPartitionsSampleAndOneThatFallsBehindStopsSampling() throws {
        let db = try DatabaseQueue()
        try db.write { db in try SQLiteSchema.migrate(db) }
        let compressor = BodyCompressor(enabled: true, table: .spans)
        let body = Array("http.route=/api/orders/{id} db.statement=SELECT * FROM orders WHERE id = $1 user=".utf8)
        func encode(_ bucket: Int64, _ n: Int) throws -> Int {
            var compressed = 0
            var out: [UInt8] = []
            for i in 0..<n {
                let b = body + Array("\(i * 7919 % 10007)".utf8)
                if try db.write({ db in try b.withUnsafeBytes { try compressor.encode($0, bucket: bucket, db: db, into: &out) } }) {
                    compressed += 1
                }
            }
            return compressed
        }
        #expect(try encode(10, 600) == 0)
        #expect(try encode(11, 600) == 0)
        #expect(try encode(12, 1) == 0)  // partition 12 arrives: 10 is now two behind and gives its samples back
        #expect(try encode(11, 400) == 0)  // the 1,000th sample of partition 11 trains its dictionary
        #expect(try encode(11, 100) == 100)
        #expect(try encode(10, 1_000) == 0)  // 10 stores its bodies as they are from now on
        let dictionaries = try db.read { db in try Int64.fetchAll(db, sql: "SELECT bucket FROM span_dictionaries") }
        #expect(dictionaries == [11])
    }
}
