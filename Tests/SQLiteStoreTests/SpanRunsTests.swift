import CollectorCore
import Foundation
import GRDB
import OTLP
import Testing

@testable import SQLiteStore

/// Search through runs of rows (``SpanRuns``) instead of an index entry per span on (service, start_ns).
@Suite("Span runs")
struct SpanRunsTests {
    /// Random stores: spans of three services, start times on a coarse grid (so that many tie), late spans of
    /// earlier traces, retried requests, several resources per request; then random searches answered through
    /// the runs, and again after every partition is turned into the layout before (the service index, no runs).
    @Test(arguments: [UInt64(1), 2, 3])
    func aSearchThroughRunsFindsWhatTheServiceIndexFinds(seed: UInt64) async throws {
        var rng = SeededRandom(seed: seed)
        try await withTemporaryDirectory { dir in
            let config = rowStoreConfig(dir)
            let store = try SQLiteTraceStore(config: config)
            let base = nowNanos() - 40 * 60 * 1_000_000_000
            let services = ["a", "b", "c"]
            var traces: [Data] = []
            var sent: [Data: Set<Data>] = [:]
            func bytes(_ n: Int) -> Data { Data((0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }) }
            for _ in 0..<40 {
                var request = ExportTraceRequest()
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    var spans: [Span] = []
                    for _ in 0..<Int.random(in: 1...30, using: &rng) {
                        let trace: Data
                        if !traces.isEmpty, Int.random(in: 0..<10, using: &rng) < 3 {
                            trace = traces[Int.random(in: 0..<traces.count, using: &rng)]
                        } else {
                            trace = bytes(16)
                            traces.append(trace)
                        }
                        var span = makeSpan(
                            trace: trace, name: "op-\(Int.random(in: 0..<4, using: &rng))",
                            start: base + UInt64(Int.random(in: 0..<60, using: &rng)) * 40_000_000_000,
                            duration: UInt64(Int.random(in: 1...100, using: &rng)) * 1_000_000)
                        span.spanID = bytes(8)
                        sent[trace, default: []].insert(span.spanID)
                        span.attributes = [stringAttribute("k", Bool.random(using: &rng) ? "x" : "y")]
                        spans.append(span)
                    }
                    request.resourceSpans += makeRequest(service: services[Int.random(in: 0..<3, using: &rng)], spans: spans).resourceSpans
                }
                try await store.append(request)
                if Int.random(in: 0..<10, using: &rng) == 0 { try await store.append(request) }
            }
            var queries: [TraceSearchQuery] = []
            for _ in 0..<40 {
                let from = base - 60_000_000_000 + UInt64(Int.random(in: 0..<2460, using: &rng)) * 1_000_000_000
                var q = TraceSearchQuery(
                    service: Int.random(in: 0..<8, using: &rng) == 0 ? "none" : services[Int.random(in: 0..<3, using: &rng)],
                    startMin: Int64(from), startMax: Int64(from + UInt64(Int.random(in: 1...2400, using: &rng)) * 1_000_000_000),
                    limit: [1, 3, 10, 1000][Int.random(in: 0..<4, using: &rng)], timeBudget: .seconds(60))
                if Bool.random(using: &rng) { q.operation = "op-\(Int.random(in: 0..<4, using: &rng))" }
                if Bool.random(using: &rng) { q.minDuration = Int64.random(in: 1...100, using: &rng) * 1_000_000 }
                if Int.random(in: 0..<3, using: &rng) == 0 { q.maxDuration = Int64.random(in: 1...100, using: &rng) * 1_000_000 }
                if Int.random(in: 0..<4, using: &rng) == 0 { q.tags = [TagFilter(key: "k", value: "x")] }
                queries.append(q)
            }
            let live = TraceReader(store: store)
            // Every span once, retries and late spans included (rows clustered by trace find a retried span at its
            // place), and each trace reads back with its spans.
            #expect(try live.spanCount() == sent.values.reduce(0) { $0 + $1.count }, "seed \(seed)")
            for trace in traces.prefix(30) {
                let read = try live.trace(id: trace)?.resourceSpans.flatMap { $0.scopeSpans.flatMap { $0.spans.map(\.spanID) } } ?? []
                #expect(read.count == sent[trace]?.count && Set(read) == sent[trace], "seed \(seed)")
            }
            let throughRuns = try queries.map { try live.searchTraces($0) }
            let buckets = try await store.pool.read { db in try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions") }
            #expect(try await store.pool.read { db in try TraceIDLookup.Layout(db).withSpanRuns } == Set(buckets), "seed \(seed)")
            await store.close()
            let pool = try DatabasePool(path: config.path)
            try await pool.write { db in
                for b in buckets {
                    let spans = SQLiteSchema.spansTable(b)
                    try db.execute(
                        sql: "CREATE INDEX \(spans)_service ON \(spans)(service, start_ns); DROP TABLE \(SQLiteSchema.spanRunsTable(b))")
                }
            }
            try pool.close()
            let throughIndex = try TraceReader(path: config.path)
            var found = 0
            for (q, result) in zip(queries, throughRuns) {
                let expected = try throughIndex.searchTraces(q)
                #expect(result.complete && expected.complete, "seed \(seed)")
                #expect(result.traceIDs == expected.traceIDs, "seed \(seed), query \(q)")
                found += result.traceIDs.count
            }
            #expect(found > 100, "seed \(seed): the searches found \(found) traces in all")
        }
    }

    @Test func eachRequestsSpansOfOneServiceMakeOneRunAndARetryMakesNone() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: rowStoreConfig(dir))
            let start = nowNanos() - 60_000_000_000
            var request = traceRequest(spans: 10, start: start, service: "a").request
            request.resourceSpans += traceRequest(spans: 5, start: start + 1_000, service: "b").request.resourceSpans
            request.resourceSpans += traceRequest(spans: 3, start: start + 2_000, service: "b").request.resourceSpans
            try await store.append(request)
            try await store.append(request)
            let bucket = Int64(start / hourNanos)
            // A run's rows: those of its service in its rowid range (in a partition clustered by trace, the range
            // covers whole traces).
            let runs = try store.pool.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT r.service,
                            (SELECT count(*) FROM \(SQLiteSchema.spansTable(bucket)) s
                             WHERE s.rowid BETWEEN r.first_row AND r.last_row AND s.service = r.service),
                            r.min_start_ns, r.max_start_ns
                        FROM \(SQLiteSchema.spanRunsTable(bucket)) r ORDER BY r.first_row
                        """)
            }
            #expect(runs.map { $0[0] as String } == ["a", "b"])
            #expect(runs.map { $0[1] as Int } == [10, 8])
            #expect(runs.map { $0[2] as Int64 } == [Int64(start), Int64(start + 1_000)])
            #expect(runs.map { $0[3] as Int64 } == [Int64(start + 9_000), Int64(start + 5_000)])
            await store.close()
        }
    }

    /// A run holds spans starting within five minutes of each other, so a search of a past window can pass over
    /// runs that end later than that after it.
    @Test func aRunSpansAtMostFiveMinutesOfStartTimes() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: rowStoreConfig(dir))
            let minute: UInt64 = 60_000_000_000
            let t = (nowNanos() / hourNanos) * hourNanos + 2 * minute
            let trace = randomBytes(16)
            let starts = [t, t + minute, t + 10 * minute, t + 10 * minute + minute / 2, t]
            try await store.append(makeRequest(service: "a", spans: starts.map { makeSpan(trace: trace, start: $0) }))
            let bucket = Int64(t / hourNanos)
            let runs = try store.pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT min_start_ns, max_start_ns FROM \(SQLiteSchema.spanRunsTable(bucket)) ORDER BY max_start_ns, min_start_ns")
            }
            let expected = [(t, t), (t, t + minute), (t + 10 * minute, t + 10 * minute + minute / 2)].map { [Int64($0.0), Int64($0.1)] }
            #expect(runs.map { [$0[0] as Int64, $0[1] as Int64] } == expected)
            let q = TraceSearchQuery(service: "a", startMin: Int64(t), startMax: Int64(t), limit: 10, timeBudget: .seconds(60))
            #expect(try TraceReader(store: store).searchTraces(q).traceIDs == [trace])
            await store.close()
        }
    }

    /// A partition made before runs keeps its service index and gains no runs table when written to again, so
    /// search still finds its older spans; a partition made now has runs.
    @Test func aPartitionOfTheVersionBeforeKeepsItsServiceIndex() async throws {
        try await withTemporaryDirectory { dir in
            let config = rowStoreConfig(dir)
            var store = try SQLiteTraceStore(config: config)
            let now = nowNanos()
            let bucket = Int64(now / hourNanos)
            let before = traceRequest(spans: 3, start: now - 1_000, service: "a")
            try await store.append(before.request)
            await store.close()
            let pool = try DatabasePool(path: config.path)
            try await pool.write { db in
                let spans = SQLiteSchema.spansTable(bucket)
                try db.execute(
                    sql: """
                        CREATE INDEX \(spans)_service ON \(spans)(service, start_ns); DROP TABLE \(SQLiteSchema.spanRunsTable(bucket));
                        UPDATE meta SET value = '7' WHERE key = 'schema_version'
                        """)
            }
            try pool.close()
            store = try SQLiteTraceStore(config: config)
            let after = traceRequest(spans: 2, start: now - 500, service: "a")
            try await store.append(after.request)
            // An hour earlier: a partition this version makes.
            let earlier = traceRequest(spans: 2, start: now - hourNanos, service: "a")
            try await store.append(earlier.request)
            let layout = try await store.pool.read { db in try TraceIDLookup.Layout(db) }
            #expect(!layout.withSpanRuns.contains(bucket))
            #expect(layout.withSpanRuns.contains(bucket - 1))
            let q = TraceSearchQuery(
                service: "a", startMin: Int64(now - 2 * hourNanos), startMax: Int64(now + hourNanos), limit: 10, timeBudget: .seconds(60))
            #expect(try TraceReader(store: store).searchTraces(q).traceIDs == [before.trace, after.trace, earlier.trace])
            await store.close()
        }
    }

    /// ``NewestTraces`` keeps what sorting every span by key and taking the first distinct traces keeps.
    @Test(arguments: [UInt64(5), 6, 7])
    func newestTracesKeepsTheTracesOfTheNewestSpans(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        for capacity in [0, 1, 2, 5, 40] {
            var newest = NewestTraces(capacity: capacity)
            var spans: [(Data, NewestTraces.Key)] = []
            for row in 0..<500 {
                let id = Data([UInt8.random(in: 0..<60, using: &rng)])
                let key = NewestTraces.Key(start: Int64.random(in: 0..<100, using: &rng), row: Int64(row))
                spans.append((id, key))
                newest.add(id, key)
            }
            var expected: [Data] = []
            for (id, _) in spans.sorted(by: { $0.1 > $1.1 }) where !expected.contains(id) && expected.count < capacity {
                expected.append(id)
            }
            #expect(newest.newestFirst() == expected, "seed \(seed), capacity \(capacity)")
        }
    }
}
