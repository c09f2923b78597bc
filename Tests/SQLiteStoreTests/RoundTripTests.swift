import CollectorCore
import CollectorTesting
import Foundation
import GRDB
import OTLP
import Testing

@testable import SQLiteStore

@Suite("Lossless round trip")
struct RoundTripTests {
    static func fullRequest(t: Data, u: Data, base: UInt64) -> ExportTraceRequest {
        FullFieldRequests.request(trace: t, other: u, base: base)
    }

    /// `request` reduced to the spans of `trace`, dropping scopes and resources left empty.
    static func only(_ trace: Data, in request: ExportTraceRequest) -> ExportTraceRequest {
        var out = request
        out.resourceSpans = request.resourceSpans.compactMap { rs in
            var rs = rs
            rs.scopeSpans = rs.scopeSpans.compactMap { ss in
                var ss = ss
                ss.spans = ss.spans.filter { $0.traceID == trace }
                return ss.spans.isEmpty ? nil : ss
            }
            return rs.scopeSpans.isEmpty ? nil : rs
        }
        return out
    }

    /// Every trace of `ids` read with its spans left as protobuf holds, span for span, what the decoded read gives:
    /// each span's bytes decode to the same span, with the same resource and scope, in start order.
    static func expectEncodedReadsAlike(_ reader: TraceReader, _ ids: [Data]) throws {
        let decoded = try reader.traces(ids: ids, limits: .unlimited)
        let encoded = try reader.encodedTraces(ids: ids, limits: .unlimited)
        #expect(Set(encoded.traces.keys) == Set(decoded.traces.keys))
        for (id, request) in decoded.traces {
            let trace = try #require(encoded.traces[id])
            var expected: [Data: (Resource, InstrumentationScope, Span)] = [:]
            for rs in request.resourceSpans {
                for ss in rs.scopeSpans { for span in ss.spans { expected[span.spanID] = (rs.resource, ss.scope, span) } }
            }
            let spans = try trace.spans.map { (trace.resources[$0.resource], trace.scopes[$0.scope], try Span(serializedBytes: $0.bytes)) }
            #expect(spans.count == expected.count)
            for (resource, scope, span) in spans {
                let want = try #require(expected[span.spanID])
                #expect(resource == want.0)
                #expect(scope == want.1)
                #expect(span == want.2)
            }
            #expect(spans.map(\.2.startTimeUnixNano) == spans.map(\.2.startTimeUnixNano).sorted())
            #expect(trace.traceID == id)
        }
    }

    @Test func everyFieldSurvivesStorage() async throws {
        try await withTemporaryDirectory { dir in
            let t = randomBytes(16)
            let u = randomBytes(16)
            let request = Self.fullRequest(t: t, u: u, base: nowNanos() - 600 * 1_000_000_000)
            let expectedT = Self.only(t, in: request)
            let expectedU = Self.only(u, in: request)
            #expect(expectedT.spanCount == 6)
            #expect(expectedU.spanCount == 2)

            let config = storeConfig(dir)
            let store = try SQLiteTraceStore(config: config)
            try await store.append(request)

            let live = TraceReader(store: store)
            #expect(try live.trace(id: t) == expectedT)
            #expect(try live.trace(id: u) == expectedU)
            #expect(try live.trace(id: randomBytes(16)) == nil)
            #expect(try live.spanCount() == 8)
            #expect(try live.services() == ["backend", "frontend"])
            try Self.expectEncodedReadsAlike(live, [t, u])

            // Read-only, from the path, while the store is open.
            let readOnly = try TraceReader(path: config.path)
            #expect(try readOnly.trace(id: t) == expectedT)
            #expect(try readOnly.trace(id: u) == expectedU)

            await store.close()
            let afterClose = try TraceReader(path: config.path)
            #expect(try afterClose.trace(id: t) == expectedT)
        }
    }

    @Test func readerOnMissingDatabaseThrows() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("missing-\(UUID().uuidString).db").path
        #expect(throws: TraceReaderError.self) { try TraceReader(path: path) }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func readerRefusesAnotherSchemaVersionOrAForeignFileByName() async throws {
        try await withTemporaryDirectory { dir in
            let config = storeConfig(dir)
            let store = try SQLiteTraceStore(config: config)
            try await store.append(traceRequest(spans: 2, start: nowNanos()).request)
            try await store.pool.write { db in try db.execute(sql: "UPDATE meta SET value = '1' WHERE key = 'schema_version'") }
            await store.close()
            #expect {
                try TraceReader(path: config.path)
            } throws: { error in
                "\(error)" == "\(config.path) has storage schema version 1; this otelsink reads versions 2, 3, 4, 5, 6, 7, 8, 9, 10 and 11"
            }
            let foreign = dir.appendingPathComponent("other.db").path
            try await DatabaseQueue(path: foreign).write { db in try db.execute(sql: "CREATE TABLE t(x)") }
            #expect {
                try TraceReader(path: foreign)
            } throws: { error in
                "\(error)" == "\(foreign) is not an otelsink trace database"
            }
        }
    }

    /// A row's body leaves out what its columns hold (IDs, name, kind, start), and reads back whole. A file of
    /// schema version 2, whose bodies hold every field, reads back the same, and keeps working once this version
    /// writes to it.
    @Test func bodiesLeaveOutColumnFieldsAndVersion2RowsStillRead() async throws {
        try await withTemporaryDirectory { dir in
            let t = randomBytes(16)
            let u = randomBytes(16)
            let request = Self.fullRequest(t: t, u: u, base: nowNanos() - 600 * 1_000_000_000)
            let config = rowStoreConfig(dir)
            var store = try SQLiteTraceStore(config: config)
            try await store.append(request)
            let spans = request.resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) }
            let sizes = try await store.pool.read { db in
                try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions").flatMap { b in
                    try Row.fetchAll(db, sql: "SELECT span_id, length(body), instr(body, trace_id) FROM \(SQLiteSchema.spansTable(b))")
                        .map { row -> (Data, Int, Int) in (row[0], row[1], row[2]) }
                }
            }
            #expect(sizes.count == spans.count)
            for (spanID, length, traceIDAt) in sizes {
                let original = try #require(spans.first { $0.spanID == spanID })
                #expect(length < (try original.serializedBytes() as [UInt8]).count - 16 - 8)
                #expect(traceIDAt == 0)
            }
            await store.close()

            // Rewrite the rows as version 2 stored them: the whole span in the body.
            let pool = try DatabasePool(path: config.path)
            try await pool.write { db in
                for b in try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions") {
                    for span in spans {
                        try db.execute(
                            sql: "UPDATE \(SQLiteSchema.spansTable(b)) SET body = ? WHERE span_id = ?",
                            arguments: [try span.serializedBytes() as Data, span.spanID])
                    }
                }
                try db.execute(sql: "UPDATE meta SET value = '2' WHERE key = 'schema_version'")
            }
            try pool.close()
            let version2 = try TraceReader(path: config.path)
            #expect(try version2.trace(id: t) == Self.only(t, in: request))
            #expect(try version2.trace(id: u) == Self.only(u, in: request))
            try Self.expectEncodedReadsAlike(version2, [t, u])

            // This version writes to it: old and new rows side by side, the file marked version 3.
            store = try SQLiteTraceStore(config: config)
            let v = randomBytes(16)
            let later = Self.fullRequest(t: v, u: randomBytes(16), base: nowNanos() - 300 * 1_000_000_000)
            try await store.append(later)
            let reader = TraceReader(store: store)
            #expect(try reader.trace(id: t) == Self.only(t, in: request))
            #expect(try reader.trace(id: v) == Self.only(v, in: later))
            #expect(try reader.traces(ids: [t, v]) == [t: Self.only(t, in: request), v: Self.only(v, in: later)])
            try Self.expectEncodedReadsAlike(reader, [t, v])
            let version = try await store.pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'schema_version'") }
            #expect(version == String(SQLiteSchema.version))
            await store.close()
        }
    }

    @Test func oddSpansAreStored() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let trace = randomBytes(16)
            let now = nowNanos()
            // Empty name, no attributes, unspecified kind, no status, start after end.
            var backwards = Span()
            backwards.traceID = trace
            backwards.spanID = randomBytes(8)
            backwards.startTimeUnixNano = now
            backwards.endTimeUnixNano = now - 5_000_000
            // Zero start time and a start time beyond Int64: both clamped into retained partitions, kept as sent.
            var zero = makeSpan(trace: trace, name: "zero", start: 0, duration: 0)
            zero.endTimeUnixNano = 0
            var huge = makeSpan(trace: trace, name: "huge", start: UInt64.max - 10, duration: 0)
            huge.endTimeUnixNano = UInt64.max
            let normal = makeSpan(trace: trace, name: "normal", start: now + 1_000)
            var resourceless = ExportTraceRequest()
            resourceless.resourceSpans = [ResourceSpans()]
            resourceless.resourceSpans[0].scopeSpans = [ScopeSpans()]
            resourceless.resourceSpans[0].scopeSpans[0].spans = [zero, backwards, normal, huge]
            try await store.append(resourceless)

            let reader = TraceReader(store: store)
            #expect(try reader.spanCount() == 4)
            // Spans come back exactly as sent, ordered by start time.
            let got = try #require(try reader.trace(id: trace))
            #expect(got.resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) } == [zero, backwards, normal, huge])
            #expect(try reader.services() == ["unknown_service"])

            let outlines = try #require(try reader.outlines(id: trace, limits: .unlimited)).spans
            let durations = Dictionary(uniqueKeysWithValues: outlines.map { ($0.name, $0.endNanos - $0.startNanos) })
            // start > end stores duration 0; "huge" is clamped to Int64.max at both ends.
            #expect(durations == ["": 0, "zero": 0, "normal": 1_000_000, "huge": 0] as [String: UInt64])
            await store.close()
        }
    }

    @Test func spanNamesWithControlCharactersAndNULReadBackExactly() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let trace = randomBytes(16)
            let names = ["a\u{0}b", "\u{0}", "x\u{1B}[2J\r\n\u{202E}\u{0}\u{7}"]
            let spans = names.enumerated().map { i, name in makeSpan(trace: trace, name: name, start: nowNanos() + UInt64(i)) }
            try await store.append(makeRequest(spans: spans))
            let got = try #require(try TraceReader(store: store).trace(id: trace))
            #expect(got.resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) }.map(\.name) == names)
            await store.close()
        }
    }

    @Test func emptyRequestIsANoOp() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            try await store.append(ExportTraceRequest())
            try await store.append(makeRequest(spans: []))
            #expect(try TraceReader(store: store).spanCount() == 0)
            #expect(try TraceReader(store: store).partitions() == [])
            await store.close()
        }
    }
}
