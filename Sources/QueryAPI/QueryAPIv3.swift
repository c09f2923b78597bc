import CollectorCore
import Foundation
import NIOHTTP1
import OTLP
import SQLiteStore

/// Jaeger's `/api/v3/…` endpoints: traces as OTLP JSON (`{"result": {"resourceSpans": […]}}`), errors as
/// `{"error": {"httpCode", "message"}}`. Parameters are accepted in snake_case and in camelCase.
struct V3 {
    let service: TraceQueryService
    let now: @Sendable () -> Int64

    static func error(_ status: HTTPResponseStatus, _ message: String) -> QueryResponse {
        QueryResponse(
            status: status,
            json: .object([
                ("error", .object([("httpCode", .int(Int64(status.code))), ("message", .string(message))]))
            ]))
    }

    func services() async throws -> QueryResponse {
        let names = try await service.services()
        return QueryResponse(json: .object([("services", .array(names.map(JSON.string)))]))
    }

    func operations(_ q: QueryParameters) async throws -> QueryResponse {
        guard let name = q.first("service") else { throw Self.bad(.required("service")) }
        var kind: Int?
        if let text = q.first("span_kind", "spanKind") {
            guard let k = SpanKindName.kind(text) else {
                throw Self.bad(
                    BadParameter(
                        "span_kind", "expected one of server, client, producer, consumer, internal, unspecified; got \(QueryValues.quoted(text))"))
            }
            kind = k
        }
        let ops = try await service.operations(service: name, kind: kind)
        return QueryResponse(
            json: .object([
                (
                    "operations",
                    .array(
                        ops.map {
                            .object([("name", .string($0.name)), ("spanKind", .string(SpanKindName.name($0.kind) ?? ""))])
                        })
                )
            ]))
    }

    func trace(_ idText: String) async throws -> QueryResponse {
        guard let id = QueryValues.traceID(idText) else {
            throw Self.bad(BadParameter("trace_id", "expected up to 32 hex digits, not all zero; got \(QueryValues.quoted(idText))"))
        }
        guard let (trace, truncated, _) = try await service.trace(id: id) else { return Self.error(.notFound, "trace not found") }
        var response = try Self.result(trace, warnings: truncated ? [ReadNotes.truncated(service.config)] : [])
        BackgroundRelease.release(consume trace)
        response.headers += ReadNotes.headers(truncated: truncated, config: service.config)
        return response
    }

    /// The trace's critical path (``CriticalPath``) as `{"result": {…}}`.
    func criticalPath(_ idText: String) async throws -> QueryResponse {
        guard let id = QueryValues.traceID(idText) else {
            throw Self.bad(BadParameter("trace_id", "expected up to 32 hex digits, not all zero; got \(QueryValues.quoted(idText))"))
        }
        // The path needs each span's IDs, service, name and times: read from the columns, no span body decoded.
        guard let (spans, truncated) = try await service.outlines(id: id) else { return Self.error(.notFound, "trace not found") }
        guard let path = CriticalPath(spans) else { return Self.error(.notFound, "the trace has no span to start a critical path from") }
        var response = QueryResponse(json: .object([("result", path.json(traceID: id))]))
        response.headers += ReadNotes.headers(truncated: truncated, config: service.config)
        return response
    }

    /// `GET /api/v3/baselines?limit=N` (default 20, capped at `max_limit`): the operations whose recent p99 moved most
    /// against their latency baseline, as
    /// `{"result": {"operations": [{service, operation, spanKind, baselineP99Nanos, recentP99Nanos, ratio, …}]}}`.
    func baselines(_ q: QueryParameters) async throws -> QueryResponse {
        // As for searches: at most max_limit, however many are asked for.
        var limit = min(20, service.config.maxLimit)
        if let text = q.first("limit") {
            guard let n = Int(text), n >= 1 else {
                throw Self.bad(BadParameter("limit", "expected a positive number, got \(QueryValues.quoted(text))"))
            }
            limit = min(n, service.config.maxLimit)
        }
        let shifts = try await service.latencyShifts(now: now(), limit: limit)
        return QueryResponse(json: .object([("result", .object([("operations", .array(shifts.map(\.json)))]))]))
    }

    /// The trace's spans flagged as unusually slow at ingest, slowest against its baseline first, as
    /// `{"result": {"traceId", "anomalies": [{spanId, durationNanos, baselineP99Nanos, ratio}]}}`.
    func anomalies(_ idText: String) async throws -> QueryResponse {
        guard let id = QueryValues.traceID(idText) else {
            throw Self.bad(BadParameter("trace_id", "expected up to 32 hex digits, not all zero; got \(QueryValues.quoted(idText))"))
        }
        guard let (_, truncated, anomalies) = try await service.trace(id: id) else { return Self.error(.notFound, "trace not found") }
        let list: [JSON] = anomalies.sorted {
            $0.value.ratio != $1.value.ratio ? $0.value.ratio > $1.value.ratio : $0.key.lexicographicallyPrecedes($1.key)
        }
        .map { spanID, a in
            .object([
                ("spanId", .string(JaegerTrace.hex(spanID))), ("durationNanos", .string(String(a.durationNanos))),
                ("baselineP99Nanos", .string(String(a.baselineP99Nanos))), ("ratio", .double((a.ratio * 100).rounded() / 100)),
            ])
        }
        var response = QueryResponse(json: .object([("result", .object([("traceId", .string(JaegerTrace.hex(id))), ("anomalies", .array(list))]))]))
        response.headers += ReadNotes.headers(truncated: truncated, config: service.config)
        return response
    }

    /// What differs from trace A to trace B (``TraceDiff``) as `{"result": {…}}`.
    func diff(_ aText: String, _ bText: String) async throws -> QueryResponse {
        guard let idA = QueryValues.traceID(aText) else {
            throw Self.bad(BadParameter("trace_id_a", "expected up to 32 hex digits, not all zero; got \(QueryValues.quoted(aText))"))
        }
        guard let idB = QueryValues.traceID(bText) else {
            throw Self.bad(BadParameter("trace_id_b", "expected up to 32 hex digits, not all zero; got \(QueryValues.quoted(bText))"))
        }
        // The two traces are read and prepared side by side (the store's reader pool serves both reads).
        async let readA = prepared(idA)
        async let readB = prepared(idB)
        let (a, b) = try await (readA, readB)
        guard let a else { return Self.error(.notFound, "trace \(aText) not found") }
        guard let b else { return Self.error(.notFound, "trace \(bText) not found") }
        let truncated = a.truncated || b.truncated
        let diff = TraceDiff(a.tree, b.tree)
        var writer = JSONWriter(capacity: 256 + 600 * (diff.changed.count + diff.onlyInA.count + diff.onlyInB.count))
        writer.beginObject()
        writer.key("result")
        diff.write(into: &writer)
        writer.endObject()
        var response = QueryResponse(status: .ok, body: writer.bytes)
        response.headers += ReadNotes.headers(truncated: truncated, config: service.config)
        return response
    }

    private func prepared(_ id: Data) async throws -> (tree: TraceDiff.Tree, truncated: Bool)? {
        guard let (spans, truncated) = try await service.summaries(id: id) else { return nil }
        return (TraceDiff.Tree(id: id, spans: spans), truncated)
    }

    func search(_ q: QueryParameters) async throws -> QueryResponse {
        let query = try parseSearch(q)
        let (traces, complete, read) = try await service.search(query)
        guard !traces.isEmpty else { return Self.error(.notFound, "No traces found") }
        var combined = ExportTraceRequest()
        for t in traces { combined.resourceSpans += t.resourceSpans }
        var response = try Self.result(combined, warnings: ReadNotes.searchErrors(read, config: service.config))
        response.headers += ReadNotes.headers(truncated: !read.complete, config: service.config)
        if !complete {
            response.headers.append(
                (
                    "Otelsink-Search-Incomplete",
                    "search stopped after its time budget (\(DurationFormat.text(service.config.timeBudget))); results may be incomplete"
                ))
        }
        return response
    }

    func parseSearch(_ q: QueryParameters) throws(BadParameter) -> TraceSearchQuery {
        guard let name = q.first("query.service_name", "query.serviceName") else { throw Self.bad(.required("query.service_name")) }
        var tags: [TagFilter] = []
        if let json = q.first("query.attributes") {
            do { tags = try QueryValues.tagsJSON(json) } catch { throw Self.bad(BadParameter("query.attributes", error.message)) }
        }
        if tags.count > service.config.maxTagCriteria {
            throw Self.bad(
                BadParameter("query.attributes", "at most \(service.config.maxTagCriteria) attribute criteria per search, got \(tags.count)"))
        }
        func duration(_ names: String...) throws(BadParameter) -> Int64? {
            for n in names {
                guard let t = q.first(n) else { continue }
                guard let d = QueryValues.goDuration(t) else {
                    throw Self.bad(BadParameter(n, "expected a duration like 200ms, 1.5s or 1h30m, got \(QueryValues.quoted(t))"))
                }
                return d
            }
            return nil
        }
        func time(_ names: String...) throws(BadParameter) -> Int64? {
            for n in names {
                guard let t = q.first(n) else { continue }
                guard let v = QueryValues.rfc3339(t) else {
                    throw Self.bad(BadParameter(n, "expected an RFC 3339 time like 2024-05-01T12:00:00.5Z, got \(QueryValues.quoted(t))"))
                }
                return v
            }
            return nil
        }
        let minDuration = try duration("query.duration_min", "query.durationMin")
        let maxDuration = try duration("query.duration_max", "query.durationMax")
        if let lo = minDuration, let hi = maxDuration, hi < lo {
            throw Self.bad(BadParameter("query.duration_max", "must not be less than query.duration_min"))
        }
        let end = try time("query.start_time_max", "query.startTimeMax") ?? now()
        let lookback = Int64(service.config.defaultLookback.components.seconds) * 1_000_000_000
        let start = try time("query.start_time_min", "query.startTimeMin") ?? (end - lookback)
        if start > end { throw Self.bad(BadParameter("query.start_time_max", "must not be before query.start_time_min")) }
        let limitName = ["query.search_depth", "query.searchDepth", "query.num_traces"].first { q.first($0) != nil } ?? "query.search_depth"
        let limit: Int
        do { limit = try V1.limit(q.first(limitName), limitName, service.config) } catch { throw Self.bad(error) }
        return TraceSearchQuery(
            service: name, operation: q.first("query.operation_name", "query.operationName"), tags: tags,
            minDuration: minDuration, maxDuration: maxDuration, startMin: start, startMax: end, limit: limit,
            timeBudget: service.config.timeBudget)
    }

    /// Jaeger v3's wording for a bad parameter: `malformed parameter NAME: …`.
    static func bad(_ b: BadParameter) -> BadParameter {
        var b = b
        b.description = b.message == "is required" ? "parameter '\(b.name)' is required" : "malformed parameter \(b.name): \(b.message)"
        return b
    }

    /// A large trace's spans written on every core at once (as ``JaegerTrace`` writes them).
    static let spanRanges = OTLPJSON.SpanRanges(minimumPerRange: JaegerTrace.parallelWriteMinimum) { count, write in
        ParallelRanges.map(count: count, minimumPerRange: JaegerTrace.parallelWriteMinimum, write)
    }

    /// `{"result": <OTLP JSON>}`, the protobuf JSON mapping (lossless: every OTLP field), with `"warnings"` when
    /// the response's span cap or time budget left something out.
    static func result(_ trace: ExportTraceRequest, warnings: [String] = []) throws -> QueryResponse {
        var body = try OTLPJSON.encode(trace, after: Array("{\"result\":".utf8), split: spanRanges)
        if !warnings.isEmpty {
            body += Array(",\"warnings\":".utf8)
            body += JSON.array(warnings.map(JSON.string)).serialized()
        }
        body.append(UInt8(ascii: "}"))
        return QueryResponse(status: .ok, body: body)
    }
}
