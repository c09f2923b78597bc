import CollectorCore
import Foundation
import GRDB
import OTLP
import Testing

@testable import SQLiteStore

/// Span rows clustered by trace (schema version 9, ``SpanSlots``): where rows go, how a retried span is found, and
/// what spans whose IDs share places do.
@Suite("Span slots")
struct SpanSlotsTests {
    /// The file's key of span slots.
    func slotKey(_ store: SQLiteTraceStore) async throws -> Int64 {
        try #require(try await store.pool.read { db in try SpanSlots.key(db) })
    }

    func slot(_ id: Data, _ key: Int64) -> Int64 { id.withUnsafeBytes { SpanSlots.slot($0, key: key) } }

    @Test func aNewPartitionsRowsAreNumberedByTraceAndSlotWithoutAnIndex() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: rowStoreConfig(dir))
            let start = nowNanos() - 60_000_000_000
            for i in 0..<3 { try await store.append(traceRequest(spans: 20, start: start + UInt64(i) * 1_000).request) }
            let key = try await slotKey(store)
            let bucket = Int64(start / hourNanos)
            let (rows, indexes) = try store.pool.read { db in
                (
                    try Row.fetchAll(db, sql: "SELECT rowid, trace_seq, span_id FROM \(SQLiteSchema.spansTable(bucket))"),
                    try String.fetchAll(
                        db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", arguments: [SQLiteSchema.spansTable(bucket)])
                )
            }
            #expect(rows.count == 60 && indexes.isEmpty)
            for row in rows {
                let rowid: Int64 = row[0]
                let place = rowid & SpanSlots.placeMask
                let first = slot(row[2], key)
                #expect(rowid >> 32 == row[1] as Int64)
                #expect(place >= first && place < first + SpanSlots.probes)
            }
            #expect(try await store.pool.read { db in try TraceIDLookup.Layout(db).withClusteredRows } == [bucket])
            await store.close()
        }
    }

    /// Two spans of a trace whose IDs have the same first place: both are stored (the second at the next place),
    /// a retry of both stores nothing, the trace reads back whole, and the displaced one is found as a parent.
    @Test func spansWhoseIDsShareAPlaceAreStoredOnceAndFoundAsParents() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: rowStoreConfig(dir))
            let key = try await slotKey(store)
            // Two random IDs with one first place: about 2^16 tries (birthday bound on 2^32 places).
            var seen: [Int64: Data] = [:]
            var pair: (Data, Data)?
            var tries = 0
            while pair == nil, tries < 2_000_000 {
                tries += 1
                let id = randomBytes(8)
                let s = slot(id, key)
                if let other = seen[s], other != id { pair = (other, id) } else { seen[s] = id }
            }
            let (first, second) = try #require(pair, "no two IDs shared a place in \(tries) tries")
            let trace = randomBytes(16)
            let start = nowNanos() - 60_000_000_000
            var parent = makeSpan(trace: trace, name: "parent", start: start, duration: 10_000_000)
            parent.spanID = first
            var displaced = makeSpan(trace: trace, name: "displaced", start: start + 1_000, duration: 5_000_000, parent: first)
            displaced.spanID = second
            var child = makeSpan(trace: trace, name: "child", start: start + 2_000, parent: second)
            child.spanID = randomBytes(8)
            var request = makeRequest(service: "front", spans: [parent])
            request.resourceSpans += makeRequest(service: "middle", spans: [displaced]).resourceSpans
            request.resourceSpans += makeRequest(service: "back", spans: [child]).resourceSpans
            try await store.append(request)
            try await store.append(request)
            let bucket = Int64(start / hourNanos)
            let places = try store.pool.read { db in
                try Row.fetchAll(db, sql: "SELECT rowid & \(SpanSlots.placeMask), span_id FROM \(SQLiteSchema.spansTable(bucket)) ORDER BY rowid")
            }
            #expect(places.count == 3)
            let s = slot(first, key)
            let byID = Dictionary(uniqueKeysWithValues: places.map { ($0[1] as Data, $0[0] as Int64) })
            #expect(Set([byID[first], byID[second]]) == [s, s + 1])
            let read = try #require(try TraceReader(store: store).trace(id: trace))
            #expect(Set(read.resourceSpans.flatMap { $0.scopeSpans.flatMap { $0.spans.map(\.spanID) } }) == [first, second, child.spanID])
            let links = try TraceReader(store: store).dependencies(
                startMin: Int64(start) - 1, startMax: Int64(start) + 1_000_000, timeBudget: .seconds(60)
            ).links
            #expect(Set(links.map { "\($0.parent)>\($0.child)" }) == ["front>middle", "middle>back"])
            // The parent is found at its places, not by reading every row of the partition per child.
            let plan = try await store.pool.read { db in
                try Row.fetchAll(
                    db, sql: "EXPLAIN QUERY PLAN " + TraceReader.dependenciesSQL(bucket: bucket, clusteredKey: key), arguments: [0, 1]
                ).map { $0["detail"] as String }.joined(separator: "\n")
            }
            #expect(plan.contains("INTEGER PRIMARY KEY"), "\(plan)")
            await store.close()
        }
    }

    /// A partition made by version 8 (rowids in arrival order, a unique index on (trace_seq, span_id)) keeps that
    /// layout when written again: a retry stores nothing, its traces read back and its parents are found, beside a
    /// partition this version makes.
    @Test func aPartitionOfTheVersionBeforeKeepsItsIndexAndArrivalOrder() async throws {
        try await withTemporaryDirectory { dir in
            let config = rowStoreConfig(dir)
            var store = try SQLiteTraceStore(config: config)
            await store.close()
            let now = nowNanos()
            let old = Int64(now / hourNanos)
            let pool = try DatabasePool(path: config.path)
            try await pool.write { db in
                // Version 8's layout of an empty partition: this version's tables and the unique index.
                let spans = SQLiteSchema.spansTable(old)
                try SQLiteSchema.createPartition(db, bucket: old, widthNanos: Int64(hourNanos), chunks: false)
                try db.execute(sql: "CREATE UNIQUE INDEX \(spans)_id ON \(spans)(trace_seq, span_id)")
            }
            try pool.close()
            store = try SQLiteTraceStore(config: config)
            let trace = randomBytes(16)
            let parent = makeSpan(trace: trace, name: "parent", start: now - 2_000, duration: 10_000)
            let child = makeSpan(trace: trace, name: "child", start: now - 1_000, parent: parent.spanID)
            var request = makeRequest(service: "front", spans: [parent])
            request.resourceSpans += makeRequest(service: "back", spans: [child]).resourceSpans
            try await store.append(request)
            try await store.append(request)
            let newer = traceRequest(spans: 4, start: now - hourNanos)
            try await store.append(newer.request)
            try await store.append(newer.request)
            let (layout, rows) = try await store.pool.read { db in
                (try TraceIDLookup.Layout(db), try Int64.fetchAll(db, sql: "SELECT rowid FROM \(SQLiteSchema.spansTable(old)) ORDER BY rowid"))
            }
            #expect(layout.withClusteredRows == [old - 1])
            #expect(rows == [1, 2])
            let reader = TraceReader(store: store)
            #expect(try reader.trace(id: trace)?.resourceSpans.count == 2)
            #expect(try reader.trace(id: newer.trace)?.resourceSpans.first?.scopeSpans.first?.spans.count == 4)
            #expect(try reader.spanCount() == 6)
            let links = try reader.dependencies(startMin: Int64(now - 2 * hourNanos), startMax: Int64(now), timeBudget: .seconds(60)).links
            #expect(links.map { "\($0.parent)>\($0.child)" } == ["front>back"])
            await store.close()
        }
    }

    /// A request whose spans join traces another service's request numbered (in any order, interleaved) makes one
    /// run while their numbers stay within 64; traces numbered further apart make another.
    @Test func spansJoiningAnotherServicesTracesInAnyOrderMakeOneRunWithin64Traces() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: rowStoreConfig(dir))
            let start = nowNanos() - 60_000_000_000
            let traces = (0..<70).map { _ in randomBytes(16) }
            try await store.append(makeRequest(service: "a", spans: traces.enumerated().map { makeSpan(trace: $1, start: start + UInt64($0)) }))
            var rng = SeededRandom(seed: 41)
            let joined = traces.prefix(20).shuffled(using: &rng)
            let interleaved = (0..<3).flatMap { round in joined.map { makeSpan(trace: $0, start: start + 1_000 + UInt64(round)) } }
            try await store.append(makeRequest(service: "b", spans: interleaved))
            try await store.append(makeRequest(service: "c", spans: [traces[0], traces[69]].map { makeSpan(trace: $0, start: start + 2_000) }))
            let bucket = Int64(start / hourNanos)
            let runs = try store.pool.read { db in
                try Row.fetchAll(db, sql: "SELECT service, count(*) FROM \(SQLiteSchema.spanRunsTable(bucket)) GROUP BY service ORDER BY service")
            }
            #expect(runs.map { "\($0[0] as String):\($0[1] as Int)" } == ["a:2", "b:1", "c:2"])
            let q = TraceSearchQuery(service: "b", startMin: Int64(start), startMax: Int64(start) + 10_000, limit: 100, timeBudget: .seconds(60))
            #expect(Set(try TraceReader(store: store).searchTraces(q).traceIDs) == Set(joined))
            await store.close()
        }
    }

    /// IDs made to crowd one window of places (possible only with the file's key, which no client has): the first
    /// 64 are stored, the 65th is refused after 64 probes, and the export still succeeds for the rest.
    @Test func aSpanWhoseEveryPlaceIsTakenIsNotStoredAndTheRestAre() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: rowStoreConfig(dir))
            let key = try await slotKey(store)
            let target: UInt64 = 123_456
            let ids = (0..<65).map { i in crafted(slot: target, low: UInt64(i) &* 0x9E37_79B9 &+ 1, key: key) }
            #expect(ids.allSatisfy { slot($0, key) == Int64(target) })
            let trace = randomBytes(16)
            let start = nowNanos() - 60_000_000_000
            let spans = ids.enumerated().map { i, id in
                var s = makeSpan(trace: trace, start: start + UInt64(i))
                s.spanID = id
                return s
            }
            try await store.append(makeRequest(spans: spans))
            try await store.append(makeRequest(spans: spans))
            let stored = try await store.pool.read { db in
                try Data.fetchAll(db, sql: "SELECT span_id FROM \(SQLiteSchema.spansTable(Int64(start / hourNanos)))")
            }
            #expect(Set(stored) == Set(ids.prefix(64)))
            await store.close()
        }
    }

    /// An 8-byte span ID whose first place under `key` is `slot`: MurmurHash3's finalizer is a bijection, so the
    /// mix with the wanted high half (and any low half) is inverted.
    func crafted(slot: UInt64, low: UInt64, key: Int64) -> Data {
        func inverse(_ c: UInt64) -> UInt64 {
            var x = c
            for _ in 0..<6 { x = x &* (2 &- c &* x) }
            return x
        }
        var k = slot << 32 | (low & 0xFFFF_FFFF)
        k ^= k >> 33
        k = k &* inverse(0xc4ce_b9fe_1a85_ec53)
        k ^= k >> 33
        k = k &* inverse(0xff51_afd7_ed55_8ccd)
        k ^= k >> 33
        k ^= UInt64(bitPattern: key)
        return withUnsafeBytes(of: k.littleEndian) { Data($0) }
    }
}
