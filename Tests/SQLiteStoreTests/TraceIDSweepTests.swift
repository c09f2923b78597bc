import CollectorCore
import Foundation
import GRDB
import OTLP
import Testing

@testable import SQLiteStore

/// Trace IDs reach `trace_ids_b` in sweeps (``TraceIDTails``): every trace is found by ID before, during and after
/// its sweep, by readers in the store's process and by readers of the file, and a trace keeps one number however
/// its spans arrive.
@Suite struct TraceIDSweepTests {
    /// `traces` traces of two spans each, in one request.
    static func request(traces: Int, start: UInt64) -> (ids: [Data], request: ExportTraceRequest) {
        var ids: [Data] = []
        var spans: [Span] = []
        for t in 0..<traces {
            let id = randomBytes(16)
            ids.append(id)
            spans += (0..<2).map { makeSpan(trace: id, name: "op-\($0)", start: start + UInt64(t * 10 + $0) * 1000) }
        }
        return (ids, makeRequest(spans: spans))
    }

    /// The partition's mark, its traces, those in `trace_ids_b`, and those below the mark missing from it.
    static func state(_ store: SQLiteTraceStore, bucket: Int64) async throws -> (mark: Int64?, traces: Int, indexed: Int, missing: Int) {
        try await store.pool.read { db in
            let mark = try Int64.fetchOne(db, sql: "SELECT indexed_below FROM trace_id_marks WHERE bucket = ?", arguments: [bucket])
            let traces = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(SQLiteSchema.tracesTable(bucket))") ?? 0
            let indexed = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(SQLiteSchema.traceIDsTable(bucket))") ?? 0
            let missing =
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM \(SQLiteSchema.tracesTable(bucket)) t WHERE t.seq < ?
                            AND NOT EXISTS (SELECT 1 FROM \(SQLiteSchema.traceIDsTable(bucket)) i WHERE i.trace_id = t.trace_id AND i.seq = t.seq)
                        """, arguments: [mark ?? 0]) ?? 0
            return (mark, traces, indexed, missing)
        }
    }

    @Test func tracesAreFoundByIDBeforeDuringAndAfterTheirSweep() async throws {
        try await withTemporaryDirectory { dir in
            let config = storeConfig(dir) { $0.traceIDSweepTraces = 64 }
            let store = try SQLiteTraceStore(config: config)
            let live = TraceReader(store: store)
            let start = nowNanos()
            let bucket = Int64(start / hourNanos)
            var all: [Data] = []
            var marks: Set<Int64> = []
            for round in 0..<40 {
                let (ids, request) = Self.request(traces: 10, start: start + UInt64(round) * 1_000_000)
                try await store.append(request)
                all += ids
                let file = try TraceReader(path: config.path)
                // The newest traces (in the tail), and a sample of the older ones (swept or not).
                for id in ids + all.shuffled().prefix(10) {
                    #expect(try live.trace(id: id)?.spanCount == 2, "round \(round): in the store's process")
                    #expect(try file.trace(id: id)?.spanCount == 2, "round \(round): from the file")
                }
                let s = try await Self.state(store, bucket: bucket)
                #expect(s.missing == 0, "round \(round): every trace below the mark is in trace_ids")
                #expect(s.traces == all.count)
                if let mark = s.mark { marks.insert(mark) }
            }
            let s = try await Self.state(store, bucket: bucket)
            #expect(marks.count >= 3, "sweeps ended and moved the mark: \(marks.sorted())")
            #expect(s.indexed > all.count / 2, "most traces have been swept: \(s.indexed) of \(all.count)")
            #expect(try live.traces(ids: all, limits: .unlimited).traces.count == all.count)
            #expect(try TraceReader(path: config.path).traces(ids: all).count == all.count)
            await store.close()
        }
    }

    @Test func aTraceKeepsOneNumberWhenLateSpansAndRetriesComeBeforeAndAfterItsSweep() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir) { $0.traceIDSweepTraces = 64 })
            let start = nowNanos()
            let bucket = Int64(start / hourNanos)
            let first = traceRequest(spans: 2, start: start)
            try await store.append(first.request)
            // In the tail: a late span joins it, a retry adds nothing.
            try await store.append(makeRequest(spans: [makeSpan(trace: first.trace, name: "late-1", start: start + 50_000)]))
            try await store.append(first.request)
            // Sweep it into trace_ids_b.
            for round in 0..<20 { try await store.append(Self.request(traces: 10, start: start + UInt64(round + 1) * 1_000_000).request) }
            let swept = try await store.pool.read { db in
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM \(SQLiteSchema.traceIDsTable(bucket)) WHERE trace_id = ?", arguments: [first.trace])
            }
            #expect(swept == 1)
            try await store.append(makeRequest(spans: [makeSpan(trace: first.trace, name: "late-2", start: start + 60_000)]))
            try await store.append(first.request)
            let rows = try store.pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT seq, span_count FROM \(SQLiteSchema.tracesTable(bucket)) WHERE trace_id = ?", arguments: [first.trace])
            }
            #expect(rows.count == 1, "one row for the trace")
            #expect(rows.first?["span_count"] == 4)
            #expect(try TraceReader(store: store).trace(id: first.trace)?.spanCount == 4)
            await store.close()
        }
    }

    @Test func aRestartReadsTheTailBackAndLateSpansStillJoinTheirTrace() async throws {
        try await withTemporaryDirectory { dir in
            let config = storeConfig(dir)  // the default sweep: these traces stay in the tail
            var store = try SQLiteTraceStore(config: config)
            let start = nowNanos()
            let bucket = Int64(start / hourNanos)
            let (ids, request) = Self.request(traces: 30, start: start)
            try await store.append(request)
            await store.close()
            store = try SQLiteTraceStore(config: config)
            #expect(store.traceIDTails.isKnown(bucket))
            for id in ids {
                #expect(try TraceReader(store: store).trace(id: id)?.spanCount == 2)
                try await store.append(makeRequest(spans: [makeSpan(trace: id, name: "late", start: start + 5_000_000)]))
            }
            let (rows, distinct) = try await store.pool.read { db in
                (
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM \(SQLiteSchema.tracesTable(bucket))") ?? 0,
                    try Int.fetchOne(db, sql: "SELECT count(DISTINCT trace_id) FROM \(SQLiteSchema.tracesTable(bucket))") ?? 0
                )
            }
            #expect(rows == 30 && distinct == 30)
            for id in ids { #expect(try TraceReader(store: store).trace(id: id)?.spanCount == 3) }
            await store.close()
        }
    }

    @Test func aPartitionOfTheVersionBeforeKeepsItsUniqueIndex() async throws {
        try await withTemporaryDirectory { dir in
            let config = storeConfig(dir)
            var store = try SQLiteTraceStore(config: config)
            let start = nowNanos()
            let bucket = Int64(start / hourNanos)
            let first = traceRequest(spans: 2, start: start)
            try await store.append(first.request)
            await store.close()
            // Make the partition as version 6 made it: a unique index on traces_b(trace_id), no trace_ids_b.
            let pool = try DatabasePool(path: config.path)
            try await pool.write { db in
                try db.execute(
                    sql: """
                        DROP TABLE \(SQLiteSchema.traceIDsTable(bucket)); DELETE FROM trace_id_marks;
                        CREATE UNIQUE INDEX \(SQLiteSchema.tracesTable(bucket))_id ON \(SQLiteSchema.tracesTable(bucket))(trace_id);
                        UPDATE meta SET value = '6' WHERE key = 'schema_version';
                        """)
            }
            try pool.close()
            #expect(try TraceReader(path: config.path).trace(id: first.trace)?.spanCount == 2)
            store = try SQLiteTraceStore(config: config)
            #expect(!store.traceIDTails.isKnown(bucket))
            try await store.append(makeRequest(spans: [makeSpan(trace: first.trace, name: "late", start: start + 50_000)]))
            let second = traceRequest(spans: 2, start: start + 100_000)
            try await store.append(second.request)
            let live = TraceReader(store: store)
            #expect(try live.trace(id: first.trace)?.spanCount == 3)
            #expect(try live.trace(id: second.trace)?.spanCount == 2)
            #expect(try TraceReader(path: config.path).trace(id: second.trace)?.spanCount == 2)
            let distinct = try await store.pool.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM \(SQLiteSchema.tracesTable(bucket))")
            }
            #expect(distinct == 2)
            await store.close()
        }
    }

    @Test func tailsOverTheirBoundEndTheirSweepsAtOnce() throws {
        let tails = TraceIDTails(sweepTraces: 100)
        var g = SystemRandomNumberGenerator()
        for bucket in Int64(1)...5 {
            tails.load(bucket: bucket, entries: [], nextSeq: 1)
            for i in 0..<90 { tails.add(bucket: bucket, key: TraceIDTails.Key(high: g.next(), low: g.next()), seq: Int64(i + 1)) }
        }
        // 450 entries against a bound of 400: a partition with no new traces moves all it holds, not one key range.
        let step = try #require(tails.sweep(bucket: 3, newTraces: 0, nextSeq: 91))
        #expect(step.moved.entries.count == 90)
        #expect(step.mark == 91, "its tail emptied")
        tails.committed([step.moved])
        // Under the bound again: the next partition moves one key range.
        let paced = try #require(tails.sweep(bucket: 4, newTraces: 0, nextSeq: 91))
        #expect(paced.moved.entries.count < 90)
        #expect(paced.mark == nil)
    }

    @Test func aTailThatEmptiesMovesTheMarkToTheNextNumber() throws {
        let tails = TraceIDTails(sweepTraces: 4096)
        tails.load(bucket: 1, entries: [], nextSeq: 1)
        let key = TraceIDTails.Key(high: 0x1234_5678_9A00_0000, low: 7)  // first two bytes 0: the first key range
        tails.add(bucket: 1, key: key, seq: 1)
        let step = try #require(tails.sweep(bucket: 1, newTraces: 1, nextSeq: 2))
        #expect(step.moved.entries.map(\.0) == [key])
        #expect(step.mark == 2, "everything numbered so far is in the table")
        tails.committed([step.moved])
        #expect(tails.sweep(bucket: 1, newTraces: 0, nextSeq: 2) == nil, "nothing left to do")
    }

    @Test func aSweepMovesItsKeyRangesInIDOrderAndDropsThemOnlyOnceCommitted() throws {
        let tails = TraceIDTails(sweepTraces: 4096)  // one key range per new trace
        tails.load(bucket: 1, entries: [], nextSeq: 1)
        var g = SystemRandomNumberGenerator()
        let keys = (0..<2000).map { _ in TraceIDTails.Key(high: g.next(), low: g.next()) }
        for (i, key) in keys.enumerated() { tails.add(bucket: 1, key: key, seq: Int64(i + 1)) }
        let step = try #require(tails.sweep(bucket: 1, newTraces: 2048, nextSeq: 2001))
        #expect(step.mark == nil, "half the key space swept")
        let moved = step.moved.entries.map(\.0)
        #expect(moved == moved.sorted { $0.precedes($1) })
        #expect(moved.allSatisfy { $0.group < 2048 })
        #expect(Set(moved) == Set(keys.filter { $0.group < 2048 }))
        // Still found until the transaction is known to have committed.
        #expect(moved.allSatisfy { tails.seq(bucket: 1, key: $0).seq != nil })
        tails.committed([step.moved])
        #expect(moved.allSatisfy { tails.seq(bucket: 1, key: $0).seq == nil })
        // A new trace in a key range already passed waits for the next sweep.
        let late = TraceIDTails.Key(high: 0, low: 1)
        tails.add(bucket: 1, key: late, seq: 2001)
        let rest = try #require(tails.sweep(bucket: 1, newTraces: 2048, nextSeq: 2002))
        #expect(rest.mark == 1, "the sweep ended: every trace numbered below where it began has been moved")
        #expect(rest.moved.entries.count + moved.count == keys.count)
        tails.committed([rest.moved])
        #expect(tails.seq(bucket: 1, key: late).seq == 2001)
    }
}
