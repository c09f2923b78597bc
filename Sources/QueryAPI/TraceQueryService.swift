import Dispatch
import Foundation
import OTLP
import SQLiteStore

/// The query operations over a ``TraceReader``, run off the Swift concurrency pool (SQLite calls block). Used by
/// the HTTP API and by the CLI's `--db` mode, so both answer the same way.
public struct TraceQueryService: Sendable {
    public let reader: TraceReader
    public let config: QueryConfig
    private static let queue = DispatchQueue(label: "otelsink.query", attributes: .concurrent)
    /// Tasks that prefer it run on the same queue as the reads (see ``QueryExecutor``).
    public static let executor = QueryExecutor(queue: queue)
    /// True in a task that runs where blocking reads belong (the HTTP API's requests, on ``executor`` or on one of
    /// the query API's own event loops): ``run(_:)`` then reads on the current thread instead of handing the read to
    /// another.
    @TaskLocal public static var readsInPlace = false

    public init(reader: TraceReader, config: QueryConfig = QueryConfig()) {
        self.reader = reader
        self.config = config
    }

    /// Runs `work` on a dispatch queue (GRDB's pool bounds concurrent readers).
    func run<T: Sendable>(_ work: @escaping @Sendable (TraceReader) throws -> T) async throws -> T {
        let reader = self.reader
        if Self.readsInPlace { return try work(reader) }
        return try await withCheckedThrowingContinuation { continuation in
            Self.queue.async { continuation.resume(with: Result { try work(reader) }) }
        }
    }

    public func services() async throws -> [String] { try await run { try $0.services() } }

    public func operations(service: String?, kind: Int?) async throws -> [OperationInfo] {
        try await run { try $0.operations(service: service, kind: kind) }
    }

    /// The limits one response is read under: ``QueryConfig/maxSpansPerResponse`` and the time budget from now.
    func readLimits() -> TraceReadLimits {
        TraceReadLimits(maxSpans: config.maxSpansPerResponse, deadline: .now + config.timeBudget)
    }

    /// One trace, at most ``QueryConfig/maxSpansPerResponse`` of its spans (`truncated` says when it has more).
    /// `anomalies`: its spans flagged as unusually slow at ingest, by span ID.
    public func trace(id: Data) async throws -> (trace: ExportTraceRequest, truncated: Bool, anomalies: [Data: SpanAnomaly])? {
        let limits = readLimits()
        let read = try await run { try $0.traces(ids: [id], limits: limits) }
        return read.traces[id].map { ($0, read.truncated.contains(id), read.anomalies[id] ?? [:]) }
    }

    /// ``trace(id:)`` with the spans left as protobuf, for writing them out without decoding them.
    public func encodedTrace(id: Data) async throws -> (trace: EncodedStoredTrace, truncated: Bool, anomalies: [Data: SpanAnomaly])? {
        let limits = readLimits()
        let read = try await run { try $0.encodedTraces(ids: [id], limits: limits) }
        return read.traces[id].map { ($0, read.truncated.contains(id), read.anomalies[id] ?? [:]) }
    }

    /// ``traces(ids:)`` with the spans left as protobuf.
    public func encodedTraces(ids: [Data]) async throws -> BoundedReads<EncodedStoredTrace> {
        let limits = readLimits()
        return try await run { try $0.encodedTraces(ids: ids, limits: limits) }
    }

    /// The outlines of one trace's spans (columns only, no body decoded), at most ``QueryConfig/maxSpansPerResponse``.
    public func outlines(id: Data) async throws -> (spans: [SpanOutline], truncated: Bool)? {
        let limits = readLimits()
        return try await run { try $0.outlines(id: id, limits: limits) }
    }

    /// The summaries of trace `id`'s spans (outline, status, attributes as stored), within the response's span cap.
    public func summaries(id: Data) async throws -> (spans: [SpanSummary], truncated: Bool)? {
        let limits = readLimits()
        return try await run { try $0.summaries(id: id, limits: limits) }
    }

    /// Traces by ID within the response's span cap and time budget (duplicates read once).
    public func traces(ids: [Data]) async throws -> BoundedTraces {
        let limits = readLimits()
        return try await run { try $0.traces(ids: ids, limits: limits) }
    }

    /// The traces a search finds, newest first (by trace start), and whether the search saw every candidate;
    /// `read` says which traces the response's span cap or time budget cut short or left out.
    public func search(_ query: TraceSearchQuery) async throws -> (traces: [ExportTraceRequest], complete: Bool, read: BoundedTraces) {
        let limits = readLimits()
        return try await run { reader in
            let found = try reader.searchTraces(query)
            var read = try reader.traces(ids: found.traceIDs, limits: limits)
            let traces = found.traceIDs.compactMap { read.traces[$0] }
                .map { (trace: $0, start: TraceSummary($0).startNanos) }
                .sorted { $0.start > $1.start }
                .map(\.trace)
            read.traces = [:]
            return (traces, found.complete, read)
        }
    }

    /// ``search(_:)`` with the spans left as protobuf, for writing them out without decoding them.
    public func encodedSearch(_ query: TraceSearchQuery) async throws -> (
        traces: [EncodedStoredTrace], complete: Bool, read: BoundedReads<EncodedStoredTrace>
    ) {
        let limits = readLimits()
        return try await run { reader in
            let found = try reader.searchTraces(query)
            var read = try reader.encodedTraces(ids: found.traceIDs, limits: limits)
            let traces = found.traceIDs.compactMap { read.traces[$0] }.sorted { $0.startNanos > $1.startNanos }
            read.traces = [:]
            return (traces, found.complete, read)
        }
    }

    /// The operations whose recent p99 moved most against their latency baseline (``TraceReader/latencyShifts``).
    public func latencyShifts(now: Int64, limit: Int) async throws -> [LatencyShift] {
        try await run { try $0.latencyShifts(now: now, limit: limit) }
    }

    public func dependencies(startMin: Int64, startMax: Int64) async throws -> DependencyResult {
        let budget = config.timeBudget
        return try await run { try $0.dependencies(startMin: startMin, startMax: startMax, timeBudget: budget) }
    }
}

/// What a search result line shows of a trace.
public struct TraceSummary: Sendable, Equatable {
    public var traceID: Data
    public var startNanos: UInt64
    public var durationNanos: UInt64
    public var rootService: String
    public var rootName: String
    public var spanCount: Int
    public var errorCount: Int

    public init(_ trace: ExportTraceRequest) {
        var start = UInt64.max
        var end: UInt64 = 0
        var count = 0
        var errors = 0
        var root: (start: UInt64, service: String, name: String)?
        var firstSpan: (start: UInt64, service: String, name: String)?
        var id = Data()
        for rs in trace.resourceSpans {
            let service = rs.resource.attributes.stringValue("service.name") ?? "unknown_service"
            for ss in rs.scopeSpans {
                for s in ss.spans {
                    if id.isEmpty { id = s.traceID }
                    count += 1
                    if s.status.code == .error { errors += 1 }
                    start = min(start, s.startTimeUnixNano)
                    end = max(end, s.endTimeUnixNano)
                    if s.parentSpanID.isEmpty, root.map({ s.startTimeUnixNano < $0.start }) ?? true {
                        root = (s.startTimeUnixNano, service, s.name)
                    }
                    if firstSpan.map({ s.startTimeUnixNano < $0.start }) ?? true {
                        firstSpan = (s.startTimeUnixNano, service, s.name)
                    }
                }
            }
        }
        traceID = id
        startNanos = count == 0 ? 0 : start
        durationNanos = end > startNanos ? end - startNanos : 0
        // A trace whose root span has not arrived shows its earliest span, as Jaeger's UI does.
        let shown = root ?? firstSpan
        rootService = shown?.service ?? ""
        rootName = shown?.name ?? ""
        spanCount = count
        errorCount = errors
    }
}
