import Foundation
import NIOHTTP1
import OTLP
import SQLiteStore

/// Loki's HTTP API over the stored log records, for Grafana's Loki data source and `logcli`:
/// `/loki/api/v1/labels`, `/label/{name}/values`, `/series`, `/query_range` and `/query` (LogQL, see
/// ``LogQLParser``). A stream is a resource, scope and level (``LogStreamLabels``); each record's attributes and its
/// trace and span IDs are its structured metadata. Errors are answered as Loki does: 400 with the message as
/// plain text.
struct LokiAPI {
    let service: TraceQueryService
    let now: @Sendable () -> Int64

    static func error(_ status: HTTPResponseStatus, _ message: String) -> QueryResponse {
        var r = QueryResponse(status: status, body: Array(message.utf8))
        r.contentType = "text/plain; charset=utf-8"
        return r
    }

    func labels(_ q: QueryParameters) async throws -> QueryResponse {
        let (start, end) = try LokiParameters.bounds(q, nowNanos: now())
        let selector = try q.first("query").map { text throws(LogQLError) in try LogQLParser.parseStreamSelector(text, requireNonEmptyMatcher: true) }
        let streams = try await matchingStreams(start: start, end: end, matchers: selector.map { [$0] } ?? [])
        return QueryResponse(json: LokiResponse.strings(streams.flatMap { $0.labels.filter { !$0.value.isEmpty }.map(\.key) }))
    }

    func labelValues(_ name: String, _ q: QueryParameters) async throws -> QueryResponse {
        let (start, end) = try LokiParameters.bounds(q, nowNanos: now())
        let selector = try q.first("query").map { text throws(LogQLError) in try LogQLParser.parseStreamSelector(text, requireNonEmptyMatcher: true) }
        let streams = try await matchingStreams(start: start, end: end, matchers: selector.map { [$0] } ?? [])
        return QueryResponse(json: LokiResponse.strings(streams.compactMap { $0.labels[name] }.filter { !$0.isEmpty }))
    }

    func series(_ q: QueryParameters) async throws -> QueryResponse {
        let (start, end) = try LokiParameters.bounds(q, nowNanos: now())
        let selectors = try (q.all("match[]") + q.all("match")).filter { !$0.isEmpty }.map { text throws(LogQLError) in
            try LogQLParser.parseStreamSelector(text, requireNonEmptyMatcher: false)
        }
        let streams = try await matchingStreams(start: start, end: end, matchers: selectors)
        var seen = Set<[String]>()
        let sets = streams.map { $0.labels.filter { !$0.value.isEmpty } }.filter {
            seen.insert($0.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] }).inserted
        }
        return QueryResponse(json: LokiResponse.series(sets))
    }

    /// `/query_range`: a log query answers streams, a metric query a matrix.
    func queryRange(_ q: QueryParameters, categorizeLabels: Bool) async throws -> QueryResponse {
        let p = try LokiParameters.range(q, nowNanos: now(), maxLimit: service.config.maxLimit * 5)
        let began = ContinuousClock.now
        switch try LogQLParser.parse(p.query) {
        case .logs(let selector):
            var collector = LokiStreamCollector(
                selector: selector, startNanos: p.startNanos, endNanos: p.endNanos, limit: p.limit, direction: p.direction,
                categorizeLabels: categorizeLabels)
            collector = try await collect(collector)
            var stats = collector.statistics
            stats.execTimeSeconds = Self.seconds(ContinuousClock.now - began)
            return QueryResponse(json: LokiResponse.streams(collector.streams(), statistics: stats, categorizeLabels: categorizeLabels))
        case .metric(let metric):
            var evaluator = try LogQLMetricEvaluator(query: metric, startNanos: p.startNanos, endNanos: p.endNanos, stepNanos: p.stepNanos)
            evaluator = try await evaluate(evaluator)
            var stats = evaluator.statistics
            stats.execTimeSeconds = Self.seconds(ContinuousClock.now - began)
            return QueryResponse(json: LokiResponse.matrix(evaluator.matrix(), statistics: stats))
        }
    }

    /// `/query`: an instant metric query answers a vector; a log query is refused as Loki refuses it.
    func query(_ q: QueryParameters) async throws -> QueryResponse {
        let p = try LokiParameters.instant(q, nowNanos: now(), maxLimit: service.config.maxLimit * 5)
        let began = ContinuousClock.now
        switch try LogQLParser.parse(p.query) {
        case .logs:
            throw LogQLError.logQueryAsInstantQuery
        case .metric(let metric):
            var evaluator = try LogQLMetricEvaluator(query: metric, timeNanos: p.timeNanos)
            evaluator = try await evaluate(evaluator)
            var stats = evaluator.statistics
            stats.execTimeSeconds = Self.seconds(ContinuousClock.now - began)
            return QueryResponse(json: LokiResponse.vector(evaluator.vector(), statistics: stats))
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    // MARK: - Reading

    /// Streams with records between `start` and `end` whose labels satisfy any of `matchers` (every matcher of
    /// one selector); all streams when there are none.
    private func matchingStreams(start: Int64, end: Int64, matchers: [[LabelMatcher]]) async throws -> [LogStream] {
        let streams = try await service.run { try LogReader($0).streams(start: start, end: end) }
        guard !matchers.isEmpty else { return streams }
        return streams.filter { s in matchers.contains { set in set.allSatisfy { $0.matches(s.labels[$0.name] ?? "") } } }
    }

    /// Feeds the collector the candidate records in its direction until it can take no more, the candidates run
    /// out or the time budget ends (then the answer is what was found, as Loki answers a partial query).
    ///
    /// A query that filters lines reads the line of every record of its streams in the range (a substring that
    /// matches little reads them all), so its range is read as two parts of about as many records at once, one per
    /// core, and the parts' answers are joined in the query's direction — as Loki's query frontend splits a query
    /// by time.
    private func collect(_ initial: LokiStreamCollector) async throws -> LokiStreamCollector {
        let (start, end) = (initial.startNanos, initial.endNanos)
        guard initial.selector.filtersLines, start < end,
            let split = try await service.run({ try LogReader($0).splitTime(start: start, end: end &- 1, minimumRecords: Self.minimumSplitRecords) }),
            start < split, split < end
        else {
            return try await collect(initial, from: start, to: end)
        }
        async let earlier = collect(initial, from: start, to: split)
        async let later = collect(initial, from: split, to: end)
        var (first, second) = initial.direction == .backward ? (try await later, try await earlier) : (try await earlier, try await later)
        first.append(second)
        return first
    }

    /// Ranges with fewer records (of all streams) are read in one piece.
    static let minimumSplitRecords: Int64 = 20_000

    /// ``collect(_:)`` over the records from `start` to before `end`.
    private func collect(_ initial: LokiStreamCollector, from start: Int64, to end: Int64) async throws -> LokiStreamCollector {
        let budget = service.config.timeBudget
        return try await service.run { reader in
            var collector = initial
            var (query, labels) = try Self.candidates(initial.selector, in: LogReader(reader), start: start, end: end &- 1)
            query.newestFirst = initial.direction == .backward
            query.timeBudget = budget
            let deadline = ContinuousClock.now + budget
            var seen = 0
            try LogReader(reader).scan(query) { row in
                seen += 1
                if seen % 512 == 0 {
                    if ContinuousClock.now > deadline { return false }
                    if let cutoff = collector.cutoffNanos {
                        if initial.direction == .backward ? row.time < cutoff : row.time > cutoff { return false }
                    }
                }
                collector.add(try Self.entry(row, streamLabels: labels[row.stream] ?? [:]))
                return true
            }
            return collector
        }
    }

    private func evaluate(_ initial: LogQLMetricEvaluator) async throws -> LogQLMetricEvaluator {
        let budget = service.config.timeBudget
        return try await service.run { reader in
            var evaluator = initial
            let range = initial.entryTimeRange
            var (query, labels) = try Self.candidates(initial.query.selector, in: LogReader(reader), start: range.lowerBound, end: range.upperBound)
            query.timeBudget = budget
            let deadline = ContinuousClock.now + budget
            var seen = 0
            var failure: LogQLError?
            let tooSlow = LogQLError(
                .limit, "the query did not finish within the time budget (\(DurationFormat.text(budget))); narrow the selector or the time range")
            let finished = try LogReader(reader).scan(query) { row in
                seen += 1
                if seen % 512 == 0, ContinuousClock.now > deadline {
                    failure = tooSlow
                    return false
                }
                let entry = try Self.entry(row, streamLabels: labels[row.stream] ?? [:])
                do throws(LogQLError) { try evaluator.add(entry) } catch {
                    failure = error
                    return false
                }
                return true
            }
            if let failure { throw failure }
            if !finished { throw tooSlow }
            return evaluator
        }
    }

    /// The store query that narrows candidates for `selector`: its streams, its `|=` substrings, and a trace or
    /// span ID it filters on exactly. Every candidate still goes through the whole selector. Also returns the labels
    /// of the streams it reads, by stream id.
    static func candidates(
        _ selector: LogSelector, in reader: LogReader, start: Int64, end: Int64
    ) throws -> (query: LogQuery, labels: [Int64: [String: String]]) {
        var query = LogQuery()
        query.start = start
        query.end = end
        let streams = try reader.streams(start: start, end: end).filter { selector.matchesStream($0.labels) }
        query.streams = Set(streams.map(\.id))
        query.lineContains = selector.lineContains
        let equals = selector.labelEquals
        // Where a stream has a `trace_id` (or `span_id`) label (a resource attribute of that name), the filter reads
        // that label and the record's own ID is `trace_id_extracted`: the record's ID cannot narrow then.
        func isStreamLabel(_ name: String) -> Bool { streams.contains { !($0.labels[name] ?? "").isEmpty } }
        if let t = equals["trace_id"], let id = QueryValues.traceID(t), t.count == 32, !isStreamLabel("trace_id") { query.traceID = id }
        if let s = equals["span_id"], let id = QueryValues.spanID(s), s.count == 16, !isStreamLabel("span_id") { query.spanID = id }
        return (query, Dictionary(streams.map { ($0.id, $0.labels) }, uniquingKeysWith: { a, _ in a }))
    }

    /// A stored row as LogQL sees it: its stream's labels, its line, and as structured metadata its attributes
    /// (names made label names) and its trace and span IDs in hex. Throws when the stored record cannot be read (a
    /// filter on its attributes would otherwise answer wrongly).
    static func entry(_ row: StoredLogRow, streamLabels: [String: String]) throws -> LogQLEntry {
        var metadata: [String: String] = [:]
        for kv in try row.logRecord().attributes { metadata[LogStreamLabels.labelName(kv.key)] = AttributeText.text(kv.value) }
        if let t = row.traceID { metadata["trace_id"] = JaegerTrace.idHex(t) }
        if let s = row.spanID { metadata["span_id"] = JaegerTrace.idHex(s) }
        return LogQLEntry(timestampNanos: row.time, line: row.line, streamLabels: streamLabels, structuredMetadata: metadata)
    }
}
