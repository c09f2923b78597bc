import CollectorCore
import CollectorService
import CollectorTesting
import Foundation
import NIOHTTP1
import OTLP
import SQLiteStore
import Testing

@testable import QueryAPI

/// A store in a temporary directory holding `requests`, and a router over it with the clock pinned to `now`.
func withRouter(
    _ requests: [ExportTraceRequest], now: Int64, config: QueryConfig = QueryConfig(),
    _ body: (QueryRouter) async throws -> Void
) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("otelsink-query-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    var storeConfig = SQLiteStoreConfig(path: dir.appendingPathComponent("traces.db").path)
    storeConfig.retention = .seconds(1_000_000_000)  // keep the fixtures' fixed 2024 timestamps in place
    storeConfig.partition = .seconds(3600)
    let store = try SQLiteTraceStore(config: storeConfig)
    for r in requests { try await store.append(r) }
    let router = QueryRouter(service: TraceQueryService(reader: TraceReader(store: store), config: config), now: { now })
    try await body(router)
    await store.close()
}

func get(_ router: QueryRouter, _ uri: String) async throws -> (status: Int, json: [String: Any], headers: [(String, String)]) {
    let r = await router.handle(method: .GET, uri: uri)
    let object = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] ?? [:]
    return (Int(r.status.code), object, r.headers)
}

let fixtureNow: Int64 = 1_714_564_800_000_000_000 + 60_000_000_000  // a minute after the fixture

@Suite struct QueryRouterTests {
    @Test func servicesAndOperationsListWhatWasStored() async throws {
        try await withRouter([SampleTrace.checkout()], now: fixtureNow) { router in
            let s = try await get(router, "/api/services")
            #expect(s.status == 200)
            #expect(s.json["data"] as? [String] == ["checkout", "payment"])
            #expect(s.json["total"] as? Int == 2)
            #expect(s.json["errors"] is NSNull)
            let legacy = try await get(router, "/api/services/payment/operations")
            #expect(legacy.json["data"] as? [String] == ["charge"])
            let ops = try await get(router, "/api/operations?service=checkout&spanKind=server")
            #expect(ops.json["data"] as? [[String: String]] == [["name": "GET /cart", "spanKind": "server"]])
            let none = try await get(router, "/api/operations?service=checkout&spanKind=client")
            #expect((none.json["data"] as? [Any])?.isEmpty == true)
            let v3 = try await get(router, "/api/v3/services")
            #expect(v3.json["services"] as? [String] == ["checkout", "payment"])
            let v3ops = try await get(router, "/api/v3/operations?service=payment&span_kind=client")
            #expect(v3ops.json["operations"] as? [[String: String]] == [["name": "charge", "spanKind": "client"]])
        }
    }

    @Test func traceByIDAnswersTheJaegerModelOr404() async throws {
        try await withRouter([SampleTrace.checkout()], now: fixtureNow) { router in
            let found = try await get(router, "/api/traces/0102030405060708090a0b0c0d0e0f10")
            #expect(found.status == 200)
            let data = try #require(found.json["data"] as? [[String: Any]])
            #expect(data.count == 1 && (data[0]["spans"] as? [Any])?.count == 2)
            let missing = try await get(router, "/api/traces/0102030405060708090a0b0c0d0e0f11")
            #expect(missing.status == 404)
            #expect(missing.json["data"] is NSNull)
            let error = try #require((missing.json["errors"] as? [[String: Any]])?.first)
            #expect(error["code"] as? Int == 404 && error["msg"] as? String == "trace not found" && error.count == 2)
            let bad = try await get(router, "/api/traces/xyz")
            #expect(bad.status == 400)
            let message = (bad.json["errors"] as? [[String: Any]])?.first?["msg"] as? String ?? ""
            #expect(message.contains("'traceID'"))
        }
    }

    @Test func v3TraceIsLosslessOTLPJSON() async throws {
        let trace = SampleTrace.checkout()
        try await withRouter([trace], now: fixtureNow) { router in
            let r = await router.handle(method: .GET, uri: "/api/v3/traces/0102030405060708090a0b0c0d0e0f10")
            #expect(r.status == .ok)
            let prefix = Array("{\"result\":".utf8)
            #expect(Array(r.body.prefix(prefix.count)) == prefix)
            let decoded = try OTLPJSON.decode(ExportTraceRequest.self, from: r.body.dropFirst(prefix.count).dropLast())
            #expect(decoded == trace)
            let missing = try await get(router, "/api/v3/traces/0102030405060708090a0b0c0d0e0f11")
            #expect(missing.status == 404)
            #expect((missing.json["error"] as? [String: Any])?["httpCode"] as? Int == 404)
        }
    }

    @Test func v3CriticalPathAnswersSectionsAndSharesOr404() async throws {
        try await withRouter([SampleTrace.checkout()], now: fixtureNow) { router in
            let r = try await get(router, "/api/v3/traces/0102030405060708090a0b0c0d0e0f10/critical_path")
            #expect(r.status == 200)
            let result = try #require(r.json["result"] as? [String: Any])
            #expect(result["traceId"] as? String == "0102030405060708090a0b0c0d0e0f10")
            #expect(result["durationNanos"] as? Int == 12_345_000)
            let sections = try #require(result["sections"] as? [[String: Any]])
            #expect(sections.map { $0["operation"] as? String } == ["GET /cart", "charge", "GET /cart"])
            #expect(sections.map { $0["durationNanos"] as? Int } == [2_000_000, 4_000_000, 6_345_000])
            #expect(sections[1]["spanId"] as? String == "b200000000000002")
            let services = try #require(result["services"] as? [[String: Any]])
            #expect(services.map { $0["service"] as? String } == ["checkout", "payment"])
            #expect(services.map { $0["share"] as? Double } == [0.676, 0.324])
            let missing = try await get(router, "/api/v3/traces/0102030405060708090a0b0c0d0e0f11/critical_path")
            #expect(missing.status == 404)
            let bad = try await get(router, "/api/v3/traces/zz/critical_path")
            #expect(bad.status == 400 && ((bad.json["error"] as? [String: Any])?["message"] as? String ?? "").contains("trace_id"))
        }
    }

    /// The endpoint diffs span summaries read from the store (attributes compared as stored bytes); the answer is
    /// the same as the diff of the two traces decoded whole.
    @Test func v3DiffFromStoredSummariesMatchesTheDiffOfDecodedTraces() async throws {
        let a = SampleTrace.checkout()
        var b = a
        b.modifySpans { span, _, _ in
            span.traceID = Data((101...116).map { UInt8($0) })
            if span.name == "charge" {
                span.endTimeUnixNano += 3_000_000
                span.status.message = "card declined\u{0}again"
                span.attributes.append(
                    KeyValue.with {
                        $0.key = "retry"
                        $0.value = .string("<2>")
                    })
            } else {
                span.attributes[1].value.intValue = 500
            }
        }
        var extra = b.resourceSpans[1].scopeSpans[0].spans[0]
        extra.spanID = Data([0xd4, 0, 0, 0, 0, 0, 0, 4])
        extra.name = "refund\u{0}x"
        b.resourceSpans[1].scopeSpans[0].spans.append(extra)
        try await withRouter([a, b], now: fixtureNow) { router in
            let r = await router.handle(method: .GET, uri: "/api/v3/traces/0102030405060708090a0b0c0d0e0f10/diff/65666768696a6b6c6d6e6f7071727374")
            #expect(r.status.code == 200)
            let answer = try #require(try JSONSerialization.jsonObject(with: Data(r.body)) as? NSDictionary)
            let expected = try JSONSerialization.jsonObject(with: Data(TraceDiff(a, b).json())) as? NSDictionary
            #expect(answer["result"] as? NSDictionary == expected)
            let result = try #require(answer["result"] as? [String: Any])
            #expect((result["changed"] as? [Any])?.count == 2 && (result["onlyInB"] as? [[String: Any]])?.count == 1)
            let only = try #require((result["onlyInB"] as? [[String: Any]])?.first?["path"] as? [[String: Any]])
            #expect(only.last?["operation"] as? String == "refund\u{0}x")
            let missing = await router.handle(
                method: .GET, uri: "/api/v3/traces/0102030405060708090a0b0c0d0e0f10/diff/0102030405060708090a0b0c0d0e0f11")
            #expect(missing.status.code == 404)
        }
    }

    @Test func pointReadsAreAnsweredOnTheConnectionsLoopAndScansAreNot() {
        for uri in [
            "/api/traces/0102030405060708090a0b0c0d0e0f10", "/api/v3/traces/0102030405060708090a0b0c0d0e0f10?x=1",
            "/api/services", "/api/v3/services", "/api/services/checkout/operations", "/api/operations?service=a",
            "/api/v3/operations?service=a", "/health", "/static/app.js", "/favicon.ico", "/", "/search", "/trace/01",
        ] {
            #expect(QueryRouter.isPointRead(uri), "\(uri)")
        }
        for uri in [
            "/api/traces?service=checkout", "/api/traces?traceID=01&traceID=02", "/api/v3/traces?query.service_name=a",
            "/api/v3/traces/01/critical_path", "/api/v3/traces/01/diff/02", "/api/v3/traces/01/anomalies",
            "/api/v3/baselines", "/api/dependencies?endTs=1", "/api/v3/logs?trace_id=01", "/loki/api/v1/query_range?query=x",
            "/loki/api/v1/labels", "/loki/api/v1/label/level/values", "/nowhere",
        ] {
            #expect(!QueryRouter.isPointRead(uri), "\(uri)")
        }
    }

    @Test func v3AnomaliesAndBaselinesAnswerEmptyListsWithoutFlagsOr404() async throws {
        try await withRouter([SampleTrace.checkout()], now: fixtureNow) { router in
            let r = try await get(router, "/api/v3/traces/0102030405060708090a0b0c0d0e0f10/anomalies")
            #expect(r.status == 200)
            let result = try #require(r.json["result"] as? [String: Any])
            #expect(result["traceId"] as? String == "0102030405060708090a0b0c0d0e0f10")
            #expect((result["anomalies"] as? [Any])?.isEmpty == true)
            #expect(try await get(router, "/api/v3/traces/0102030405060708090a0b0c0d0e0f11/anomalies").status == 404)
            let baselines = try await get(router, "/api/v3/baselines?limit=5")
            #expect(baselines.status == 200)
            #expect(((baselines.json["result"] as? [String: Any])?["operations"] as? [Any]) != nil)
            #expect(QueryRouter.routeTemplate("/api/v3/traces/0102/anomalies") == "/api/v3/traces/{traceID}/anomalies")
            #expect(QueryRouter.routeTemplate("/api/v3/baselines?limit=3") == "/api/v3/baselines")
        }
    }

    @Test func searchMatchesServiceOperationTagsAndDurations() async throws {
        try await withRouter([SampleTrace.checkout()], now: fixtureNow) { router in
            func count(_ query: String) async -> Int {
                guard let r = try? await get(router, "/api/traces?" + query) else { return -2 }
                #expect(r.status == 200, "\(query): \(r.json)")
                return (r.json["data"] as? [Any])?.count ?? -1
            }
            #expect(await count("service=checkout") == 1)
            #expect(await count("service=payment&operation=charge") == 1)
            #expect(await count("service=payment&operation=GET+%2Fcart") == 0)
            #expect(await count("service=payment&minDuration=3ms&maxDuration=5ms") == 1)
            #expect(await count("service=payment&minDuration=5ms") == 0)
            #expect(await count("service=checkout&tags=%7B%22http.status_code%22%3A%22200%22%7D") == 1)
            #expect(await count("service=checkout&tag=http.method:GET") == 1)
            #expect(await count("service=checkout&tag=http.method:POST") == 0)
            #expect(await count("service=checkout&tag=host.name:h1") == 1)  // a resource attribute
            #expect(await count("service=payment&tag=error:true") == 1)
            #expect(await count("service=checkout&tag=error:true") == 0)
            #expect(await count("service=payment&tag=attempt:2") == 1)  // an event attribute
            // Every criterion on one span: the error is on payment, the status code tag on checkout.
            #expect(await count("service=checkout&tag=error:true&tag=http.method:GET") == 0)
            // An explicit time range (microseconds): around the fixture, and after it.
            #expect(await count("service=checkout&start=1714564700000000&end=1714564900000000") == 1)
            #expect(await count("service=checkout&start=1714564850000000") == 0)
        }
    }

    @Test func searchOutsideTheDefaultWindowFindsNothing() async throws {
        try await withRouter([SampleTrace.checkout()], now: fixtureNow + 3 * 86_400_000_000_000) { router in
            let r = try await get(router, "/api/traces?service=checkout")
            #expect((r.json["data"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func searchReturnsNewestFirstAndCapsTheLimit() async throws {
        var requests: [ExportTraceRequest] = []
        for i in 0..<5 {
            var t = SampleTrace.checkout()
            let id = Data((1...15).map { UInt8($0) }) + Data([UInt8(100 + i)])
            for r in t.resourceSpans.indices {
                for s in t.resourceSpans[r].scopeSpans.indices {
                    for k in t.resourceSpans[r].scopeSpans[s].spans.indices {
                        t.resourceSpans[r].scopeSpans[s].spans[k].traceID = id
                        t.resourceSpans[r].scopeSpans[s].spans[k].startTimeUnixNano += UInt64(i) * 1_000_000_000
                        t.resourceSpans[r].scopeSpans[s].spans[k].endTimeUnixNano += UInt64(i) * 1_000_000_000
                    }
                }
            }
            requests.append(t)
        }
        var config = QueryConfig()
        config.maxLimit = 3
        try await withRouter(requests, now: fixtureNow, config: config) { router in
            let r = try await get(router, "/api/traces?service=checkout&limit=100")
            let ids = (r.json["data"] as? [[String: Any]])?.compactMap { $0["traceID"] as? String }
            #expect(ids == ["0102030405060708090a0b0c0d0e0f68", "0102030405060708090a0b0c0d0e0f67", "0102030405060708090a0b0c0d0e0f66"])
            let two = try await get(router, "/api/traces?service=checkout&limit=2")
            #expect((two.json["data"] as? [Any])?.count == 2)
            let multi = try await get(router, "/api/traces?traceID=0102030405060708090a0b0c0d0e0f64&traceID=0102030405060708090a0b0c0d0e0f01")
            #expect((multi.json["data"] as? [Any])?.count == 1)
            let errors = try #require(multi.json["errors"] as? [[String: Any]])
            #expect(errors.count == 1)
            #expect(errors.first?["code"] as? Int == 404 && errors.first?["traceID"] as? String == "0102030405060708090a0b0c0d0e0f01")
        }
    }

    @Test(arguments: [
        ("/api/traces", "parameter 'service' is required"),
        ("/api/traces?service=a&minDuration=abc", "'minDuration'"),
        ("/api/traces?service=a&maxDuration=1x", "'maxDuration'"),
        ("/api/traces?service=a&minDuration=2s&maxDuration=1s", "'maxDuration'"),
        ("/api/traces?service=a&start=yesterday", "'start'"),
        ("/api/traces?service=a&end=-5", "'end'"),
        ("/api/traces?service=a&start=20&end=10", "'end'"),
        ("/api/traces?service=a&limit=-1", "'limit'"),
        ("/api/traces?service=a&limit=many", "'limit'"),
        ("/api/traces?service=a&tags=%7Bbroken", "'tags'"),
        ("/api/traces?service=a&tag=nocolon", "'tag'"),
        ("/api/traces?traceID=zz", "'traceID'"),
        ("/api/operations", "parameter 'service' is required"),
        ("/api/operations?service=a&spanKind=sideways", "'spanKind'"),
        ("/api/dependencies?endTs=soon", "'endTs'"),
        ("/api/dependencies?lookback=-1", "'lookback'"),
    ])
    func badInputIs400NamingTheParameter(uri: String, expected: String) async throws {
        try await withRouter([], now: fixtureNow) { router in
            let r = try await get(router, uri)
            #expect(r.status == 400)
            #expect(r.json["data"] is NSNull)
            let message = (r.json["errors"] as? [[String: Any]])?.first?["msg"] as? String ?? ""
            #expect(message.contains(expected), "\(message)")
            #expect((r.json["errors"] as? [[String: Any]])?.first?["code"] as? Int == 400)
        }
    }

    @Test(arguments: [
        ("/api/v3/traces", "query.service_name"),
        ("/api/v3/traces?query.service_name=a&query.duration_min=zz", "query.duration_min"),
        ("/api/v3/traces?query.service_name=a&query.start_time_min=yesterday", "query.start_time_min"),
        ("/api/v3/traces?query.service_name=a&query.attributes=nope", "query.attributes"),
        ("/api/v3/traces?query.service_name=a&query.search_depth=x", "query.search_depth"),
        ("/api/v3/traces/nothex", "trace_id"),
        ("/api/v3/operations?service=a&span_kind=up", "span_kind"),
        ("/api/v3/traces/nothex/anomalies", "trace_id"),
        ("/api/v3/baselines?limit=0", "limit"),
        ("/api/v3/baselines?limit=many", "limit"),
    ])
    func v3BadInputIs400NamingTheParameter(uri: String, expected: String) async throws {
        try await withRouter([], now: fixtureNow) { router in
            let r = try await get(router, uri)
            #expect(r.status == 400)
            let error = r.json["error"] as? [String: Any]
            #expect(error?["httpCode"] as? Int == 400)
            let message = error?["message"] as? String ?? ""
            #expect(message.contains(expected))
        }
    }

    @Test func v3SearchCombinesTracesAndSays404WhenNothingMatches() async throws {
        try await withRouter([SampleTrace.checkout()], now: fixtureNow) { router in
            let r = await router.handle(
                method: .GET, uri: "/api/v3/traces?query.service_name=payment&query.attributes=%7B%22error%22%3A%22true%22%7D&query.duration_min=1ms")
            #expect(r.status == .ok)
            let object = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any]
            #expect(((object?["result"] as? [String: Any])?["resourceSpans"] as? [Any])?.count == 2)
            let none = try await get(router, "/api/v3/traces?query.service_name=nobody")
            #expect(none.status == 404)
            #expect((none.json["error"] as? [String: Any])?["message"] as? String == "No traces found")
            let timed = await router.handle(
                method: .GET,
                uri:
                    "/api/v3/traces?query.service_name=checkout&query.start_time_min=2024-05-01T11:59:00Z&query.start_time_max=2024-05-01T12:01:00.5Z"
            )
            #expect(timed.status == .ok)
        }
    }

    @Test func dependenciesCountCallsAndFailedCallsAcrossServices() async throws {
        try await withRouter([SampleTrace.checkout()], now: fixtureNow) { router in
            let r = try await get(router, "/api/dependencies?endTs=\(fixtureNow / 1_000_000)&lookback=3600000")
            #expect(r.status == 200)
            let links = try #require(r.json["data"] as? [[String: Any]])
            #expect(links.count == 1)
            #expect(links.first?["parent"] as? String == "checkout" && links.first?["child"] as? String == "payment")
            #expect(links.first?["callCount"] as? Int == 1)
            #expect(links.first?["errorCount"] as? Int == 1)  // the payment span failed
        }
    }

    @Test func healthMethodsUnknownPathsAndLongTargets() async throws {
        try await withRouter([], now: fixtureNow) { router in
            let health = try await get(router, "/health")
            #expect(health.json["status"] as? String == "ok")
            let post = await router.handle(method: .POST, uri: "/api/services")
            #expect(post.status == .methodNotAllowed)
            let unknown = try await get(router, "/api/nothing")
            #expect(unknown.status == 404)
            let unknownV3 = try await get(router, "/api/v3/nothing")
            #expect(unknownV3.status == 404)
            let long = try await get(router, "/api/traces?service=" + String(repeating: "a", count: 20_000))
            #expect(long.status == 414)
        }
    }

    @Test func aTimeBudgetCutsATagScanShortAndSaysSo() async throws {
        // 20,000 spans that all have the tag key but never the value: the scan must read them all.
        var request = SpanFactoryLike.many(service: "busy", spans: 20_000, start: UInt64(fixtureNow) - 1_000_000_000)
        request.resourceSpans[0].resource.attributes.append(KeyValue())
        var config = QueryConfig()
        config.timeBudget = .milliseconds(10)
        try await withRouter([request], now: fixtureNow, config: config) { router in
            let r = try await get(router, "/api/traces?service=busy&tag=http.route:never")
            #expect(r.status == 200)
            if r.headers.contains(where: { $0.0 == "Otelsink-Search-Incomplete" }) {
                let e = (r.json["errors"] as? [[String: Any]])?.first
                #expect(e?["code"] as? Int == 206)
            }
        }
    }
}

enum SpanFactoryLike {
    static func many(service: String, spans: Int, start: UInt64) -> ExportTraceRequest {
        var rs = ResourceSpans()
        var kv = KeyValue()
        kv.key = "service.name"
        kv.value = .string(service)
        rs.resource.attributes = [kv]
        var ss = ScopeSpans()
        // IDs drawn from the service and start, so that every call makes its own and a run repeats exactly.
        var random = SplitMix64(seed: service.utf8.reduce(start) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 })
        for i in 0..<spans {
            var s = Span()
            s.traceID = Data((0..<16).map { _ in UInt8(1 + random.below(255)) })
            s.spanID = Data((0..<8).map { _ in UInt8(1 + random.below(255)) })
            s.name = "op"
            s.startTimeUnixNano = start + UInt64(i)
            s.endTimeUnixNano = s.startTimeUnixNano + 1000
            var a = KeyValue()
            a.key = "http.route"
            a.value = .string("/r/\(i)")
            s.attributes = [a]
            ss.spans.append(s)
        }
        rs.scopeSpans = [ss]
        var r = ExportTraceRequest()
        r.resourceSpans = [rs]
        return r
    }
}

@Suite struct QueryConfigTests {
    func load(_ yaml: String) -> (CollectorConfig?, String) {
        do {
            return (try CollectorConfig.load(yaml: yaml, environment: [:], registry: .builtin), "")
        } catch {
            return (nil, "\(error)")
        }
    }

    let pipelines = """
        receivers: { otlp: { protocols: { grpc: { endpoint: "127.0.0.1:0" } } } }
        exporters: { sqlite: { path: /tmp/x.db }, debug: {} }
        service:
          pipelines: { traces: { receivers: [otlp], exporters: [sqlite, debug] } }

        """

    @Test func theQueryExtensionReadsItsSettingsWithDefaults() throws {
        let (config, problems) = load(
            pipelines + """
                extensions: { query: { endpoint: "127.0.0.1:0", max_limit: 50 } }
                """)
        #expect(problems == "")
        let q = try #require(config?.extensions[ComponentID(type: "query")]?.config as? QueryConfig)
        #expect(q.maxLimit == 50 && q.defaultLimit == 20 && q.storage == "sqlite" && q.endpoint.port == 0)
        #expect(config?.serviceExtensions.isEmpty == true)  // defined, but only service.extensions runs it
    }

    @Test func storageMustNameADefinedSqliteExporter() {
        let (_, unknown) = load(pipelines + "extensions: { query: { storage: sqlite/other } }\n")
        #expect(unknown.contains("extensions::query::storage"))
        #expect(unknown.contains("not defined under exporters"))
        let (_, wrongType) = load(pipelines + "extensions: { query: { storage: debug } }\n")
        #expect(wrongType.contains("extensions::query::storage"))
        #expect(wrongType.contains("exporter \"debug\" is of type debug, which cannot serve queries"))
    }

    @Test func badSettingsAreReportedWithTheirPaths() {
        let (_, problems) = load(
            pipelines + """
                extensions: { query: { endpoint: "nowhere", default_limit: 500, max_limit: 100, time_budget: soon, colour: red } }
                """)
        for path in [
            "extensions::query::endpoint", "extensions::query::default_limit", "extensions::query::time_budget", "extensions::query::colour",
        ] {
            #expect(problems.contains(path), "\(path) in \(problems)")
        }
    }

    @Test func serviceExtensionsMustBeDefinedAndListedOnce() {
        let (_, problems) = load(
            pipelines.replacingOccurrences(of: "service:\n", with: "service:\n  extensions: [query, query, nope]\n")
                + "extensions: { query: {} }\n")
        #expect(problems.contains("service::extensions::1"))
        #expect(problems.contains("service::extensions::2"))
    }
}
