import CollectorCore
import Foundation
import GRDB
import OTLP
import Testing

@testable import SQLiteStore

/// Spans stored in chunks (schema version 11, ``SpanChunks``): what a chunk holds, how a retried or overlapping
/// export is recognised span by span, and that reads, search and dependencies find spans inside chunks as they found
/// rows — also in a file whose older partition has a row per span.
@Suite("Span chunks")
struct SpanChunksTests {
    func chunks(_ store: SQLiteTraceStore, bucket: Int64) async throws -> [Row] {
        try store.pool.read { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT rowid, trace_id, service, span_count, min_start_ns, max_start_ns, max_duration_ns, length(span_ids) FROM \(SpanChunks.table(bucket)) ORDER BY rowid"
            )
        }
    }

    @Test func aRequestsTraceIsOneRowNumberedByTraceWithoutASpansTable() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let start = nowNanos() - 60_000_000_000
            let (trace, request) = traceRequest(spans: 20, start: start)
            try await store.append(request)
            let bucket = Int64(start / hourNanos)
            let rows = try await chunks(store, bucket: bucket)
            #expect(rows.count == 1)
            let row = try #require(rows.first)
            #expect((row[0] as Int64) & SpanSlots.placeMask == 0)
            #expect((row[1] as Data) == trace)
            #expect((row[3] as Int) == 20 && (row[7] as Int) == 160)
            #expect((row[4] as Int64) <= (row[5] as Int64))
            let (spansTable, layout) = try await store.pool.read { db in
                (try db.tableExists(SQLiteSchema.spansTable(bucket)), try TraceIDLookup.Layout(db))
            }
            #expect(!spansTable && layout.withSpanChunks == [bucket] && layout.withClusteredRows.isEmpty)
            #expect(try TraceReader(store: store).spanCount() == 20)
            let back = try #require(try TraceReader(store: store).trace(id: trace))
            #expect(back.resourceSpans.flatMap(\.scopeSpans).flatMap(\.spans).count == 20)
            await store.close()
        }
    }

    /// A retry stores nothing; an export that repeats some spans of a stored trace and adds others stores only the new
    /// ones, in a second chunk of the trace; a span repeated within one request is stored once.
    @Test func retriedAndOverlappingExportsStoreEachSpanOnce() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let start = nowNanos() - 60_000_000_000
            let trace = randomBytes(16)
            let first = (0..<5).map { makeSpan(trace: trace, name: "a\($0)", start: start + UInt64($0) * 1_000) }
            let more = (0..<3).map { makeSpan(trace: trace, name: "b\($0)", start: start + 10_000 + UInt64($0) * 1_000) }
            try await store.append(makeRequest(spans: first))
            try await store.append(makeRequest(spans: first))
            try await store.append(makeRequest(spans: Array(first[2...]) + more + [more[0]]))
            let bucket = Int64(start / hourNanos)
            let rows = try await chunks(store, bucket: bucket)
            #expect(rows.map { ($0[0] as Int64) & SpanSlots.placeMask } == [0, 1])
            #expect(rows.map { $0[3] as Int } == [5, 3])
            let back = try #require(try TraceReader(store: store).trace(id: trace))
            let names = back.resourceSpans.flatMap(\.scopeSpans).flatMap(\.spans).map(\.name)
            #expect(names.sorted() == (first + more).map(\.name).sorted())
            let traceRow = try store.pool.read { db in
                try Row.fetchOne(db, sql: "SELECT span_count FROM \(SQLiteSchema.tracesTable(bucket))")
            }
            #expect(traceRow?[0] as Int? == 8)
            await store.close()
        }
    }

    /// A trace that grows past ``SpanChunks/largeTrace`` spans keeps its span IDs in `span_ids_b` from then on: later
    /// exports of it are checked there (not by reading all its chunks), and retries still store nothing.
    @Test func aLargeTracesSpanIDsMoveToTheirTableAndRetriesStillStoreNothing() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let start = nowNanos() - 60_000_000_000
            let trace = randomBytes(16)
            let half = SpanChunks.largeTrace / 2 + 44
            let first = (0..<half).map { makeSpan(trace: trace, name: "a\($0)", start: start + UInt64($0)) }
            let second = (0..<half).map { makeSpan(trace: trace, name: "b\($0)", start: start + 100_000 + UInt64($0)) }
            let bucket = Int64(start / hourNanos)
            func indexed() async throws -> Int {
                try await store.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(SpanChunks.idsTable(bucket))") ?? 0 }
            }
            try await store.append(makeRequest(spans: first))
            #expect(try await indexed() == 0)
            try await store.append(makeRequest(spans: second))
            #expect(try await indexed() == 2 * half)
            try await store.append(makeRequest(spans: second))
            try await store.append(makeRequest(spans: Array(first[..<10]) + [makeSpan(trace: trace, name: "late", start: start + 1)]))
            #expect(try await indexed() == 2 * half + 1)
            let reader = TraceReader(store: store)
            #expect(try reader.spanCount() == 2 * half + 1)
            #expect(try reader.trace(id: trace)?.resourceSpans.flatMap(\.scopeSpans).flatMap(\.spans).count == 2 * half + 1)
            await store.close()
        }
    }

    /// A transaction that made a partition and then failed (here: on another partition whose `span_ids` table is
    /// gone) leaves nothing of it behind: the next export makes the partition again and is stored.
    @Test func aPartitionMadeByAFailedTransactionIsMadeAgainByTheNext() async throws {
        try await withTemporaryDirectory { dir in
            let bucket = currentBucket()
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let trace = randomBytes(16)
            try await store.append(makeRequest(spans: [makeSpan(trace: trace, name: "old", start: time(inBucket: bucket - 1))]))
            try await store.pool.write { db in try db.execute(sql: "DROP TABLE \(SpanChunks.idsTable(bucket - 1))") }
            var request = makeRequest(spans: [makeSpan(trace: randomBytes(16), name: "new", start: time(inBucket: bucket))])
            request.resourceSpans += makeRequest(spans: [makeSpan(trace: trace, name: "late", start: time(inBucket: bucket - 1))]).resourceSpans
            await #expect(throws: (any Error).self) { try await store.append(request) }
            let next = traceRequest(spans: 3, start: time(inBucket: bucket, seconds: 120))
            try await store.append(next.request)
            #expect(try TraceReader(store: store).trace(id: next.trace) == next.request)
            await store.close()
        }
    }

    /// A trace's spans from two resources, and a trace larger than a chunk holds, make several chunks that read back as
    /// one trace, every field as sent.
    @Test func chunksSplitByResourceAndSizeReadBackFieldForField() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let start = nowNanos() - 60_000_000_000
            let trace = randomBytes(16)
            let count = SpanChunks.maxSpans + 20
            var spans = (0..<count).map { i in
                var span = makeSpan(trace: trace, name: "op\(i % 7)", start: start + UInt64(i) * 1_000)
                span.attributes = [stringAttribute("i", "\(i)")]
                span.status.code = i % 5 == 0 ? .error : .ok
                return span
            }
            spans[1].parentSpanID = spans[0].spanID
            var request = makeRequest(service: "front", spans: Array(spans[..<10]))
            request.resourceSpans += makeRequest(service: "back", spans: Array(spans[10...])).resourceSpans
            try await store.append(request)
            let rows = try await chunks(store, bucket: Int64(start / hourNanos))
            #expect(rows.map { $0[3] as Int } == [10, SpanChunks.maxSpans, 10])
            #expect(rows.map { $0[2] as String } == ["front", "back", "back"])
            let back = try #require(try TraceReader(store: store).trace(id: trace))
            let stored = Dictionary(uniqueKeysWithValues: back.resourceSpans.flatMap(\.scopeSpans).flatMap(\.spans).map { ($0.spanID, $0) })
            #expect(stored.count == count)
            for span in spans { #expect(stored[span.spanID] == span) }
            let outlines = try #require(try TraceReader(store: store).outlines(id: trace, limits: .unlimited))
            #expect(outlines.spans.count == count && !outlines.truncated)
            #expect(Set(outlines.spans.filter { $0.service == "front" }.map(\.spanID)) == Set(spans[..<10].map(\.spanID)))
            let bounded = try TraceReader(store: store).traces(ids: [trace], limits: TraceReadLimits(maxSpans: 100))
            #expect(bounded.truncated == [trace])
            #expect(bounded.traces[trace]?.resourceSpans.flatMap(\.scopeSpans).flatMap(\.spans).count == 100)
            await store.close()
        }
    }

    /// Search checks each span of a chunk: operation, duration bounds, start range and tags pick the trace whose span
    /// matches, not a trace whose chunk merely overlaps.
    @Test func searchFiltersTheSpansInsideChunks() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let start = nowNanos() - 600_000_000_000
            func trace(_ name: String, duration: UInt64, offset: UInt64, tag: String) -> (Data, ExportTraceRequest) {
                let id = randomBytes(16)
                var spans = (0..<4).map { makeSpan(trace: id, name: "filler", start: start + offset + UInt64($0) * 1_000, duration: 1_000) }
                var special = makeSpan(trace: id, name: name, start: start + offset + 10_000, duration: duration)
                special.attributes = [stringAttribute("customer", tag)]
                spans.append(special)
                return (id, makeRequest(service: "shop", spans: spans))
            }
            let (slow, slowRequest) = trace("checkout", duration: 900_000_000, offset: 0, tag: "acme")
            let (fast, fastRequest) = trace("checkout", duration: 2_000_000, offset: 1_000_000, tag: "globex")
            let (other, otherRequest) = trace("browse", duration: 900_000_000, offset: 2_000_000, tag: "acme")
            for r in [slowRequest, fastRequest, otherRequest] { try await store.append(r) }
            let reader = TraceReader(store: store)
            func search(_ configure: (inout TraceSearchQuery) -> Void) throws -> Set<Data> {
                var q = TraceSearchQuery(
                    service: "shop", startMin: Int64(start) - 1, startMax: Int64(start) + 10_000_000_000, limit: 10, timeBudget: .seconds(10))
                configure(&q)
                return Set(try reader.searchTraces(q).traceIDs)
            }
            #expect(try search { _ in } == [slow, fast, other])
            #expect(try search { $0.operation = "checkout" } == [slow, fast])
            #expect(
                try search {
                    $0.operation = "checkout"
                    $0.minDuration = 100_000_000
                } == [slow])
            #expect(try search { $0.minDuration = 100_000_000 } == [slow, other])
            #expect(
                try search {
                    $0.maxDuration = 5_000_000
                    $0.operation = "checkout"
                } == [fast])
            #expect(try search { $0.tags = [TagFilter(key: "customer", value: "acme")] } == [slow, other])
            #expect(
                try search {
                    $0.tags = [TagFilter(key: "customer", value: "acme")]
                    $0.operation = "checkout"
                } == [slow])
            // The special spans start 10 µs after their trace's first: a range ending before them finds fillers only.
            #expect(
                try search {
                    $0.startMax = Int64(start) + 5_000
                    $0.operation = "checkout"
                } == [])
            #expect(try search { $0.service = "nobody" } == [])
            await store.close()
        }
    }

    @Test func dependenciesPairSpansAcrossChunksOfATrace() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let start = nowNanos() - 60_000_000_000
            let trace = randomBytes(16)
            let root = makeSpan(trace: trace, name: "GET /", start: start)
            var call = makeSpan(trace: trace, name: "charge", start: start + 1_000, parent: root.spanID)
            call.status.code = .error
            let inner = makeSpan(trace: trace, name: "query", start: start + 2_000, parent: call.spanID)
            try await store.append(makeRequest(service: "front", spans: [root]))
            try await store.append(makeRequest(service: "payments", spans: [call, inner]))
            let result = try TraceReader(store: store).dependencies(
                startMin: Int64(start) - 1, startMax: Int64(start) + 1_000_000, timeBudget: .seconds(10))
            #expect(result.complete)
            #expect(result.links == [DependencyLink(parent: "front", child: "payments", callCount: 1, errorCount: 1)])
            await store.close()
        }
    }

    /// A file whose older partition has a row per span (as schema version 10 wrote) and whose newer one has chunks: a
    /// trace in both reads back whole, search and the span count cover both.
    @Test func aRowPartitionAndAChunkPartitionReadAsOne() async throws {
        try await withTemporaryDirectory { dir in
            let bucket = currentBucket()
            let trace = randomBytes(16)
            let old = (0..<3).map { makeSpan(trace: trace, name: "old\($0)", start: time(inBucket: bucket - 1) + UInt64($0)) }
            let new = (0..<4).map { makeSpan(trace: trace, name: "new\($0)", start: time(inBucket: bucket) + UInt64($0)) }
            var store = try SQLiteTraceStore(config: storeConfig(dir) { $0.spanChunks = false })
            try await store.append(makeRequest(spans: old))
            await store.close()
            store = try SQLiteTraceStore(config: storeConfig(dir))
            try await store.append(makeRequest(spans: new + old))
            let layout = try await store.pool.read { db in try TraceIDLookup.Layout(db) }
            #expect(layout.withClusteredRows == [bucket - 1] && layout.withSpanChunks == [bucket])
            let reader = TraceReader(store: store)
            #expect(try reader.spanCount() == 7)
            let back = try #require(try reader.trace(id: trace))
            #expect(back.resourceSpans.flatMap(\.scopeSpans).flatMap(\.spans).map(\.name).sorted() == (old + new).map(\.name).sorted())
            let q = TraceSearchQuery(
                service: "svc", operation: "old1", startMin: Int64(time(inBucket: bucket - 1)) - 1, startMax: Int64(time(inBucket: bucket)) + 10,
                limit: 10, timeBudget: .seconds(10))
            #expect(try reader.searchTraces(q).traceIDs == [trace])
            await store.close()
        }
    }
}
