import Foundation
import OTLP
import SQLiteStore

/// `GET /api/v3/logs`: stored log records as OTLP JSON (`{"result": {"resourceLogs": […]}}`), what `otelsink logs
/// --endpoint` reads. Parameters: `service`, `trace_id`, `span_id`, `severity_min` (a level name or number), `q`
/// (substring, repeatable), `re` (regular expression), `start` / `end` (RFC 3339 or Unix nanoseconds), `limit`,
/// `direction` (`backward`, newest first, the default; or `forward`), `after` (only records that arrived after this
/// cursor, in arrival order, whatever their time). Every answer carries the cursor to pass as `after` next, as
/// `"cursor"` beside `"result"` and in the `Otelsink-Logs-Cursor` header: `otelsink logs --follow` follows new
/// records this way.
extension V3 {
    func logs(_ q: QueryParameters) async throws -> QueryResponse {
        let search = try parseLogSearch(q)
        let found = try await service.logs(search)
        let request = try await service.logsRequest(found.rows)
        var body = Array("{\"result\":".utf8)
        body += try OTLPJSON.encode(request)
        body += Array(",\"cursor\":".utf8)
        body += JSON.string(LogSearchResult.text(found.cursor)).serialized()
        if !found.complete {
            body += Array(",\"warnings\":".utf8)
            body += JSON.array([.string(Self.incompleteLogs(service.config))]).serialized()
        }
        body.append(UInt8(ascii: "}"))
        var response = QueryResponse(status: .ok, body: body)
        response.headers.append(("Otelsink-Logs-Cursor", LogSearchResult.text(found.cursor)))
        if !found.complete { response.headers.append(("Otelsink-Search-Incomplete", Self.incompleteLogs(service.config))) }
        return response
    }

    static func incompleteLogs(_ config: QueryConfig) -> String {
        "search stopped after its time budget (\(DurationFormat.text(config.timeBudget))); results may be incomplete"
    }

    func parseLogSearch(_ q: QueryParameters) throws(BadParameter) -> LogSearch {
        var s = LogSearch()
        s.service = q.first("service", "query.service_name")
        if let t = q.first("trace_id") {
            guard let id = QueryValues.traceID(t) else {
                throw Self.bad(BadParameter("trace_id", "expected up to 32 hex digits, not all zero; got \(QueryValues.quoted(t))"))
            }
            s.traceID = id
        }
        if let t = q.first("span_id") {
            guard let id = QueryValues.spanID(t) else {
                throw Self.bad(BadParameter("span_id", "expected up to 16 hex digits, not all zero; got \(QueryValues.quoted(t))"))
            }
            s.spanID = id
        }
        if let t = q.first("severity_min") {
            guard let n = LogStreamLabels.minimumSeverity(t) else {
                throw Self.bad(
                    BadParameter(
                        "severity_min", "expected trace, debug, info, warn, error, fatal or a number from 0 to 24; got \(QueryValues.quoted(t))"))
            }
            s.minSeverity = n
        }
        s.contains = q.all("q").filter { !$0.isEmpty }
        if let re = q.first("re") {
            do { _ = try LogSearch.compile(re, parameter: "re") } catch { throw Self.bad(error) }
            s.pattern = re
        }
        func time(_ name: String) throws(BadParameter) -> Int64? {
            guard let t = q.first(name) else { return nil }
            if let n = Int64(t) { return n }
            guard let v = QueryValues.rfc3339(t) else {
                throw Self.bad(
                    BadParameter(name, "expected an RFC 3339 time like 2024-05-01T12:00:00.5Z or Unix nanoseconds, got \(QueryValues.quoted(t))"))
            }
            return v
        }
        s.start = try time("start") ?? 0
        s.end = try time("end") ?? .max
        if s.start > s.end { throw Self.bad(BadParameter("end", "must not be before start")) }
        do { s.limit = try V1.limit(q.first("limit"), "limit", service.config) } catch { throw Self.bad(error) }
        if q.first("limit") == nil { s.limit = 100 }
        if let after = q.first("after") {
            guard let cursor = LogSearchResult.cursor(after) else {
                throw Self.bad(
                    BadParameter("after", "expected a cursor from an Otelsink-Logs-Cursor header (partition:row,…), got \(QueryValues.quoted(after))")
                )
            }
            s.after = cursor
        }
        switch q.first("direction") ?? "backward" {
        case "backward": s.newestFirst = true
        case "forward": s.newestFirst = false
        case let other: throw Self.bad(BadParameter("direction", "expected backward or forward, got \(QueryValues.quoted(other))"))
        }
        return s
    }
}
