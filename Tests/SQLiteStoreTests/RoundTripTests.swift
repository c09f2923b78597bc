import CollectorCore
import Foundation
import GRDB
import OTLP
@testable import SQLiteStore
import Testing

@Suite("Lossless round trip")
struct RoundTripTests {
    /// Attributes holding every AnyValue kind, nested arrays and key-value lists included.
    static func everyValueKind(_ prefix: String) -> [KeyValue] {
        var s = AnyValue(); s.stringValue = "\(prefix)-héllo ✓"
        var b = AnyValue(); b.boolValue = true
        var f = AnyValue(); f.boolValue = false
        var i = AnyValue(); i.intValue = Int64.min
        var d = AnyValue(); d.doubleValue = -1234.5678e-9
        var by = AnyValue(); by.bytesValue = Data([0, 1, 2, 0xFF, 0x80])
        var inner = AnyValue(); inner.arrayValue.values = [.string("x"), i, d]
        var arr = AnyValue(); arr.arrayValue.values = [s, b, inner, AnyValue()]
        var deep = AnyValue(); deep.kvlistValue.values = [attribute("leaf", by), attribute("list", inner)]
        var kvl = AnyValue(); kvl.kvlistValue.values = [attribute("nested", deep), attribute("n", i), attribute("empty", AnyValue())]
        var emptyArray = AnyValue(); emptyArray.arrayValue = .init()
        var emptyList = AnyValue(); emptyList.kvlistValue = .init()
        return [
            attribute("\(prefix).string", s), attribute("\(prefix).bool", b), attribute("\(prefix).false", f),
            attribute("\(prefix).int", i), attribute("\(prefix).double", d), attribute("\(prefix).bytes", by),
            attribute("\(prefix).array", arr), attribute("\(prefix).kvlist", kvl),
            attribute("\(prefix).empty_array", emptyArray), attribute("\(prefix).empty_kvlist", emptyList),
        ]
    }

    static func fullSpan(trace: Data, name: String, start: UInt64, parent: Data, index: Int) -> Span {
        var span = Span()
        span.traceID = trace
        span.spanID = randomBytes(8)
        span.traceState = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
        span.parentSpanID = parent
        span.flags = 0x301
        span.name = name
        span.kind = [.server, .client, .producer, .consumer, .internal][index % 5]
        span.startTimeUnixNano = start
        span.endTimeUnixNano = start + 12_345_678
        span.attributes = everyValueKind("span\(index)")
        span.droppedAttributesCount = 7
        var e1 = Span.Event()
        e1.timeUnixNano = start + 1000
        e1.name = "exception"
        e1.attributes = [stringAttribute("exception.type", "IOError"), stringAttribute("exception.message", "disk\nfull")]
        e1.droppedAttributesCount = 2
        var e2 = Span.Event()
        e2.timeUnixNano = start + 2000
        e2.name = "retry"
        e2.attributes = everyValueKind("event")
        span.events = [e1, e2]
        span.droppedEventsCount = 3
        var link = Span.Link()
        link.traceID = randomBytes(16)
        link.spanID = randomBytes(8)
        link.traceState = "vendor=value"
        link.attributes = everyValueKind("link")
        link.droppedAttributesCount = 4
        link.flags = 0x101
        span.links = [link]
        span.droppedLinksCount = 5
        span.status.code = index % 2 == 0 ? .error : .ok
        span.status.message = "status of \(name)"
        return span
    }

    /// Two resources, two scopes each with every field set; spans of trace `t` and of a second trace `u`.
    static func fullRequest(t: Data, u: Data, base: UInt64) -> ExportTraceRequest {
        let root = randomBytes(8)
        func span(_ trace: Data, _ name: String, _ offset: UInt64, _ index: Int, root isRoot: Bool = false) -> Span {
            var s = fullSpan(trace: trace, name: name, start: base + offset, parent: isRoot ? Data() : root, index: index)
            if isRoot { s.spanID = root }
            return s
        }
        var r1 = ResourceSpans()
        r1.resource.attributes = [stringAttribute("service.name", "frontend")] + everyValueKind("res1")
        r1.resource.droppedAttributesCount = 11
        r1.schemaURL = "https://opentelemetry.io/schemas/1.21.0"
        var s1 = ScopeSpans()
        s1.scope.name = "io.opentelemetry.http"
        s1.scope.version = "1.2.3"
        s1.scope.attributes = everyValueKind("scope1")
        s1.scope.droppedAttributesCount = 2
        s1.schemaURL = "https://opentelemetry.io/schemas/1.20.0"
        s1.spans = [span(t, "GET /", 0, 0, root: true), span(u, "other-1", 500, 1), span(t, "render", 1_000, 2)]
        var s2 = ScopeSpans()
        s2.scope.name = "io.opentelemetry.db"
        s2.scope.version = "0.9"
        s2.spans = [span(t, "SELECT", 2_000, 3)]
        r1.scopeSpans = [s1, s2]

        var r2 = ResourceSpans()
        r2.resource.attributes = [stringAttribute("service.name", "backend"), stringAttribute("host.name", "b-1")]
        r2.schemaURL = "https://opentelemetry.io/schemas/1.19.0"
        var s3 = s1  // the same scope as in r1, under another resource
        s3.spans = [span(t, "handle", 3_000, 4), span(u, "other-2", 3_500, 5), span(t, "", 4_000, 6)]
        var s4 = ScopeSpans()
        s4.scope.name = "io.opentelemetry.grpc"
        s4.scope.attributes = [stringAttribute("k", "v")]
        s4.spans = [span(t, "rpc", 5_000, 7)]
        r2.scopeSpans = [s3, s4]

        var request = ExportTraceRequest()
        request.resourceSpans = [r1, r2]
        return request
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

    @Test func everyFieldSurvivesStorage() async throws {
        try await withTemporaryDirectory { dir in
            let t = randomBytes(16), u = randomBytes(16)
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

            let durations = try await store.pool.read { db in
                var out: [String: Int64] = [:]
                for b in try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions") {
                    for row in try Row.fetchAll(db, sql: "SELECT name, duration_ns FROM \(SQLiteSchema.spansTable(b))") {
                        let name: String = row[0]
                        let duration: Int64 = row[1]
                        out[name] = duration
                    }
                }
                return out
            }
            // start > end stores duration 0; "huge" is clamped to Int64.max at both ends.
            #expect(durations == ["": 0, "zero": 0, "normal": 1_000_000, "huge": 0])
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
