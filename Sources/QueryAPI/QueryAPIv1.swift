import Foundation
import NIOHTTP1
import OTLP
import SQLiteStore

/// Jaeger's `/api/…` endpoints (the Jaeger UI's and Grafana's Jaeger data source's): the `{data, total, limit,
/// offset, errors}` envelope and the Jaeger trace model.
struct V1 {
    let service: TraceQueryService
    let now: @Sendable () -> Int64

    static func envelope(data: JSON, total: Int = 0, errors: [JSON]? = nil) -> JSON {
        .object([
            ("data", data), ("total", .int(Int64(total))), ("limit", .int(0)), ("offset", .int(0)),
            ("errors", errors.map { .array($0) } ?? .null),
        ])
    }

    /// ``envelope(data:total:errors:)`` around one trace (`/api/traces/{id}`), written in one buffer: the same bytes,
    /// without copying the trace's JSON (14 MB for 10,000 spans) into the envelope after writing it.
    static func envelope(trace: EncodedStoredTrace, anomalies: [Data: [Data: SpanAnomaly]], errors: [JSON]?) throws -> [UInt8] {
        var w = JSONWriter(capacity: 256 + JaegerTrace.estimatedSize(trace))
        w.beginObject()
        w.key("data")
        w.beginArray()
        try JaegerTrace.write(trace, anomalies: anomalies, into: &w)
        w.endArray()
        w.key("total")
        w.int(0)
        w.key("limit")
        w.int(0)
        w.key("offset")
        w.int(0)
        w.key("errors")
        w.raw((errors.map { JSON.array($0) } ?? .null).serialized())
        w.endObject()
        return w.bytes
    }

    static func error(_ code: Int, _ message: String, traceID: String? = nil) -> JSON {
        var fields: [(String, JSON)] = [("code", .int(Int64(code))), ("msg", .string(message))]
        if let traceID { fields.append(("traceID", .string(traceID))) }
        return .object(fields)
    }

    func services() async throws -> QueryResponse {
        let names = try await service.services()
        return QueryResponse(json: Self.envelope(data: .array(names.map(JSON.string)), total: names.count))
    }

    /// `/api/services/{service}/operations`: operation names only.
    func legacyOperations(service name: String) async throws -> QueryResponse {
        var seen = Set<String>()
        let names = try await service.operations(service: name, kind: nil).map(\.name).filter { seen.insert($0).inserted }
        return QueryResponse(json: Self.envelope(data: .array(names.map(JSON.string)), total: names.count))
    }

    /// `/api/operations?service=&spanKind=`: `{name, spanKind}`.
    func operations(_ q: QueryParameters) async throws -> QueryResponse {
        guard let name = q.first("service") else { throw BadParameter.required("service") }
        let kind = try q.first("spanKind").map { text throws(BadParameter) in
            guard let k = SpanKindName.kind(text) else {
                throw BadParameter(
                    "spanKind", "expected one of server, client, producer, consumer, internal, unspecified; got \(QueryValues.quoted(text))")
            }
            return k
        }
        let ops = try await service.operations(service: name, kind: kind)
        let data: [JSON] = ops.map {
            .object([("name", .string($0.name)), ("spanKind", .string(SpanKindName.name($0.kind) ?? ""))])
        }
        return QueryResponse(json: Self.envelope(data: .array(data), total: data.count))
    }

    func trace(_ idText: String) async throws -> QueryResponse {
        guard let id = QueryValues.traceID(idText) else {
            throw BadParameter("traceID", "expected up to 32 hex digits, not all zero; got \(QueryValues.quoted(idText))")
        }
        guard let (trace, truncated, anomalies) = try await service.encodedTrace(id: id) else {
            return QueryResponse(status: .notFound, json: Self.envelope(data: .null, errors: [Self.error(404, "trace not found")]))
        }
        let idHex = JaegerTrace.idHex(id)
        let errors = truncated ? [Self.error(206, ReadNotes.truncated(service.config), traceID: idHex)] : nil
        var response = QueryResponse(status: .ok, body: try Self.envelope(trace: trace, anomalies: [id: anomalies], errors: errors))
        BackgroundRelease.release(consume trace)
        response.headers = ReadNotes.headers(truncated: truncated, config: service.config)
        return response
    }

    /// `/api/traces`: search, or several traces by ID (repeated `traceID=`; a repeated ID is answered once).
    func search(_ q: QueryParameters) async throws -> QueryResponse {
        let idTexts = q.all("traceID").filter { !$0.isEmpty }
        if !idTexts.isEmpty {
            var ids: [Data] = []
            var seen = Set<Data>()
            for t in idTexts {
                guard let id = QueryValues.traceID(t) else {
                    throw BadParameter("traceID", "expected up to 32 hex digits, not all zero; got \(QueryValues.quoted(t))")
                }
                if seen.insert(id).inserted { ids.append(id) }
            }
            guard ids.count <= service.config.maxLimit else {
                throw BadParameter("traceID", "at most \(service.config.maxLimit) trace IDs per request, got \(ids.count)")
            }
            let read = try await service.encodedTraces(ids: ids)
            var data: [JSON] = []
            var errors: [JSON] = []
            let unread = Set(read.unreadForSpans + read.unreadForTime)
            for id in ids {
                let idHex = JaegerTrace.idHex(id)
                if let t = read.traces[id] {
                    data.append(try JaegerTrace.json(t, anomalies: read.anomalies))
                    if read.truncated.contains(id) { errors.append(Self.error(206, ReadNotes.truncated(service.config), traceID: idHex)) }
                } else if !unread.contains(id) {
                    errors.append(Self.error(404, "trace not found", traceID: idHex))
                }
            }
            for id in read.unreadForSpans {
                errors.append(Self.error(206, ReadNotes.unreadForSpans(service.config), traceID: JaegerTrace.idHex(id)))
            }
            for id in read.unreadForTime {
                errors.append(Self.error(206, ReadNotes.unreadForTime(service.config), traceID: JaegerTrace.idHex(id)))
            }
            return QueryResponse(
                json: Self.envelope(data: .array(data), errors: errors.isEmpty ? nil : errors),
                headers: ReadNotes.headers(truncated: !read.complete, config: service.config))
        }
        let query = try parseSearch(q)
        let (traces, complete, read) = try await service.encodedSearch(query)
        var headers: [(String, String)] = []
        var errors: [JSON] = []
        if !complete {
            let message = "search stopped after its time budget (\(DurationFormat.text(service.config.timeBudget))); results may be incomplete"
            headers.append(("Otelsink-Search-Incomplete", message))
            errors.append(Self.error(206, message))
        }
        errors += ReadNotes.searchErrors(read, config: service.config).map { Self.error(206, $0) }
        headers += ReadNotes.headers(truncated: !read.complete, config: service.config)
        return QueryResponse(
            json: Self.envelope(
                data: .array(try traces.map { try JaegerTrace.json($0, anomalies: read.anomalies) }), errors: errors.isEmpty ? nil : errors),
            headers: headers)
    }

    func parseSearch(_ q: QueryParameters) throws(BadParameter) -> TraceSearchQuery {
        guard let name = q.first("service") else { throw BadParameter.required("service") }
        var tags: [TagFilter] = []
        if let json = q.first("tags") { tags += try QueryValues.tagsJSON(json) }
        for t in q.all("tag") where !t.isEmpty {
            tags.append(try QueryValues.tagPair(t, separators: [":"], parameter: "tag"))
        }
        if tags.count > service.config.maxTagCriteria {
            throw BadParameter("tags", "at most \(service.config.maxTagCriteria) tag criteria per search, got \(tags.count)")
        }
        let minDuration = try q.first("minDuration").map { t throws(BadParameter) in try Self.duration(t, "minDuration") }
        let maxDuration = try q.first("maxDuration").map { t throws(BadParameter) in try Self.duration(t, "maxDuration") }
        if let lo = minDuration, let hi = maxDuration, hi < lo {
            throw BadParameter("maxDuration", "must not be less than minDuration")
        }
        let maxMicros = Int64.max / 1000
        let end = try q.first("end").map { t throws(BadParameter) in try QueryValues.int(t, name: "end", range: 0...maxMicros) * 1000 } ?? now()
        let lookback = Int64(service.config.defaultLookback.components.seconds) * 1_000_000_000
        let start =
            try q.first("start").map { t throws(BadParameter) in try QueryValues.int(t, name: "start", range: 0...maxMicros) * 1000 }
            ?? (end - lookback)
        if start > end { throw BadParameter("end", "must not be before start") }
        return TraceSearchQuery(
            service: name, operation: q.first("operation"), tags: tags, minDuration: minDuration, maxDuration: maxDuration,
            startMin: start, startMax: end, limit: try Self.limit(q.first("limit"), "limit", service.config),
            timeBudget: service.config.timeBudget)
    }

    static func duration(_ text: String, _ name: String) throws(BadParameter) -> Int64 {
        guard let d = QueryValues.goDuration(text) else {
            throw BadParameter(name, "expected a duration like 200ms, 1.5s or 1h30m (units ns, us, ms, s, m, h), got \(QueryValues.quoted(text))")
        }
        return d
    }

    /// A limit: absent or 0 means the default; above the maximum it is lowered to the maximum.
    static func limit(_ text: String?, _ name: String, _ config: QueryConfig) throws(BadParameter) -> Int {
        guard let text else { return config.defaultLimit }
        guard let v = Int64(text), v >= 0 else {
            throw BadParameter(name, "expected a non-negative integer, got \(QueryValues.quoted(text))")
        }
        return v == 0 ? config.defaultLimit : Int(min(v, Int64(config.maxLimit)))
    }

    /// `/api/dependencies?endTs=&lookback=` (milliseconds; lookback defaults to 24 h).
    func dependencies(_ q: QueryParameters) async throws -> QueryResponse {
        let maxMillis = Int64.max / 1_000_000
        let endMillis =
            try q.first("endTs").map { t throws(BadParameter) in try QueryValues.int(t, name: "endTs", range: 0...maxMillis) } ?? now() / 1_000_000
        let lookback =
            try q.first("lookback").map { t throws(BadParameter) in try QueryValues.int(t, name: "lookback", range: 0...maxMillis) } ?? 86_400_000
        let end = endMillis * 1_000_000
        let start = max(0, end - lookback * 1_000_000)
        let result = try await service.dependencies(startMin: start, startMax: end)
        let data: [JSON] = result.links.map {
            // errorCount (calls whose child span failed) is otelsink's addition; Jaeger's clients ignore it.
            .object([
                ("parent", .string($0.parent)), ("child", .string($0.child)), ("callCount", .int(Int64($0.callCount))),
                ("errorCount", .int(Int64($0.errorCount))),
            ])
        }
        var headers: [(String, String)] = []
        var errors: [JSON]?
        if !result.complete {
            let message =
                "dependency scan stopped after its time budget (\(DurationFormat.text(service.config.timeBudget))); counts cover the newest spans only"
            headers.append(("Otelsink-Search-Incomplete", message))
            errors = [Self.error(206, message)]
        }
        return QueryResponse(json: Self.envelope(data: .array(data), total: data.count, errors: errors), headers: headers)
    }
}

enum DurationFormat {
    static func text(_ d: Duration) -> String {
        let ms = d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
        return ms % 1000 == 0 ? "\(ms / 1000)s" : "\(ms)ms"
    }
}
