import Foundation
import GRDB
import OTLP
import Testing

@testable import SQLiteStore

/// What each partition's spans refer to (`span_refs_b`), and removing what no remaining span refers to after
/// retention drops a partition.
@Suite struct SpanReferencesTests {
    private func shared(_ store: SQLiteTraceStore) async throws -> (services: Set<String>, scopes: Int, operations: Set<String>) {
        try await store.pool.read { db in
            (
                Set(try String.fetchAll(db, sql: "SELECT service FROM resources")),
                try Int.fetchOne(db, sql: "SELECT count(*) FROM scopes") ?? -1,
                Set(try String.fetchAll(db, sql: "SELECT service || '/' || name FROM operations"))
            )
        }
    }

    /// Spans of `service` named `names` (one trace), in its own scope `scope`.
    private func request(service: String, scope: String, names: [String], start: UInt64) -> ExportTraceRequest {
        let trace = randomBytes(16)
        var r = makeRequest(service: service, spans: names.enumerated().map { makeSpan(trace: trace, name: $1, start: start + UInt64($0)) })
        r.resourceSpans[0].scopeSpans[0].scope.name = scope
        return r
    }

    @Test func aPartitionRecordsEachCombinationOnce() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let bucket = currentBucket()
            for i in 0..<5 {
                try await store.append(
                    request(service: "a", scope: "s", names: ["get", "get", "put"], start: time(inBucket: bucket, seconds: UInt64(i))))
            }
            try await store.append(request(service: "b", scope: "s", names: ["get"], start: time(inBucket: bucket)))
            let rows = try await store.pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT s.service, r.name, r.kind FROM \(SpanReferences.table(bucket)) r JOIN resources s ON s.id = r.resource_id"
                )
                .map { "\($0[0] as String)/\($0[1] as String)/\($0[2] as Int)" }
            }
            #expect(rows.sorted() == ["a/get/1", "a/put/1", "b/get/1"])
            await store.close()
        }
    }

    @Test func droppingAPartitionRemovesOnlyWhatNoOtherPartitionRefersTo() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))  // 72h retention, 1h partitions
            let now = nowNanos()
            let bucket = Int64(now / hourNanos)
            // The old partition: service "gone" (only there), and "kept" with an operation only there.
            try await store.append(request(service: "gone", scope: "old-scope", names: ["x"], start: time(inBucket: bucket - 2)))
            try await store.append(request(service: "kept", scope: "s", names: ["old-only", "both"], start: time(inBucket: bucket - 2)))
            try await store.append(request(service: "kept", scope: "s", names: ["both"], start: time(inBucket: bucket)))
            #expect(try await shared(store).services == ["gone", "kept"])

            #expect(try await store.applyRetention(now: Int64(now + 71 * hourNanos)) == 1)
            let after = try await shared(store)
            #expect(after.services == ["kept"])
            #expect(after.scopes == 1)
            #expect(after.operations == ["kept/both"])
            let reader = TraceReader(store: store)
            #expect(try reader.services() == ["kept"])
            await store.close()
        }
    }

    /// A partition an earlier otelsink made has no references table: what its span rows refer to is kept.
    @Test func aPartitionWithoutReferencesKeepsWhatItsRowsReferTo() async throws {
        try await withTemporaryDirectory { dir in
            let now = nowNanos()
            let bucket = Int64(now / hourNanos)
            var store = try SQLiteTraceStore(config: rowStoreConfig(dir))
            try await store.append(request(service: "older", scope: "s1", names: ["a"], start: time(inBucket: bucket - 1)))
            try await store.pool.write { db in try db.execute(sql: "DROP TABLE \(SpanReferences.table(bucket - 1))") }
            await store.close()
            // Opened again, the writer knows that partition has no references table.
            store = try SQLiteTraceStore(config: rowStoreConfig(dir))
            try await store.append(request(service: "older", scope: "s1", names: ["b"], start: time(inBucket: bucket - 1)))
            try await store.append(request(service: "dropped", scope: "s2", names: ["c"], start: time(inBucket: bucket - 2)))
            #expect(try await store.pool.read { db in try db.tableExists(SpanReferences.table(bucket - 1)) } == false)

            #expect(try await store.applyRetention(now: Int64(now + 71 * hourNanos)) == 1)
            let after = try await shared(store)
            #expect(after.services == ["older"])
            #expect(after.scopes == 1)
            #expect(after.operations == ["older/a", "older/b"])
            await store.close()
        }
    }
}
