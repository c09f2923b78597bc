import Foundation
import GRDB
import NIOHTTP1
import OTLP
import Testing

@testable import QueryAPI
@testable import SQLiteStore

// Loki's HTTP API end to end, through `QueryRouter.handle` over a real store: a handful of log records at fixed
// times around an hour boundary, answers compared as parsed JSON structures (or exact text where the text is the
// point), errors as Loki's plain-text 400s.

// MARK: - JSON, compared structurally

/// A parsed JSON value with literals for the expected side, so a mismatch prints both as JSON.
enum LokiJSON: Equatable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    case null
    case number(Double)
    case string(String)
    case array([LokiJSON])
    case object([String: LokiJSON])

    init(parsing any: Any) {
        switch any {
        case let s as String: self = .string(s)
        case let n as NSNumber: self = .number(n.doubleValue)
        case let a as [Any]: self = .array(a.map(LokiJSON.init(parsing:)))
        case let o as [String: Any]: self = .object(o.mapValues(LokiJSON.init(parsing:)))
        default: self = .null
        }
    }

    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int) { self = .number(Double(value)) }
    init(floatLiteral value: Double) { self = .number(value) }
    init(arrayLiteral elements: LokiJSON...) { self = .array(elements) }
    init(dictionaryLiteral elements: (String, LokiJSON)...) { self = .object(Dictionary(elements, uniquingKeysWith: { a, _ in a })) }
    init(nilLiteral: ()) { self = .null }

    static func labels(_ l: [String: String]) -> LokiJSON { .object(l.mapValues(LokiJSON.string)) }

    subscript(key: String) -> LokiJSON {
        if case .object(let o) = self { return o[key] ?? .null }
        return .null
    }

    var items: [LokiJSON] {
        if case .array(let a) = self { return a }
        return []
    }

    var keys: Set<String> {
        if case .object(let o) = self { return Set(o.keys) }
        return []
    }

    var description: String {
        switch self {
        case .null: return "null"
        case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .string(let s):
            let data = (try? JSONSerialization.data(withJSONObject: [s], options: [.fragmentsAllowed])) ?? Data()
            return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
        case .array(let a): return "[" + a.map(\.description).joined(separator: ",") + "]"
        case .object(let o):
            return "{"
                + o.sorted { $0.key < $1.key }.map { LokiJSON.string($0.key).description + ":" + $0.value.description }
                .joined(separator: ",") + "}"
        }
    }
}

// MARK: - The fixture

/// One stored record as the API should show it: its time, line, stream labels and structured metadata.
struct LokiRecord: Sendable {
    let nanos: Int64
    let line: String
    let stream: [String: String]
    let metadata: [String: String]

    /// `["<ns>", "<line>"]`.
    var value: LokiJSON { [.string(String(nanos)), .string(line)] }
    /// With `categorize-labels`: `["<ns>", "<line>", {"structuredMetadata": {…}}]`, `{}` without metadata.
    var categorizedValue: LokiJSON {
        [.string(String(nanos)), .string(line), metadata.isEmpty ? [:] : ["structuredMetadata": .labels(metadata)]]
    }
    /// The labels naming its stream without `categorize-labels` (Loki 3): stream labels and metadata.
    var labels: [String: String] { stream.merging(metadata) { a, _ in a } }
}

enum LokiFixture {
    static let second: Int64 = 1_000_000_000
    /// 2024-05-01T12:00:00Z, an hour (partition) boundary.
    static let t0: Int64 = 1_714_564_800 * second
    static let t0Seconds: Int64 = 1_714_564_800
    /// The pinned clock: ten minutes into the hour.
    static let now = t0 + 600 * second
    static func at(_ seconds: Int64) -> Int64 { t0 + seconds * second }

    static let traceHex = "0102030405060708090a0b0c0d0e0f10"
    static let loadedSpanHex = "a100000000000001"
    static let failedSpanHex = "b200000000000002"

    // Stream labels, written out by hand: service_name, level, scope_name, resource attributes (dots → `_`).
    static let checkoutInfo = [
        "deployment_environment": "prod", "level": "INFO", "note": #"say "hi""#, "scope_name": "cart.logger", "service_name": "checkout",
    ]
    static let checkoutError = checkoutInfo.merging(["level": "ERROR"]) { _, b in b }
    /// Severity number 13 without text: `warn`.
    static let paymentWarn = [
        "deployment_environment": "prod", "level": "warn", "note": "café ✓", "scope_name": "pay.logger", "service_name": "payment",
    ]
    static let paymentInfo = paymentWarn.merging(["level": "INFO"]) { _, b in b }
    /// No scope name: no `scope_name` label; severity number 5 without text: `debug`.
    static let legacyDebug = ["deployment_environment": "staging", "level": "debug", "note": "line1\nline2", "service_name": "legacy"]

    // The records, oldest first. Only `legacyBoot` is in the previous hour's partition.
    static let legacyBoot = LokiRecord(nanos: at(-1800), line: "legacy boot", stream: legacyDebug, metadata: [:])
    static let cartLoaded = LokiRecord(
        nanos: at(60) + 1, line: "cart loaded items=3", stream: checkoutInfo,
        metadata: [
            "http_method": "GET", "user": #"ada "the countess""#, "trace_id": traceHex, "span_id": loadedSpanHex,
        ])
    static let paymentFailed = LokiRecord(
        nanos: at(120), line: "payment failed: timeout", stream: checkoutError,
        metadata: [
            "http_method": "POST", "trace_id": traceHex, "span_id": failedSpanHex,
        ])
    static let retrying = LokiRecord(nanos: at(180), line: "retrying café ✓", stream: paymentWarn, metadata: ["attempt": "2"])
    static let chargeOK = LokiRecord(nanos: at(240), line: "charge ok\nsecond line", stream: paymentInfo, metadata: [:])
    static let chargeAgain = LokiRecord(nanos: at(270), line: "charge ok again", stream: paymentInfo, metadata: [:])
    static let cartEmptied = LokiRecord(nanos: at(300), line: "cart emptied", stream: checkoutInfo, metadata: ["user": "zoë"])

    /// `count` INFO records of service `bulk`, record `i` at `time(i)` with body `line(i)`.
    static func bulk(_ count: Int, time: (Int) -> Int64, line: (Int) -> String) -> ExportLogsRequest {
        var rl = ResourceLogs()
        rl.resource.attributes = [kv("service.name", .string("bulk"))]
        var sl = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        sl.logRecords = (0..<count).map { i in
            var r = LogRecord()
            r.timeUnixNano = UInt64(time(i))
            r.severityText = "INFO"
            r.body = .string(line(i))
            return r
        }
        rl.scopeLogs = [sl]
        var request = ExportLogsRequest()
        request.resourceLogs = [rl]
        return request
    }

    /// The Loki answer holding records `indices` of ``bulk(_:time:line:)``, in that order.
    static func bulkValues(_ indices: [Int], time: (Int) -> Int64, line: (Int) -> String) -> LokiJSON {
        let labels = ["level": "INFO", "service_name": "bulk"]
        return [stream(labels, indices.map { LokiRecord(nanos: time($0), line: line($0), stream: labels, metadata: [:]) })]
    }

    static func kv(_ key: String, _ value: AnyValue) -> KeyValue {
        var x = KeyValue()
        x.key = key
        x.value = value
        return x
    }

    static func requests() -> [ExportLogsRequest] {
        func int(_ i: Int64) -> AnyValue {
            var v = AnyValue()
            v.intValue = i
            return v
        }
        func record(_ r: LokiRecord, severity: Int, text: String, attributes: [KeyValue] = [], trace: String? = nil, span: String? = nil) -> LogRecord
        {
            var l = LogRecord()
            l.timeUnixNano = UInt64(r.nanos)
            l.observedTimeUnixNano = UInt64(r.nanos) + 7
            l.severityNumber = Opentelemetry_Proto_Logs_V1_SeverityNumber(rawValue: severity) ?? .unspecified
            l.severityText = text
            l.body = .string(r.line)
            l.attributes = attributes
            if let trace { l.traceID = hex(trace) }
            if let span { l.spanID = hex(span) }
            return l
        }
        func resourceLogs(_ attributes: [KeyValue], scope: String, _ records: [LogRecord]) -> ResourceLogs {
            var rl = ResourceLogs()
            rl.resource.attributes = attributes
            var sl = Opentelemetry_Proto_Logs_V1_ScopeLogs()
            sl.scope.name = scope
            sl.logRecords = records
            rl.scopeLogs = [sl]
            return rl
        }
        let checkout = resourceLogs(
            [kv("service.name", .string("checkout")), kv("deployment.environment", .string("prod")), kv("note", .string(#"say "hi""#))],
            scope: "cart.logger",
            [
                record(
                    cartLoaded, severity: 9, text: "INFO",
                    attributes: [kv("http.method", .string("GET")), kv("user", .string(#"ada "the countess""#))],
                    trace: traceHex, span: loadedSpanHex),
                record(
                    paymentFailed, severity: 17, text: "ERROR", attributes: [kv("http.method", .string("POST"))], trace: traceHex, span: failedSpanHex
                ),
                record(cartEmptied, severity: 9, text: "INFO", attributes: [kv("user", .string("zoë"))]),
            ])
        let payment = resourceLogs(
            [kv("service.name", .string("payment")), kv("deployment.environment", .string("prod")), kv("note", .string("café ✓"))],
            scope: "pay.logger",
            [
                record(retrying, severity: 13, text: "", attributes: [kv("attempt", int(2))]),
                record(chargeOK, severity: 9, text: "INFO"),
                record(chargeAgain, severity: 9, text: "INFO"),
            ])
        let legacy = resourceLogs(
            [kv("service.name", .string("legacy")), kv("deployment.environment", .string("staging")), kv("note", .string("line1\nline2"))],
            scope: "", [record(legacyBoot, severity: 5, text: "")])
        var first = ExportLogsRequest()
        first.resourceLogs = [checkout, payment]
        var second = ExportLogsRequest()
        second.resourceLogs = [legacy]
        return [first, second]
    }

    static func hex(_ s: String) -> Data {
        var out = Data()
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16) ?? 0)
            i = j
        }
        return out
    }
}

/// A store in a temporary directory holding the fixture, and a router over it with the clock pinned.
private func withLokiRouter(_ requests: [ExportLogsRequest] = LokiFixture.requests(), _ body: (QueryRouter) async throws -> Void) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("otelsink-loki-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    var config = SQLiteStoreConfig(path: dir.appendingPathComponent("logs.db").path)
    config.retention = .seconds(1_000_000_000)  // keep the fixed 2024 timestamps in their partitions
    config.partition = .seconds(3600)
    let store = try SQLiteTraceStore(config: config)
    for r in requests { try await store.append(r) }
    let router = QueryRouter(service: TraceQueryService(reader: TraceReader(store: store), config: QueryConfig()), now: { LokiFixture.now })
    do {
        try await body(router)
    } catch {
        await store.close()
        throw error
    }
    await store.close()
}

private struct LokiReply {
    var status: Int
    var contentType: String
    var text: String
    var json: LokiJSON
    var data: LokiJSON { json["data"] }
    var result: LokiJSON { json["data"]["result"] }
}

private let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

/// `path?name=value&…` with every name and value percent-encoded (all but RFC 3986's unreserved characters).
private func uri(_ path: String, _ parameters: [(String, String)]) -> String {
    guard !parameters.isEmpty else { return path }
    func encode(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? s }
    return path + "?" + parameters.map { encode($0.0) + "=" + encode($0.1) }.joined(separator: "&")
}

private func loki(_ router: QueryRouter, _ path: String, _ parameters: [(String, String)] = [], headers: [(String, String)] = []) async -> LokiReply {
    let r = await router.handle(method: .GET, uri: uri(path, parameters), headers: headers)
    let text = String(decoding: r.body, as: UTF8.self)
    let json = (try? JSONSerialization.jsonObject(with: Data(r.body), options: [.fragmentsAllowed])).map(LokiJSON.init(parsing:)) ?? .null
    return LokiReply(status: Int(r.status.code), contentType: r.contentType, text: text, json: json)
}

/// Nanoseconds as a request parameter.
private func ns(_ nanos: Int64) -> String { String(nanos) }

/// A stream of a log query's answer.
private func stream(_ labels: [String: String], _ records: [LokiRecord], categorized: Bool = false) -> LokiJSON {
    ["stream": .labels(labels), "values": .array(records.map { categorized ? $0.categorizedValue : $0.value })]
}

/// The stream of one record named by its labels and metadata (Loki 3 without `categorize-labels`).
private func own(_ r: LokiRecord) -> LokiJSON { stream(r.labels, [r]) }

/// A matrix series: `{"metric": {…}, "values": [[<s>, "<v>"], …]}`, times in seconds after the fixture's hour.
private func series(_ labels: [String: String], _ points: [(Int64, String)]) -> LokiJSON {
    ["metric": .labels(labels), "values": .array(points.map { [.number(Double(LokiFixture.t0Seconds + $0.0)), .string($0.1)] })]
}

private let summaryFields: Set<String> = [
    "bytesProcessedPerSecond", "linesProcessedPerSecond", "totalBytesProcessed", "totalLinesProcessed", "execTime", "queueTime",
    "subqueries", "totalEntriesReturned", "splits", "shards", "totalPostFilterLines", "totalStructuredMetadataBytesProcessed",
]

private typealias F = LokiFixture

@Suite("LokiAPI") struct LokiAPITests {
    // MARK: Labels, label values, series

    @Test func labelsListEveryStreamLabelNameOrThoseOfTheSelectedStreams() async throws {
        try await withLokiRouter { router in
            let all = await loki(router, "/loki/api/v1/labels")
            #expect(all.status == 200 && all.contentType == "application/json")
            #expect(all.json == ["status": "success", "data": ["deployment_environment", "level", "note", "scope_name", "service_name"]])
            // The legacy stream has no scope name.
            let legacy = await loki(router, "/loki/api/v1/labels", [("query", #"{service_name="legacy"}"#)])
            #expect(legacy.json == ["status": "success", "data": ["deployment_environment", "level", "note", "service_name"]])
            let none = await loki(router, "/loki/api/v1/labels", [("query", #"{service_name="nobody"}"#)])
            #expect(none.json == ["status": "success", "data": []])
        }
    }

    @Test func labelValuesAreSortedAndEscapedAsJSON() async throws {
        try await withLokiRouter { router in
            // Quotes, non-ASCII and a newline: the exact text (UTF-8 as is, `"` and newline escaped).
            let notes = await loki(router, "/loki/api/v1/label/note/values")
            #expect(notes.status == 200)
            #expect(notes.text == #"{"status":"success","data":["café ✓","line1\nline2","say \"hi\""]}"#)
            #expect(notes.json["data"] == ["café ✓", "line1\nline2", #"say "hi""#])

            let levels = await loki(router, "/loki/api/v1/label/level/values")
            #expect(levels.json["data"] == ["ERROR", "INFO", "debug", "warn"])
            let infoServices = await loki(router, "/loki/api/v1/label/service_name/values", [("query", #"{level="INFO"}"#)])
            #expect(infoServices.json["data"] == ["checkout", "payment"])
            let byQuotedValue = await loki(router, "/loki/api/v1/label/service_name/values", [("query", #"{note="say \"hi\""}"#)])
            #expect(byQuotedValue.json["data"] == ["checkout"])
            let unknown = await loki(router, "/loki/api/v1/label/no_such_label/values")
            #expect(unknown.json == ["status": "success", "data": []])
        }
    }

    @Test func startAndEndLeaveOutPartitionsOutsideThem() async throws {
        try await withLokiRouter { router in
            // From the hour boundary: the previous hour's partition (legacy, debug) is out.
            let recent = await loki(router, "/loki/api/v1/label/level/values", [("start", ns(F.t0))])
            #expect(recent.json["data"] == ["ERROR", "INFO", "warn"])
            // Up to just before it: only the previous hour's partition.
            let older = await loki(router, "/loki/api/v1/label/level/values", [("end", ns(F.t0 - 1))])
            #expect(older.json["data"] == ["debug"])
            let olderLabels = await loki(router, "/loki/api/v1/labels", [("start", ns(F.at(-3600))), ("end", ns(F.t0 - 1))])
            #expect(olderLabels.json["data"] == ["deployment_environment", "level", "note", "service_name"])
        }
    }

    @Test func seriesWithOneAndTwoMatchersAndBounds() async throws {
        try await withLokiRouter { router in
            func sets(_ reply: LokiReply) -> Set<[String: String]> {
                Set(
                    reply.data.items.map { item -> [String: String] in
                        guard case .object(let o) = item else { return [:] }
                        return o.compactMapValues { value -> String? in
                            guard case .string(let s) = value else { return nil }
                            return s
                        }
                    })
            }
            let one = await loki(router, "/loki/api/v1/series", [("match[]", #"{service_name="checkout"}"#)])
            #expect(one.status == 200 && one.json["status"] == "success")
            #expect(one.data.items.count == 2)
            #expect(sets(one) == [F.checkoutInfo, F.checkoutError])

            let two = await loki(
                router, "/loki/api/v1/series",
                [
                    ("match[]", #"{service_name="checkout", level="ERROR"}"#), ("match[]", #"{service_name="payment"}"#),
                ])
            #expect(two.data.items.count == 3)
            #expect(sets(two) == [F.checkoutError, F.paymentWarn, F.paymentInfo])

            let everything = #"{deployment_environment=~".+"}"#
            let all = await loki(router, "/loki/api/v1/series", [("match[]", everything)])
            #expect(sets(all) == [F.checkoutInfo, F.checkoutError, F.paymentWarn, F.paymentInfo, F.legacyDebug])
            let before = await loki(router, "/loki/api/v1/series", [("match[]", everything), ("end", ns(F.t0 - 1))])
            #expect(sets(before) == [F.legacyDebug])
            let after = await loki(router, "/loki/api/v1/series", [("match[]", everything), ("start", ns(F.t0))])
            #expect(sets(after) == [F.checkoutInfo, F.checkoutError, F.paymentWarn, F.paymentInfo])
        }
    }

    // MARK: Log queries

    @Test func streamSelectorsOfEveryOperator() async throws {
        try await withLokiRouter { router in
            func result(_ query: String, _ more: [(String, String)] = []) async -> LokiJSON {
                let r = await loki(router, "/loki/api/v1/query_range", [("query", query)] + more)
                #expect(r.status == 200, "\(query): \(r.text)")
                #expect(r.json["status"] == "success" && r.data["resultType"] == "streams", "\(query)")
                #expect(r.data["stats"]["summary"].keys == summaryFields, "\(query)")
                #expect(r.data["encodingFlags"] == nil, "\(query)")
                return r.result
            }
            // `=`, backward (the default): streams by label text; each record its own stream (its metadata differ).
            #expect(await result(#"{service_name="checkout"}"#) == [own(F.cartLoaded), own(F.paymentFailed), own(F.cartEmptied)])
            // `!=` with an `=` (a selector must have a matcher that does not match "").
            #expect(
                await result(#"{deployment_environment="prod", service_name!="checkout"}"#)
                    == [own(F.retrying), stream(F.paymentInfo, [F.chargeAgain, F.chargeOK])])
            // `=~`, anchored; the default range (an hour before now) reaches into the previous partition.
            #expect(
                await result(#"{service_name=~"check.*|leg.*"}"#)
                    == [own(F.cartLoaded), own(F.paymentFailed), own(F.cartEmptied), own(F.legacyBoot)])
            #expect(await result(#"{service_name=~"heck"}"#) == [])
            // `!~`.
            #expect(await result(#"{level!~"INFO|ERROR", service_name=~".+"}"#) == [own(F.retrying), own(F.legacyBoot)])
            // A label value with quotes, selected through its escaped form.
            #expect(await result(#"{note="say \"hi\"", level="ERROR"}"#) == [own(F.paymentFailed)])
            #expect(
                await result(#"{note=~"caf. ✓"}"#, [("direction", "forward")])
                    == [own(F.retrying), stream(F.paymentInfo, [F.chargeOK, F.chargeAgain])])
        }
    }

    @Test func chainedLineFiltersAndLabelFilters() async throws {
        try await withLokiRouter { router in
            func result(_ query: String) async -> LokiJSON {
                let r = await loki(router, "/loki/api/v1/query_range", [("query", query), ("direction", "forward")])
                #expect(r.status == 200, "\(query): \(r.text)")
                return r.result
            }
            // |= "a" keeps all six prod lines, != drops the timeout, |~ (unanchored) keeps cart… and café, !~ drops "emptied".
            #expect(
                await result(#"{deployment_environment="prod"} |= "a" != "timeout" |~ "ca(rt|fé)" !~ "emp+tied""#)
                    == [own(F.retrying), own(F.cartLoaded)])
            #expect(await result(#"{deployment_environment="prod"} |= "ok\nsecond""#) == [stream(F.paymentInfo, [F.chargeOK])])
            #expect(await result(#"{deployment_environment="prod"} |= "✓""#) == [own(F.retrying)])
            #expect(await result(#"{deployment_environment="prod"} |= "nothing like this""#) == [])

            // Label filters on record attributes (names sanitized), anchored regexes, quotes in values.
            #expect(await result(#"{service_name="checkout"} | http_method="POST""#) == [own(F.paymentFailed)])
            #expect(await result(#"{service_name="checkout"} | user=~"zo.*""#) == [own(F.cartEmptied)])
            #expect(await result(#"{service_name="checkout"} | user=~"zo""#) == [])
            #expect(await result(#"{service_name="checkout"} | user="ada \"the countess\"""#) == [own(F.cartLoaded)])
            #expect(await result(#"{service_name="checkout"} | user!="""#) == [own(F.cartLoaded), own(F.cartEmptied)])
            #expect(await result(#"{service_name="payment"} | attempt="2""#) == [own(F.retrying)])
            #expect(await result(#"{service_name="checkout"} | http_method="GET" or user="zoë""#) == [own(F.cartLoaded), own(F.cartEmptied)])

            // Trace and span IDs as metadata, in lower-case hex; an upper-case ID is another string, as in Loki.
            #expect(await result(#"{deployment_environment="prod"} | trace_id="\#(F.traceHex)""#) == [own(F.cartLoaded), own(F.paymentFailed)])
            #expect(
                await result(#"{deployment_environment="prod"} | trace_id="\#(F.traceHex)" | span_id="\#(F.failedSpanHex)""#)
                    == [own(F.paymentFailed)])
            #expect(await result(#"{deployment_environment="prod"} | trace_id="\#(F.traceHex.uppercased())""#) == [])
            #expect(await result(#"{deployment_environment="prod"} |= "cart" | trace_id="\#(F.traceHex)""#) == [own(F.cartLoaded)])
            #expect(await result(#"{deployment_environment="prod"} | trace_id!="\#(F.traceHex)" |= "cart""#) == [own(F.cartEmptied)])
        }
    }

    @Test func limitDirectionAndBounds() async throws {
        try await withLokiRouter { router in
            let prod = #"{deployment_environment="prod"}"#
            func reply(_ more: [(String, String)]) async -> LokiReply {
                let r = await loki(router, "/loki/api/v1/query_range", [("query", prod)] + more)
                #expect(r.status == 200, "\(more): \(r.text)")
                return r
            }
            func entryCount(_ r: LokiReply) -> Int { r.result.items.reduce(0) { $0 + $1["values"].items.count } }

            // limit=2 backward: exactly the two newest.
            let newest = await reply([("limit", "2")])
            #expect(entryCount(newest) == 2)
            #expect(newest.result == [stream(F.paymentInfo, [F.chargeAgain]), own(F.cartEmptied)])
            #expect(newest.data["stats"]["summary"]["totalEntriesReturned"] == 2)
            #expect(await reply([("limit", "2"), ("direction", "backward")]).result == newest.result)
            // limit=2 forward: the two oldest.
            let oldest = await reply([("limit", "2"), ("direction", "forward")])
            #expect(entryCount(oldest) == 2)
            #expect(oldest.result == [own(F.cartLoaded), own(F.paymentFailed)])
            #expect(await reply([("limit", "3"), ("direction", "FORWARD")]).result == [own(F.retrying), own(F.cartLoaded), own(F.paymentFailed)])
            // Within a stream, entries follow the direction.
            #expect(await reply([("direction", "forward")]).result.items.contains(stream(F.paymentInfo, [F.chargeOK, F.chargeAgain])))
            #expect(await reply([("direction", "backward")]).result.items.contains(stream(F.paymentInfo, [F.chargeAgain, F.chargeOK])))
            #expect(entryCount(await reply([])) == 6)

            // start inclusive, end exclusive (chargeOK is at exactly `end`).
            let window = [("start", ns(F.paymentFailed.nanos)), ("end", ns(F.chargeOK.nanos)), ("direction", "forward")]
            #expect(await reply(window).result == [own(F.retrying), own(F.paymentFailed)])
            let onePast = [("start", ns(F.paymentFailed.nanos)), ("end", ns(F.chargeOK.nanos + 1)), ("direction", "forward")]
            #expect(await reply(onePast).result == [own(F.retrying), own(F.paymentFailed), stream(F.paymentInfo, [F.chargeOK])])
            // The same bounds as RFC 3339 and as seconds with a fraction.
            #expect(
                await reply([("start", "2024-05-01T12:02:00Z"), ("end", "2024-05-01T12:04:00Z"), ("direction", "forward")]).result
                    == [own(F.retrying), own(F.paymentFailed)])
            #expect(
                await reply([("start", "1714564920.0"), ("end", "1714565040.0"), ("direction", "forward")]).result
                    == [own(F.retrying), own(F.paymentFailed)])
            // Across the partition boundary, oldest first.
            let across = await loki(
                router, "/loki/api/v1/query_range",
                [
                    ("query", #"{deployment_environment=~"prod|staging"}"#), ("start", ns(F.at(-3600))), ("limit", "2"), ("direction", "forward"),
                ])
            #expect(across.result == [own(F.cartLoaded), own(F.legacyBoot)])
        }
    }

    // MARK: Metric queries

    @Test func rangeMetricQueries() async throws {
        try await withLokiRouter { router in
            // Steps at 0, 60, …, 300 s after the hour; a window (t - range, t]. cartLoaded is 1 ns after 60 s: it
            // counts at 120, not at 60.
            let range = [("start", ns(F.t0)), ("end", ns(F.at(300))), ("step", "60")]
            func matrix(_ query: String, _ parameters: [(String, String)]) async -> LokiJSON {
                let r = await loki(router, "/loki/api/v1/query_range", [("query", query)] + parameters)
                #expect(r.status == 200, "\(query): \(r.text)")
                #expect(r.json["status"] == "success" && r.data["resultType"] == "matrix", "\(query)")
                #expect(r.data["stats"]["summary"].keys == summaryFields, "\(query)")
                return r.result
            }
            #expect(
                await matrix(#"sum by (level) (count_over_time({deployment_environment="prod"}[1m]))"#, range) == [
                    series(["level": "ERROR"], [(120, "1")]),
                    series(["level": "INFO"], [(120, "1"), (240, "1"), (300, "2")]),
                    series(["level": "warn"], [(180, "1")]),
                ])
            // Without sum: a series per label set (stream labels and metadata).
            #expect(
                await matrix(#"count_over_time({service_name="payment"}[1m])"#, range) == [
                    series(F.retrying.labels, [(180, "1")]),
                    series(F.paymentInfo, [(240, "1"), (300, "1")]),
                ])
            #expect(
                await matrix(#"sum by (level) (rate({deployment_environment="prod"}[1m]))"#, range) == [
                    series(["level": "ERROR"], [(120, "0.016666666666666666")]),
                    series(["level": "INFO"], [(120, "0.016666666666666666"), (240, "0.016666666666666666"), (300, "0.03333333333333333")]),
                    series(["level": "warn"], [(180, "0.016666666666666666")]),
                ])
            // Bytes of the lines (UTF-8): 19 + 23, 18 ("café ✓" is 8 bytes), 21, 15 + 12.
            #expect(
                await matrix(#"sum(bytes_over_time({deployment_environment="prod"}[1m]))"#, range) == [
                    series([:], [(120, "42"), (180, "18"), (240, "21"), (300, "27")])
                ])
            // A 2m range at 1m steps: each entry in two windows.
            #expect(
                await matrix(#"bytes_over_time({service_name="checkout"}[2m])"#, [("start", ns(F.at(60))), ("end", ns(F.at(300))), ("step", "1m")])
                    == [
                        series(F.cartLoaded.labels, [(120, "19"), (180, "19")]),
                        series(F.paymentFailed.labels, [(120, "23"), (180, "23")]),
                        series(F.cartEmptied.labels, [(300, "12")]),
                    ])
            // step as a duration; no point where the window is empty (at 0).
            #expect(
                await matrix(
                    #"sum(count_over_time({deployment_environment="prod"}[5m]))"#, [("start", ns(F.t0)), ("end", ns(F.at(300))), ("step", "5m")])
                    == [series([:], [(300, "6")])])
            #expect(
                await matrix(
                    #"sum by (level) (count_over_time({service_name="checkout"} |= "cart" [10m]))"#,
                    [("start", ns(F.at(600))), ("end", ns(F.at(600))), ("step", "60")])
                    == [series(["level": "INFO"], [(600, "2")])])
            #expect(await matrix(#"sum(count_over_time({service_name="nobody"}[1m]))"#, range) == [])
        }
    }

    @Test func instantQueriesAnswerAVector() async throws {
        try await withLokiRouter { router in
            func vector(_ parameters: [(String, String)]) async -> LokiJSON {
                let r = await loki(router, "/loki/api/v1/query", parameters)
                #expect(r.status == 200, "\(parameters): \(r.text)")
                #expect(r.json["status"] == "success" && r.data["resultType"] == "vector", "\(parameters)")
                #expect(r.data["stats"]["summary"].keys == summaryFields)
                return r.result
            }
            // (120 s, 300 s]: paymentFailed at exactly 120 s is out.
            #expect(
                await vector([("query", #"sum by (service_name) (count_over_time({deployment_environment="prod"}[3m]))"#), ("time", ns(F.at(300)))])
                    == [
                        ["metric": ["service_name": "checkout"], "value": [.number(Double(F.t0Seconds + 300)), "1"]],
                        ["metric": ["service_name": "payment"], "value": [.number(Double(F.t0Seconds + 300)), "3"]],
                    ])
            // The default time is now; the window reaches into the previous partition.
            #expect(
                await vector([("query", #"count_over_time({service_name="legacy"}[1h])"#)]) == [
                    ["metric": .labels(F.legacyDebug), "value": [.number(Double(F.t0Seconds + 600)), "1"]]
                ])
            #expect(
                await vector([("query", #"sum(rate({service_name="checkout"}[10m]))"#)]) == [
                    ["metric": [:], "value": [.number(Double(F.t0Seconds + 600)), "0.005"]]
                ])
        }
    }

    // MARK: categorize-labels

    @Test func categorizeLabelsPutsMetadataBesideEachEntry() async throws {
        try await withLokiRouter { router in
            let header = [("X-Loki-Response-Encoding-Flags", "categorize-labels")]
            let checkout = await loki(
                router, "/loki/api/v1/query_range",
                [("query", #"{service_name="checkout"}"#), ("direction", "forward")], headers: header)
            #expect(checkout.status == 200)
            #expect(checkout.data["encodingFlags"] == ["categorize-labels"])
            // Streams named by their stream labels alone; the third element of a value is {"structuredMetadata": {…}}.
            #expect(
                checkout.result == [
                    stream(F.checkoutError, [F.paymentFailed], categorized: true),
                    stream(F.checkoutInfo, [F.cartLoaded, F.cartEmptied], categorized: true),
                ])
            #expect(
                checkout.result.items.last?["values"].items.first == [
                    .string(String(F.cartLoaded.nanos)), "cart loaded items=3",
                    [
                        "structuredMetadata": [
                            "http_method": "GET", "span_id": "a100000000000001", "trace_id": "0102030405060708090a0b0c0d0e0f10",
                            "user": #"ada "the countess""#,
                        ]
                    ],
                ])
            // No metadata: an empty object, as Loki writes it. The header's name in any case.
            let payment = await loki(
                router, "/loki/api/v1/query_range", [("query", #"{service_name="payment"}"#)],
                headers: [("x-loki-response-encoding-flags", "categorize-labels")])
            #expect(
                payment.result == [
                    stream(F.paymentInfo, [F.chargeAgain, F.chargeOK], categorized: true),
                    stream(F.paymentWarn, [F.retrying], categorized: true),
                ])
            #expect(payment.result.items.first?["values"].items.first == [.string(String(F.chargeAgain.nanos)), "charge ok again", [:]])
            // Label filters still see the metadata.
            let filtered = await loki(
                router, "/loki/api/v1/query_range",
                [("query", #"{service_name="checkout"} | user="zoë""#)], headers: header)
            #expect(filtered.result == [stream(F.checkoutInfo, [F.cartEmptied], categorized: true)])
        }
    }

    // MARK: Errors

    @Test func errorsArePlainText400sAndTheServerCarriesOn() async throws {
        try await withLokiRouter { router in
            func failure(_ path: String, _ parameters: [(String, String)], status: Int = 400) async -> String {
                let r = await loki(router, path, parameters)
                #expect(r.status == status, "\(parameters): \(r.status) \(r.text)")
                #expect(r.contentType == "text/plain; charset=utf-8", "\(parameters)")
                return r.text
            }
            let range = "/loki/api/v1/query_range"
            let good = #"{service_name="checkout"}"#

            let syntax = await failure(range, [("query", #"{service_name="checkout""#)])
            #expect(syntax.hasPrefix("parse error at line 1, col"), "\(syntax)")
            #expect(await failure(range, [("query", good + " | json")]) == #"LogQL feature not supported by otelsink: "| json" parser"#)
            #expect(
                await failure(range, [("query", #"topk(2, count_over_time({service_name="checkout"}[1m]))"#)])
                    == #"LogQL feature not supported by otelsink: "topk" aggregation"#)
            let regex = await failure(range, [("query", #"{service_name=~"(unclosed"}"#)])
            #expect(regex.hasPrefix(#"parse error : invalid regular expression "(unclosed" in label matcher service_name=~: "#), "\(regex)")
            let lineRegex = await failure(range, [("query", good + #" |~ "a[""#)])
            #expect(lineRegex.hasPrefix(#"parse error : invalid regular expression "a[" in line filter |~: "#), "\(lineRegex)")
            let emptyCompatible = await failure(range, [("query", #"{service_name!="checkout"}"#)])
            #expect(emptyCompatible.hasPrefix("parse error : queries require at least one regexp or equality matcher"), "\(emptyCompatible)")

            #expect(
                await failure("/loki/api/v1/query", [("query", good)])
                    == "log queries are not supported as an instant query type, please change your query to a range query type")

            #expect(await failure(range, [("query", good), ("start", "yesterday")]).hasPrefix(#"could not parse 'start' parameter: "yesterday""#))
            #expect(await failure(range, [("query", good), ("end", "soon")]).hasPrefix(#"could not parse 'end' parameter: "soon""#))
            #expect(
                await failure(range, [("query", good), ("start", ns(F.at(300))), ("end", ns(F.at(60)))])
                    == "end timestamp must not be before or equal to start time")
            #expect(await failure(range, [("query", good), ("step", "often")]) == #"cannot parse "often" to a valid duration"#)
            #expect(
                await failure(range, [("query", good), ("step", "0")])
                    == "zero or negative query resolution step widths are not accepted. Try a positive integer")
            #expect(
                await failure(range, [("query", good), ("start", ns(F.t0)), ("end", ns(F.at(300))), ("step", "0.01")])
                    == "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter")
            #expect(await failure(range, [("query", good), ("limit", "many")]) == #"could not parse 'limit' parameter: "many" is not an integer"#)
            #expect(await failure(range, [("query", good), ("limit", "-1")]) == "limit must be a positive value")
            #expect(
                await failure(range, [("query", good), ("limit", "1000000")])
                    == "max entries limit per query exceeded, limit > max_entries_limit_per_query (1000000 > 5000)")
            #expect(await failure(range, [("query", good), ("direction", "sideways")]) == "invalid direction 'sideways'")
            #expect(
                await failure("/loki/api/v1/query", [("query", "sum(count_over_time(\(good)[1m]))"), ("time", "noon")])
                    .hasPrefix(#"could not parse 'time' parameter: "noon""#))
            #expect(await failure("/loki/api/v1/labels", [("query", "{}")]).hasPrefix("parse error"))
            #expect(await failure("/loki/api/v1/series", [("match[]", good + #" |= "x""#)]) == "only label matchers are supported")

            let notFound = await failure("/loki/api/v1/foo", [], status: 404)
            #expect(notFound.hasPrefix("404 page not found"))
            _ = await failure("/loki/api/v1/label/level", [], status: 404)

            // The next request is answered as usual.
            let after = await loki(router, range, [("query", good), ("limit", "1")])
            #expect(after.status == 200 && after.contentType == "application/json")
            #expect(after.result == [own(F.cartEmptied)])
        }
    }
}

extension LokiAPITests {
    /// A resource attribute named `trace_id` is a stream label; the record's own trace ID is then metadata named
    /// `trace_id_extracted` (Loki's rule for a name clash), and `| trace_id="…"` filters on the stream label.
    @Test func aTraceIDStreamLabelWinsOverTheRecordsTraceID() async throws {
        let labelHex = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        let rowHex = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
        var rl = ResourceLogs()
        rl.resource.attributes = [LokiFixture.kv("service.name", .string("tagged")), LokiFixture.kv("trace.id", .string(labelHex))]
        var sl = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        var plain = LogRecord()
        plain.timeUnixNano = UInt64(F.at(100))
        plain.severityText = "INFO"
        plain.body = .string("no trace of its own")
        var traced = plain
        traced.timeUnixNano = UInt64(F.at(200))
        traced.body = .string("with a trace")
        traced.traceID = LokiFixture.hex(rowHex)
        sl.logRecords = [plain, traced]
        rl.scopeLogs = [sl]
        var request = ExportLogsRequest()
        request.resourceLogs = [rl]
        let streamLabels = ["level": "INFO", "service_name": "tagged", "trace_id": labelHex]
        try await withLokiRouter([request]) { router in
            func result(_ query: String) async -> LokiJSON {
                let r = await loki(router, "/loki/api/v1/query_range", [("query", query), ("direction", "forward")])
                #expect(r.status == 200, "\(query): \(r.text)")
                return r.result
            }
            let plainEntry = LokiRecord(nanos: F.at(100), line: "no trace of its own", stream: streamLabels, metadata: [:])
            let tracedEntry = LokiRecord(nanos: F.at(200), line: "with a trace", stream: streamLabels, metadata: ["trace_id_extracted": rowHex])
            #expect(await result(#"{service_name="tagged"}"#) == [own(tracedEntry), own(plainEntry)])
            #expect(await result(#"{service_name="tagged"} | trace_id="\#(labelHex)""#) == [own(tracedEntry), own(plainEntry)])
            #expect(await result(#"{service_name="tagged"} | trace_id="\#(rowHex)""#) == [])
            #expect(await result(#"{service_name="tagged"} | trace_id_extracted="\#(rowHex)""#) == [own(tracedEntry)])
            let count = await loki(
                router, "/loki/api/v1/query",
                [("query", #"sum(count_over_time({service_name="tagged"} | trace_id="\#(labelHex)" [5m]))"#), ("time", ns(F.at(300)))])
            #expect(count.result == [["metric": [:], "value": [.number(Double(F.t0Seconds + 300)), "2"]]])
        }
    }
}

extension LokiAPITests {
    /// 1,200 records of one stream, 3 s apart from `now - 1h` (1,000 in the previous hour's partition, 200 in this
    /// one), every 7th with "lucky": enough for the reader to stop early once it has `limit` entries.
    @Test func aLineFilterOverManyRecordsReadInTwoPartsAnswersAsOneRead() async throws {
        // More records than LokiAPI.minimumSplitRecords, most of them in the hour's last five minutes: the range is
        // read as two parts of about as many records at once, and the parts are joined in the query's direction.
        let count = Int(LokiAPI.minimumSplitRecords) + 4_000
        func time(_ i: Int) -> Int64 {
            i < 2_000 ? F.now - 3_500 * F.second + Int64(i) * F.second : F.now - 290 * F.second + Int64(i - 2_000) * 10_000_000
        }
        func line(_ i: Int) -> String { i % 97 == 0 ? "tick \(i) lucky" : "tick \(i)" }
        let request = LokiFixture.bulk(count, time: time, line: line)
        func values(_ indices: [Int]) -> LokiJSON { LokiFixture.bulkValues(indices, time: time, line: line) }
        let lucky = (0..<count).filter { $0 % 97 == 0 }
        try await withLokiRouter([request]) { router in
            func reply(_ more: [(String, String)]) async -> LokiReply {
                let r = await loki(router, "/loki/api/v1/query_range", [("query", #"{service_name="bulk"} |= "lucky""#)] + more)
                #expect(r.status == 200, "\(more): \(r.text)")
                return r
            }
            let all = await reply([("limit", "5000")])
            #expect(all.result == values(lucky.reversed()))
            #expect(all.data["stats"]["summary"]["totalPostFilterLines"] == .number(Double(lucky.count)))
            #expect(await reply([("limit", "5000"), ("direction", "forward")]).result == values(lucky))
            // The newest three are all in the later part, the oldest three in the earlier one.
            #expect(await reply([("limit", "3")]).result == values(Array(lucky.reversed().prefix(3))))
            #expect(await reply([("limit", "3"), ("direction", "forward")]).result == values(Array(lucky.prefix(3))))
            // More than the matches of the last five minutes: the rest comes from before them.
            let later = lucky.filter { $0 >= 2_000 }.count
            #expect(await reply([("limit", String(later + 5))]).result == values(Array(lucky.reversed().prefix(later + 5))))
        }
    }

    /// Records stored compressed (a partition's records after its first 1,000) answer label filters on their
    /// attributes as the others do; a record that cannot be read fails the query rather than answering without its
    /// attributes.
    @Test func labelFiltersSeeTheAttributesOfCompressedRecordsAndAnUnreadableRecordFailsTheQuery() async throws {
        let count = 1_300
        var request = LokiFixture.bulk(count, time: { F.now - 3_000 * F.second + Int64($0) * F.second }, line: { "tick \($0)" })
        for i in 0..<count {
            request.resourceLogs[0].scopeLogs[0].logRecords[i].attributes = [
                LokiFixture.kv("user", .string("u\(i % 7)")), LokiFixture.kv("http.route", .string("/api/orders/{id}")),
                LokiFixture.kv("request.id", .string("req-\(i * 7919)-\(i % 13)")),
            ]
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("otelsink-loki-compressed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = SQLiteStoreConfig(path: dir.appendingPathComponent("logs.db").path)
        config.retention = .seconds(1_000_000_000)
        let store = try SQLiteTraceStore(config: config)
        try await store.append(request)
        let compressed = try await store.pool.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM log_dictionaries") ?? 0
        }
        #expect(compressed == 1)
        func query(_ router: QueryRouter) async -> LokiReply {
            await loki(router, "/loki/api/v1/query_range", [("query", #"{service_name="bulk"} | user="u3""#), ("limit", "5000")])
        }
        let router = QueryRouter(service: TraceQueryService(reader: TraceReader(store: store), config: QueryConfig()), now: { LokiFixture.now })
        let reply = await query(router)
        #expect(reply.status == 200, "\(reply.text)")
        let lines = reply.result.items.flatMap { $0["values"].items.map { $0.items.last ?? .null } }
        let expected: [LokiJSON] = (0..<count).filter { $0 % 7 == 3 }.map { .string("tick \($0)") }
        #expect(lines.count == expected.count)
        #expect(Set(lines.map { "\($0)" }) == Set(expected.map { "\($0)" }))

        try await store.pool.write { db in try db.execute(sql: "DELETE FROM log_dictionaries") }
        let fresh = QueryRouter(service: TraceQueryService(reader: TraceReader(store: store), config: QueryConfig()), now: { LokiFixture.now })
        let failed = await query(fresh)
        #expect(failed.status >= 500, "\(failed.status) \(failed.text)")
        #expect(failed.text.contains("log record dictionary"), "\(failed.text)")
        await store.close()
    }

    /// `otelsink logs --grep` and `/api/v3/logs?q=` (``TraceQueryService/logs(_:)``) split a large range the same
    /// way: the answer is what one read in the search's order gives.
    @Test func aLogSearchForASubstringOverManyRecordsReadInTwoPartsAnswersAsOneRead() async throws {
        let count = Int(LokiAPI.minimumSplitRecords) + 4_000
        func time(_ i: Int) -> Int64 {
            i < 2_000 ? F.now - 3_500 * F.second + Int64(i) * F.second : F.now - 290 * F.second + Int64(i - 2_000) * 10_000_000
        }
        func line(_ i: Int) -> String { i % 97 == 0 ? "tick \(i) lucky" : "tick \(i)" }
        let lucky = (0..<count).filter { $0 % 97 == 0 }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("otelsink-log-search-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var config = SQLiteStoreConfig(path: dir.appendingPathComponent("logs.db").path)
        config.retention = .seconds(1_000_000_000)
        let store = try SQLiteTraceStore(config: config)
        try await store.append(LokiFixture.bulk(count, time: time, line: line))
        let service = TraceQueryService(reader: TraceReader(store: store), config: QueryConfig())
        func lines(limit: Int, newestFirst: Bool = true, pattern: String? = nil) async throws -> [String] {
            var s = LogSearch()
            if let pattern { s.pattern = pattern } else { s.contains = ["lucky"] }
            s.limit = limit
            s.newestFirst = newestFirst
            let result = try await service.logs(s)
            #expect(result.complete)
            return result.rows.map(\.line)
        }
        let later = lucky.filter { $0 >= 2_000 }.count
        #expect(try await lines(limit: 5_000) == lucky.reversed().map(line))
        #expect(try await lines(limit: 5_000, newestFirst: false) == lucky.map(line))
        #expect(try await lines(limit: 3) == lucky.reversed().prefix(3).map(line))
        #expect(try await lines(limit: 3, newestFirst: false) == lucky.prefix(3).map(line))
        #expect(try await lines(limit: later + 5) == lucky.reversed().prefix(later + 5).map(line))
        #expect(try await lines(limit: 5_000, pattern: "l[u]cky$") == lucky.reversed().map(line))
        await store.close()
    }

    @Test func limitsHoldOverManyRecordsAndTwoPartitions() async throws {
        let count = 1_200
        func time(_ i: Int) -> Int64 { F.now - 3_600 * F.second + Int64(i) * 3 * F.second }
        func line(_ i: Int) -> String { i % 7 == 0 ? "tick \(i) lucky" : "tick \(i)" }
        let request = LokiFixture.bulk(count, time: time, line: line)
        func values(_ indices: [Int]) -> LokiJSON { LokiFixture.bulkValues(indices, time: time, line: line) }
        try await withLokiRouter([request]) { router in
            func result(_ query: String, _ more: [(String, String)]) async -> LokiJSON {
                let r = await loki(router, "/loki/api/v1/query_range", [("query", query)] + more)
                #expect(r.status == 200, "\(query) \(more): \(r.text)")
                #expect(r.data["stats"]["summary"]["totalEntriesReturned"] == .number(Double(r.result.items.first?["values"].items.count ?? 0)))
                return r.result
            }
            let all = #"{service_name="bulk"}"#
            let lucky = #"{service_name="bulk"} |= "lucky""#
            #expect(await result(all, [("limit", "2")]) == values([1199, 1198]))
            // The default range starts at exactly now - 1h, inclusive.
            #expect(await result(all, [("limit", "2"), ("direction", "forward")]) == values([0, 1]))
            #expect(await result(all, []) == values(Array((1100...1199).reversed())))
            #expect(await result(lucky, [("limit", "3")]) == values([1197, 1190, 1183]))
            #expect(await result(lucky, [("limit", "3"), ("direction", "forward")]) == values([0, 7, 14]))
            // Every match, in both directions, with the statistics of the read.
            let luckyOnes = (0..<count).filter { $0 % 7 == 0 }
            #expect(await result(lucky, [("limit", "5000")]) == values(luckyOnes.reversed()))
            #expect(await result(lucky, [("limit", "5000"), ("direction", "forward")]) == values(luckyOnes))
            #expect(
                await result(lucky, [("limit", "100"), ("start", ns(time(500))), ("end", ns(time(700)))])
                    == values(luckyOnes.filter { (500..<700).contains($0) }.reversed()))
            let summary = await loki(router, "/loki/api/v1/query_range", [("query", lucky), ("limit", "5000")]).data["stats"]["summary"]
            #expect(summary["totalLinesProcessed"] == .number(Double(luckyOnes.count)))  // the store narrows to lines holding "lucky"
            #expect(summary["totalPostFilterLines"] == .number(Double(luckyOnes.count)))
            #expect(summary["totalEntriesReturned"] == .number(Double(luckyOnes.count)))
            // Only the previous hour's partition, newest first.
            #expect(await result(all, [("limit", "2"), ("end", ns(F.t0))]) == values([999, 998]))
            #expect(await result(all, [("limit", "5000")]) == values(Array((0..<count).reversed())))

            func instant(_ query: String) async -> LokiJSON {
                let r = await loki(router, "/loki/api/v1/query", [("query", query)])
                #expect(r.status == 200, "\(query): \(r.text)")
                return r.result
            }
            // The window (now - 1h, now] leaves out record 0, at exactly now - 1h.
            let at: LokiJSON = .number(Double(F.t0Seconds + 600))
            #expect(await instant(#"sum(count_over_time({service_name="bulk"}[1h]))"#) == [["metric": [:], "value": [at, "1199"]]])
            #expect(await instant(#"sum(count_over_time({service_name="bulk"} |= "lucky" [1h]))"#) == [["metric": [:], "value": [at, "171"]]])
        }
    }
}
