import ArgumentParser
import CollectorCore
import Foundation
import OTLP
import QueryAPI
import SQLiteStore
import SwiftProtobuf

/// Where the lookup commands read: a running server's query API (`--endpoint`, the default) or a database file
/// (`--db`, opened read-only, safe while a server writes to it).
struct SourceOptions: ParsableArguments {
    @Option(help: "The otelsink query API to ask (ignored with --db).")
    var endpoint: String = "http://localhost:16686"

    @Option(help: "Read this SQLite database directly instead of asking a server (read-only; safe while a server writes to it).")
    var db: String?

    func open() throws -> TraceSource {
        if let db {
            do {
                // Reading the file directly, the user asked for whole traces: no span cap or time budget.
                var config = QueryConfig()
                config.maxSpansPerResponse = .max
                config.timeBudget = .seconds(86_400)
                return .database(TraceQueryService(reader: try TraceReader(path: db), config: config))
            } catch {
                throw CLIError.storage("cannot open \(db): \(error)")
            }
        }
        do {
            return .server(try QueryClient(endpoint: endpoint))
        } catch {
            throw CLIError.input(error.description)
        }
    }
}

/// Errors of the lookup commands, each with its exit code: 1 not found, 2 invalid input, 3 server or database
/// unavailable.
enum CLIError: Error, CustomStringConvertible {
    case notFound(String)
    case input(String)
    case storage(String)

    var description: String {
        switch self {
        case .notFound(let m), .input(let m), .storage(let m): m
        }
    }

    var exitCode: Int32 {
        switch self {
        case .notFound: 1
        case .input: 2
        case .storage: 3
        }
    }

    /// Prints `otelsink: message` to stderr and exits with the code. The message is escaped: it can quote a
    /// server's answer or the user's input.
    static func exit(_ error: any Error) -> Never {
        let e = error as? CLIError ?? .storage("\(error)")
        FileHandle.standardError.write(Data("otelsink: \(TerminalSafeText.escape(e.description))\n".utf8))
        Foundation.exit(e.exitCode)
    }
}

enum TraceSource {
    case database(TraceQueryService)
    case server(QueryClient)

    var name: String {
        switch self {
        case .database(let s): s.reader.source
        case .server(let c): c.endpoint
        }
    }

    func trace(id: Data) async throws -> ExportTraceRequest? {
        switch self {
        case .database(let s):
            return try await s.trace(id: id)?.trace
        case .server(let c):
            let (status, body) = try await get(c, "/api/v3/traces/\(JaegerTrace.idHex(id))")
            if status == 404 { return nil }
            try Self.check(status, body, c)
            return try Self.otlpResult(body)
        }
    }

    /// The trace and its spans flagged as unusually slow (none from a server too old to say).
    func traceWithAnomalies(id: Data) async throws -> (trace: ExportTraceRequest, anomalies: [Data: SpanAnomaly])? {
        switch self {
        case .database(let s):
            return try await s.trace(id: id).map { ($0.trace, $0.anomalies) }
        case .server(let c):
            guard let trace = try await trace(id: id) else { return nil }
            let (status, body) = try await get(c, "/api/v3/traces/\(JaegerTrace.idHex(id))/anomalies")
            guard status == 200 else { return (trace, [:]) }
            return (trace, Self.anomalies(body))
        }
    }

    /// Reads `{"result": {"anomalies": [{spanId, durationNanos, baselineP99Nanos}]}}`; entries it cannot read are skipped.
    static func anomalies(_ body: Data) -> [Data: SpanAnomaly] {
        guard let doc = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let result = doc["result"] as? [String: Any], let list = result["anomalies"] as? [[String: Any]]
        else { return [:] }
        var out: [Data: SpanAnomaly] = [:]
        for item in list {
            guard let hex = item["spanId"] as? String, let id = QueryValues.spanID(hex),
                let d = (item["durationNanos"] as? String).flatMap({ Int64($0) }),
                let p = (item["baselineP99Nanos"] as? String).flatMap({ Int64($0) })
            else { continue }
            out[id] = SpanAnomaly(durationNanos: d, baselineP99Nanos: p)
        }
        return out
    }

    func search(_ query: TraceSearchQuery) async throws -> (traces: [ExportTraceRequest], complete: Bool) {
        switch self {
        case .database(let s):
            let found = try await s.search(query)
            return (found.traces, found.complete)
        case .server(let c):
            var params: [(String, String)] = [("query.service_name", query.service)]
            if let op = query.operation { params.append(("query.operation_name", op)) }
            if !query.tags.isEmpty {
                let object = JSON.object(query.tags.map { ($0.key, .string($0.value)) })
                params.append(("query.attributes", String(decoding: object.serialized(), as: UTF8.self)))
            }
            if let d = query.minDuration { params.append(("query.duration_min", "\(d)ns")) }
            if let d = query.maxDuration { params.append(("query.duration_max", "\(d)ns")) }
            params.append(("query.start_time_min", Self.rfc3339(query.startMin)))
            params.append(("query.start_time_max", Self.rfc3339(query.startMax)))
            params.append(("query.search_depth", String(query.limit)))
            let (status, body) = try await get(c, "/api/v3/traces?" + Self.encode(params))
            if status == 404 { return ([], true) }
            try Self.check(status, body, c)
            let combined: ExportTraceRequest = try Self.otlpResult(body)
            // The server concatenates the traces' resource spans, newest trace first: split them by trace ID.
            var order: [Data] = []
            var byTrace: [Data: ExportTraceRequest] = [:]
            for rs in combined.resourceSpans {
                let id = rs.scopeSpans.lazy.flatMap(\.spans).first?.traceID ?? Data()
                if byTrace[id] == nil { order.append(id) }
                byTrace[id, default: ExportTraceRequest()].resourceSpans.append(rs)
            }
            return (order.compactMap { byTrace[$0] }, true)
        }
    }

    func services() async throws -> [String] {
        switch self {
        case .database(let s):
            return try await s.services()
        case .server(let c):
            let (status, body) = try await get(c, "/api/v3/services")
            try Self.check(status, body, c)
            guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
                let names = object["services"] as? [String]
            else { throw CLIError.storage("unexpected answer from \(c.endpoint)/api/v3/services") }
            return names
        }
    }

    func latencyShifts(limit: Int) async throws -> [LatencyShift] {
        switch self {
        case .database(let s):
            return try await s.latencyShifts(now: Int64(Date().timeIntervalSince1970 * 1e9), limit: limit)
        case .server(let c):
            let (status, body) = try await get(c, "/api/v3/baselines?" + Self.encode([("limit", String(limit))]))
            try Self.check(status, body, c)
            guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
                let result = object["result"] as? [String: Any], let ops = result["operations"] as? [[String: Any]]
            else { throw CLIError.storage("unexpected answer from \(c.endpoint)/api/v3/baselines") }
            return ops.map { o in
                // Bounded as the store bounds them, so that printing them as integers cannot trap, whatever answered.
                func number(_ key: String, upTo limit: Double = 9.2e18) -> Double {
                    let value = (o[key] as? String).flatMap(Double.init) ?? (o[key] as? NSNumber)?.doubleValue ?? 0
                    return value.isFinite ? min(max(value, 0), limit) : 0
                }
                return LatencyShift(
                    service: o["service"] as? String ?? "", operation: o["operation"] as? String ?? "",
                    kind: SpanKindName.kind(o["spanKind"] as? String ?? "") ?? 0,
                    baselineP99Nanos: number("baselineP99Nanos"), recentP99Nanos: number("recentP99Nanos"),
                    baselineSamples: number("baselineSamples", upTo: 1e15), recentSamples: number("recentSamples", upTo: 1e15))
            }
        }
    }

    func operations(service: String) async throws -> [OperationInfo] {
        switch self {
        case .database(let s):
            return try await s.operations(service: service, kind: nil)
        case .server(let c):
            let (status, body) = try await get(c, "/api/v3/operations?" + Self.encode([("service", service)]))
            try Self.check(status, body, c)
            guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
                let ops = object["operations"] as? [[String: Any]]
            else { throw CLIError.storage("unexpected answer from \(c.endpoint)/api/v3/operations") }
            return ops.map {
                OperationInfo(name: $0["name"] as? String ?? "", kind: SpanKindName.kind($0["spanKind"] as? String ?? "") ?? 0)
            }
        }
    }

    private func get(_ c: QueryClient, _ path: String) async throws -> (Int, Data) {
        do {
            let r = try await c.get(path)
            return (r.status, r.body)
        } catch {
            throw CLIError.storage(error.description)
        }
    }

    private static func check(_ status: Int, _ body: Data, _ c: QueryClient) throws {
        guard status != 200 else { return }
        let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
        let message = (object?["error"] as? [String: Any])?["message"] as? String ?? String(decoding: body.prefix(300), as: UTF8.self)
        if status == 400 { throw CLIError.input(message) }
        throw CLIError.storage("\(c.endpoint) answered \(status): \(message)")
    }

    /// Log records a search finds, oldest first, and whether the search saw every candidate.
    func logs(_ search: LogSearch) async throws -> (records: [FlatLogRecord], complete: Bool, cursor: [Int64: Int64]) {
        switch self {
        case .database(let s):
            let found = try await s.logs(search)
            let records = FlatLogRecord.flatten(try await s.logsRequest(found.rows))
            return (records, found.complete, found.cursor)
        case .server(let c):
            var params: [(String, String)] = []
            if let v = search.service { params.append(("service", v)) }
            if let v = search.traceID { params.append(("trace_id", JaegerTrace.idHex(v))) }
            if let v = search.spanID { params.append(("span_id", JaegerTrace.idHex(v))) }
            if let v = search.minSeverity { params.append(("severity_min", String(v))) }
            for q in search.contains { params.append(("q", q)) }
            if let v = search.pattern { params.append(("re", v)) }
            if search.start > 0 { params.append(("start", String(search.start))) }
            if search.end < .max { params.append(("end", String(search.end))) }
            params.append(("limit", String(search.limit)))
            params.append(("direction", search.newestFirst ? "backward" : "forward"))
            if let after = search.after { params.append(("after", LogSearchResult.text(after))) }
            let (status, body) = try await get(c, "/api/v3/logs?" + Self.encode(params))
            try Self.check(status, body, c)
            let request: ExportLogsRequest = try Self.otlpResult(body)
            let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
            let cursor = (object?["cursor"] as? String).flatMap(LogSearchResult.cursor) ?? search.after ?? [:]
            return (FlatLogRecord.flatten(request), (object?["warnings"] as? [Any])?.isEmpty ?? true, cursor)
        }
    }

    /// The OTLP JSON inside `{"result": …}`.
    private static func otlpResult<M: SwiftProtobuf.Message>(_ body: Data) throws -> M {
        // otelsink answers exactly `{"result":<OTLP JSON>}`: decode the inner bytes as they are.
        let prefix = Data("{\"result\":".utf8)
        if body.starts(with: prefix), body.last == UInt8(ascii: "}"),
            let t = try? OTLPJSON.decode(M.self, from: body.dropFirst(prefix.count).dropLast())
        {
            return t
        }
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let result = object["result"],
            let data = try? JSONSerialization.data(withJSONObject: result)
        else { throw CLIError.storage("the query API's answer is not {\"result\": …}") }
        do {
            return try OTLPJSON.decode(M.self, from: Array(data))
        } catch {
            throw CLIError.storage("the query API's answer is not OTLP JSON: \(error)")
        }
    }

    static func rfc3339(_ nanos: Int64) -> String {
        let n = UInt64(max(0, nanos))
        let base = ReadableText.timestamp(n)  // …SS.mmmZ
        return String(base.dropLast(5)) + String(format: ".%09dZ", Int(n % 1_000_000_000))
    }

    static func encode(_ params: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return params.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.1)" }.joined(separator: "&")
    }
}
