import CollectorCore
import Foundation
import QueryAPI
import SQLiteStore
import Testing

@Suite struct QueryLatencyTelemetryTests {
    @Test func everyRequestIsObservedUnderARouteTemplateNotItsRawPath() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("otelsink-query-latency-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try SQLiteTraceStore(config: SQLiteStoreConfig(path: dir.appendingPathComponent("traces.db").path))
        let seen = LockedValue<[String]>([])
        let router = QueryRouter(
            service: TraceQueryService(reader: TraceReader(store: store), config: QueryConfig()),
            observe: { route, took in
                #expect(took >= .zero)
                seen.withLock { $0.append(route) }
            })
        for uri in [
            "/api/services", "/api/traces/0af7651916cd43dd8448eb211c80319c", "/api/services/checkout/operations",
            "/api/v3/traces/0af7651916cd43dd8448eb211c80319c?x=1", "/api/traces?service=a", "/no/such/path", "/health",
        ] {
            _ = await router.handle(method: .GET, uri: uri)
        }
        #expect(
            seen.withLock { $0 } == [
                "/api/services", "/api/traces/{traceID}", "/api/services/{service}/operations",
                "/api/v3/traces/{traceID}", "/api/traces", "other", "/health",
            ])
        await store.close()
    }
}
