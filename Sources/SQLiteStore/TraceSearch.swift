import Dispatch
import Foundation
import GRDB
import GRDBSQLite
import OTLP

/// One `key=value` criterion of a search. It matches a span when a span attribute, an event attribute or an
/// attribute of the span's resource has that key and a value whose text is `value` (`500` matches the int 500,
/// `true` the bool true), or when it names what the Jaeger view derives from the span: `span.kind=server`,
/// `otel.status_code=ERROR`, `error=true`.
public struct TagFilter: Sendable, Hashable {
    public var key: String
    public var value: String
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// A trace search: a trace matches when one of its spans matches every criterion.
public struct TraceSearchQuery: Sendable, Equatable {
    public var service: String
    /// The span name.
    public var operation: String?
    public var tags: [TagFilter] = []
    /// Span duration bounds in nanoseconds, inclusive.
    public var minDuration: Int64?
    public var maxDuration: Int64?
    /// Span start bounds in nanoseconds since the epoch, inclusive.
    public var startMin: Int64
    public var startMax: Int64
    /// At most this many traces.
    public var limit: Int
    /// The search stops when it has run this long and returns what it found, marked incomplete.
    public var timeBudget: Duration

    public init(
        service: String, operation: String? = nil, tags: [TagFilter] = [], minDuration: Int64? = nil,
        maxDuration: Int64? = nil, startMin: Int64, startMax: Int64, limit: Int, timeBudget: Duration
    ) {
        self.service = service
        self.operation = operation
        self.tags = tags
        self.minDuration = minDuration
        self.maxDuration = maxDuration
        self.startMin = startMin
        self.startMax = startMax
        self.limit = limit
        self.timeBudget = timeBudget
    }
}

/// The trace IDs a search found, newest matching span first.
public struct TraceSearchResult: Sendable, Equatable {
    public var traceIDs: [Data]
    /// False when the time budget ran out before the search had looked at every candidate span.
    public var complete: Bool
    /// Spans the search looked at.
    public var examined: Int
}

/// A service's operation (span name and OTLP span kind), from the `operations` table.
public struct OperationInfo: Sendable, Hashable {
    public var name: String
    public var kind: Int
    public init(name: String, kind: Int) {
        self.name = name
        self.kind = kind
    }
}

/// Calls from one service to another: spans of `child` whose parent span belongs to `parent`.
public struct DependencyLink: Sendable, Hashable {
    public var parent: String
    public var child: String
    public var callCount: Int
    /// The calls whose `child` span has status ERROR.
    public var errorCount: Int
}

public struct DependencyResult: Sendable, Equatable {
    public var links: [DependencyLink]
    public var complete: Bool
}

extension TraceReader {
    /// Finds traces (see ``TraceSearchQuery``): per partition, newest first, the service's spans over the time range
    /// through the partition's runs (``SpanRuns``; partitions made before them: its `(service, start_ns)` index,
    /// walked backwards), filtering on operation and duration in SQL, until `limit` distinct traces with the newest
    /// matching spans are found or the time budget runs out (SQLite's progress handler interrupts a long statement).
    /// Tag criteria are pre-filtered in SQL (the key, and a string value, must occur in the span's protobuf, or the
    /// span's resource must match) and then checked on the decoded span.
    public func searchTraces(_ q: TraceSearchQuery) throws -> TraceSearchResult {
        try reader.read { db in
            let deadline = Deadline(after: q.timeBudget)
            return try deadline.interrupting(db) {
                try search(db, q, deadline)
            }
        }
    }

    private func search(_ db: Database, _ q: TraceSearchQuery, _ deadline: Deadline) throws -> TraceSearchResult {
        var result = TraceSearchResult(traceIDs: [], complete: true, examined: 0)
        guard q.limit > 0, q.startMin <= q.startMax else { return result }
        // Every partition, newest first: a span whose start time had to be clamped on write (far in the past or
        // future) sits in a partition whose range does not contain its start, so partitions are not pruned by
        // range; a partition without matching rows costs one index probe.
        let buckets = try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions ORDER BY bucket DESC")
        // `otelsink.anomaly=true` is not in the span: it asks for spans flagged in the partition's anomaly table.
        let anomalousOnly = q.tags.contains(SpanAnomaly.tag)
        let anomalyTables = anomalousOnly ? try Self.anomalyTables(db) : []
        let matchers = try q.tags.filter { $0 != SpanAnomaly.tag }.map { try TagMatcher($0, db: db, reader: self) }
        var seen = Set<Data>()
        let bodies = spanBodies(db)
        let layout = try layouts.layout(db)
        var columns = "trace_id, resource_id"
        if !matchers.isEmpty { columns += ", body, kind, status_code" }
        /// Whether a row that passed SQL's filters meets the tag criteria too (row: `columns`).
        func meetsTags(_ row: Row) -> Bool {
            guard !matchers.isEmpty else { return true }
            let resourceID: Int64 = row[1]
            let stored: Data = row[2]
            // SQL's prefilter has searched a body stored as protobuf; a compressed one is searched here, once
            // decompressed, before it is decoded.
            let compressed = stored.first == CompressedBody.compressedMarker
            guard let bytes = try? bodies.protobuf(stored),
                !compressed || matchers.allSatisfy({ $0.mayMatch(bytes, resourceID: resourceID) }),
                var span = try? Span(serializedBytes: bytes)
            else { return false }
            // Tags on the span kind need it; it is stored in its column (see StoredSpan).
            let kind: Int = row[3]
            StoredSpan.restoreKind(&span, kind)
            return matchers.allSatisfy({ $0.matches(span, resourceID: resourceID) })
        }
        partitions: for b in buckets {
            if deadline.expired {
                result.complete = false
                break
            }
            if anomalousOnly && !anomalyTables.contains(SQLiteSchema.anomaliesTable(b)) { continue }
            // The criteria after service and start time, as SQL.
            var filters = ""
            var filterArgs: [(any DatabaseValueConvertible)?] = []
            if let op = q.operation {
                filters += " AND name = ?"
                filterArgs.append(op)
            }
            if let min = q.minDuration {
                filters += " AND duration_ns >= ?"
                filterArgs.append(min)
            }
            if let max = q.maxDuration {
                filters += " AND duration_ns <= ?"
                filterArgs.append(max)
            }
            if anomalousOnly {
                filters += " AND (trace_seq, span_id) IN (SELECT trace_seq, span_id FROM \(SQLiteSchema.anomaliesTable(b)))"
            }
            for m in matchers {
                let (clause, clauseArgs) = m.prefilter
                filters += " AND " + clause
                filterArgs += clauseArgs
            }
            if layout.withSpanRuns.contains(b) {
                let found =
                    layout.withSpanChunks.contains(b)
                    ? try searchChunks(
                        db, bucket: b, q, matchers: matchers, anomalousOnly: anomalousOnly, seen: seen, deadline: deadline,
                        examined: &result.examined)
                    : try searchRuns(
                        db, bucket: b, q, columns: columns, filters: filters, filterArgs: filterArgs, seen: seen,
                        deadline: deadline, examined: &result.examined, meetsTags: meetsTags)
                for id in found.traceIDs {
                    seen.insert(id)
                    result.traceIDs.append(id)
                }
                if !found.complete {
                    result.complete = false
                    break
                }
                if result.traceIDs.count >= q.limit { break }
                continue
            }
            let sql = """
                SELECT \(columns) FROM \(SQLiteSchema.spansTable(b)) INDEXED BY \(SQLiteSchema.spansTable(b))_service
                WHERE service = ? AND start_ns >= ? AND start_ns <= ?\(filters) ORDER BY start_ns DESC
                """
            do {
                let cursor = try Row.fetchCursor(db, sql: sql, arguments: StatementArguments([q.service, q.startMin, q.startMax] + filterArgs))
                while let row = try cursor.next() {
                    result.examined += 1
                    let traceID: Data = row[0]
                    if seen.contains(traceID) || !meetsTags(row) { continue }
                    seen.insert(traceID)
                    result.traceIDs.append(traceID)
                    if result.traceIDs.count >= q.limit { break partitions }
                    if result.examined % 512 == 0, deadline.expired {
                        result.complete = false
                        break partitions
                    }
                }
            } catch let error as DatabaseError where error.resultCode == .SQLITE_INTERRUPT {
                result.complete = false
                break
            }
        }
        return result
    }

    /// One partition's part of a search through its runs (``SpanRuns``): the traces not in `seen` with the newest
    /// matching spans, at most as many as the search still needs, newest first — what walking an index on
    /// (service, start_ns) backwards would find. Runs come latest start first but overlap in time, so the spans
    /// they hold are kept in ``NewestTraces`` and the walk stops when no run left can hold a newer one.
    private func searchRuns(
        _ db: Database, bucket b: Int64, _ q: TraceSearchQuery, columns: String, filters: String,
        filterArgs: [(any DatabaseValueConvertible)?], seen: Set<Data>, deadline: Deadline, examined: inout Int,
        meetsTags: (Row) -> Bool
    ) throws -> (traceIDs: [Data], complete: Bool) {
        var newest = NewestTraces(capacity: q.limit - seen.count)
        let startColumn = columns.split(separator: ",").count  // start_ns, then rowid, after `columns`
        // Prepared per search, not cached: the filters' SQL varies with the query (a tag's resources, for one).
        let rows = try db.makeStatement(
            sql: """
                SELECT \(columns), start_ns, rowid FROM \(SQLiteSchema.spansTable(b))
                WHERE rowid BETWEEN ? AND ? AND service = ? AND start_ns >= ? AND start_ns <= ?\(filters)
                """)
        var complete = true
        do {
            let runs = try SpanRuns.candidates(db, bucket: b, service: q.service, startMin: q.startMin, startMax: q.startMax)
            runs: while let run = try runs.next() {
                let latest: Int64 = run[0]
                if newest.isFull, let least = newest.smallest(), least.start > latest { break }
                let first: Int64 = run[1]
                let last: Int64 = run[2]
                let cursor = try Row.fetchCursor(rows, arguments: StatementArguments([first, last, q.service, q.startMin, q.startMax] + filterArgs))
                while let row = try cursor.next() {
                    examined += 1
                    let traceID: Data = row[0]
                    let key = NewestTraces.Key(start: row[startColumn], row: row[startColumn + 1])
                    if !seen.contains(traceID), newest.admits(traceID, key), meetsTags(row) { newest.add(traceID, key) }
                    if examined % 512 == 0, deadline.expired {
                        complete = false
                        break runs
                    }
                }
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_INTERRUPT {
            complete = false
        }
        return (newest.newestFirst(), complete)
    }

    /// Several traces at once; traces not stored are absent from the result.
    public func traces(ids: [Data]) throws -> [Data: ExportTraceRequest] {
        guard !ids.isEmpty else { return [:] }
        let lookup = TraceIDLookup(tails: tails, ids: ids)
        return try reader.read { db in
            let layout = try layouts.layout(db)
            var rows: [Data: [StoredSpan]] = [:]
            for id in Set(ids) {
                let numbers = try traceNumbers(db, id: id, lookup: lookup, layout: layout)
                try forEachStoredSpan(db, id: id, numbers: numbers) { span in
                    rows[id, default: []].append(span)
                    return true
                }
            }
            var out: [Data: ExportTraceRequest] = [:]
            for (id, spanRows) in rows { out[id] = try assemble(db, spanRows) }
            return out
        }
    }

    /// The operations of `service` (all services when nil), optionally of one OTLP span kind, sorted by name.
    public func operations(service: String?, kind: Int? = nil) throws -> [OperationInfo] {
        try reader.read { db in
            var sql = "SELECT name, kind FROM operations"
            var clauses: [String] = []
            var args: [(any DatabaseValueConvertible)?] = []
            if let service {
                clauses.append("service = ?")
                args.append(service)
            }
            if let kind {
                clauses.append("kind = ?")
                args.append(kind)
            }
            if !clauses.isEmpty { sql += " WHERE " + clauses.joined(separator: " AND ") }
            sql += " ORDER BY name, kind"
            return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map {
                OperationInfo(name: $0[0], kind: $0[1])
            }
        }
    }

    /// One partition's calls between services among spans that started in `[?1, ?2]`. A child's parent is found at
    /// its span ID's places in its trace's rows when the partition's rows are clustered by trace (`clusteredKey`: the
    /// file's key of span slots, ``SpanSlots``), else through the index on (trace_seq, span_id). Children outside and
    /// parents inside (CROSS JOIN keeps that order), NOT INDEXED: otherwise SQLite builds an automatic index over the
    /// whole partition for the join.
    static func dependenciesSQL(bucket: Int64, clusteredKey: Int64?) -> String {
        let t = SQLiteSchema.spansTable(bucket)
        let pairs: String
        if let key = clusteredKey {
            let slot = "(c.trace_seq << 32) + \(SpanSlots.functionName)(c.parent_span_id, \(key))"
            pairs = "\(t) c NOT INDEXED CROSS JOIN \(t) p NOT INDEXED ON p.rowid BETWEEN \(slot) AND \(slot) + \(SpanSlots.probes - 1)"
        } else {
            pairs = "\(t) c JOIN \(t) p ON p.trace_seq = c.trace_seq"
        }
        return """
            SELECT p.service, c.service, count(*), sum(c.status_code = 2)
            FROM \(pairs) AND p.span_id = c.parent_span_id
            WHERE c.start_ns >= ? AND c.start_ns <= ? AND p.service != c.service
            GROUP BY p.service, c.service
            """
    }

    /// Service-to-service calls among spans that started in `[startMin, startMax]`: a child span whose parent (in
    /// the same partition) belongs to another service counts one call. Scans every span in the range, bounded by
    /// `timeBudget` (then `complete` is false and the counts cover the partitions read so far, newest first).
    public func dependencies(startMin: Int64, startMax: Int64, timeBudget: Duration) throws -> DependencyResult {
        struct Pair: Hashable {
            var parent: String
            var child: String
        }
        return try reader.read { db in
            let deadline = Deadline(after: timeBudget)
            return try deadline.interrupting(db) {
                var counts: [Pair: (calls: Int, errors: Int)] = [:]
                var complete = true
                let buckets = try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions ORDER BY bucket DESC")
                let layout = try layouts.layout(db)
                let clustered = layout.withClusteredRows
                let key = try SpanSlots.key(db)
                for b in buckets {
                    if layout.withSpanChunks.contains(b) {
                        do {
                            let finished = try chunkDependencies(db, bucket: b, startMin: startMin, startMax: startMax, deadline: deadline) {
                                parent, child, error in
                                let before = counts[Pair(parent: parent, child: child), default: (0, 0)]
                                counts[Pair(parent: parent, child: child)] = (before.calls + 1, before.errors + (error ? 1 : 0))
                            }
                            if !finished {
                                complete = false
                                break
                            }
                        } catch let error as DatabaseError where error.resultCode == .SQLITE_INTERRUPT {
                            complete = false
                            break
                        }
                        continue
                    }
                    let clusteredKey = clustered.contains(b) ? key : nil
                    if clustered.contains(b), clusteredKey == nil { continue }
                    do {
                        let rows = try Row.fetchAll(
                            db,
                            sql: Self.dependenciesSQL(bucket: b, clusteredKey: clusteredKey), arguments: [startMin, startMax])
                        for r in rows {
                            let before = counts[Pair(parent: r[0], child: r[1]), default: (0, 0)]
                            counts[Pair(parent: r[0], child: r[1])] = (before.calls + (r[2] as Int), before.errors + (r[3] as Int))
                        }
                    } catch let error as DatabaseError where error.resultCode == .SQLITE_INTERRUPT {
                        complete = false
                        break
                    }
                }
                let links = counts.map {
                    DependencyLink(parent: $0.key.parent, child: $0.key.child, callCount: $0.value.calls, errorCount: $0.value.errors)
                }
                .sorted { ($0.parent, $0.child) < ($1.parent, $1.child) }
                return DependencyResult(links: links, complete: complete)
            }
        }
    }
}

/// A point in time after which a query stops; while a statement runs, SQLite's progress handler checks it.
final class Deadline {
    private let end: UInt64

    init(after budget: Duration) {
        let (s, attos) = budget.components
        let nanos = max(0, s) &* 1_000_000_000 &+ attos / 1_000_000_000
        end = DispatchTime.now().uptimeNanoseconds &+ UInt64(clamping: nanos)
    }

    var expired: Bool { DispatchTime.now().uptimeNanoseconds >= end }

    /// Runs `body` with a progress handler that interrupts the running statement once the deadline has passed
    /// (the statement then throws `SQLITE_INTERRUPT`).
    func interrupting<T>(_ db: Database, _ body: () throws -> T) throws -> T {
        let connection = db.sqliteConnection
        let context = Unmanaged.passUnretained(self).toOpaque()
        sqlite3_progress_handler(
            connection, 2000,
            { context in
                guard let context else { return 0 }
                return Unmanaged<Deadline>.fromOpaque(context).takeUnretainedValue().expired ? 1 : 0
            }, context)
        defer { sqlite3_progress_handler(connection, 0, nil, nil) }
        return try withExtendedLifetime(self) { try body() }
    }
}

/// One tag criterion, prepared: the SQL pre-filter and the exact check on a decoded span.
struct TagMatcher {
    let filter: TagFilter
    /// Resources (by id) that have the attribute.
    let resources: Set<Int64>
    let prefilter: (String, [(any DatabaseValueConvertible)?])
    /// What the SQL prefilter looks for in a body, looked for again in Swift in the protobuf of a compressed body
    /// (which SQL cannot search) before it is decoded.
    let needles: [Data]

    init(_ filter: TagFilter, db: Database, reader: TraceReader) throws {
        self.filter = filter
        var resources = Set<Int64>()
        let cursor = try Row.fetchCursor(db, sql: "SELECT id, body FROM resources")
        while let row = try cursor.next() {
            let body: Data = row[1]
            if let rs = try? ResourceSpans(serializedBytes: body),
                rs.resource.attributes.contains(where: { TagMatcher.matches($0, filter) })
            {
                resources.insert(row[0])
            }
        }
        self.resources = resources
        switch filter.key {
        case "span.kind", "otel.status_code", "error":
            // Derived from columns, not stored as attributes: checked on the decoded span only.
            prefilter = ("1", [])
            needles = []
        default:
            var clause = "instr(body, ?) > 0"
            var args: [(any DatabaseValueConvertible)?] = [Data(filter.key.utf8)]
            var needles = [Data(filter.key.utf8)]
            // A string value occurs verbatim in the protobuf; numbers and bools are encoded in binary.
            let v = filter.value
            if Int64(v) == nil, Double(v) == nil, v != "true", v != "false" {
                clause += " AND instr(body, ?) > 0"
                args.append(Data(v.utf8))
                needles.append(Data(v.utf8))
            }
            self.needles = resources.count > 500 ? [] : needles
            // A compressed body (CompressedBody: its first byte is 0) cannot be searched in SQL: it is decompressed
            // and checked like any body that passes.
            clause = "substr(body, 1, 1) = x'00' OR (\(clause))"
            if resources.isEmpty {
                prefilter = ("(\(clause))", args)
            } else if resources.count <= 500 {
                let ids = resources.sorted()
                prefilter = (
                    "(resource_id IN (\(Array(repeating: "?", count: ids.count).joined(separator: ","))) OR (\(clause)))",
                    ids.map { $0 } + args
                )
            } else {
                prefilter = ("1", [])
            }
        }
    }

    /// False when the span's protobuf cannot match: its resource does not, and a needle is absent. Only needed for
    /// a compressed body, whose protobuf SQL's prefilter could not search.
    func mayMatch(_ protobuf: Data, resourceID: Int64) -> Bool {
        if needles.isEmpty || resources.contains(resourceID) { return true }
        return needles.allSatisfy { $0.isEmpty || protobuf.range(of: $0) != nil }
    }

    func matches(_ span: Span, resourceID: Int64) -> Bool {
        if resources.contains(resourceID) { return true }
        switch filter.key {
        case "span.kind":
            if let name = SpanKindName.name(span.kind.rawValue), name == filter.value { return true }
        case "otel.status_code":
            if span.status.code == .error, filter.value == "ERROR" { return true }
            if span.status.code == .ok, filter.value == "OK" { return true }
        case "error":
            if span.status.code == .error, filter.value == "true" { return true }
        default: break
        }
        if span.attributes.contains(where: { Self.matches($0, filter) }) { return true }
        return span.events.contains { $0.attributes.contains { Self.matches($0, filter) } }
    }

    static func matches(_ kv: KeyValue, _ filter: TagFilter) -> Bool {
        kv.key == filter.key && AttributeText.text(kv.value) == filter.value
    }
}

/// The names the Jaeger view uses for OTLP span kinds (`span.kind` tags, operation lists).
public enum SpanKindName {
    public static func name(_ kind: Int) -> String? {
        switch kind {
        case 1: "internal"
        case 2: "server"
        case 3: "client"
        case 4: "producer"
        case 5: "consumer"
        default: nil
        }
    }

    public static func kind(_ name: String) -> Int? {
        switch name.lowercased() {
        case "unspecified": 0
        case "internal": 1
        case "server": 2
        case "client": 3
        case "producer": 4
        case "consumer": 5
        default: nil
        }
    }
}

/// The text of an attribute value, as tag search compares it and the Jaeger view shows non-string values.
public enum AttributeText {
    public static func text(_ v: AnyValue) -> String {
        switch v.value {
        case .stringValue(let s): return s
        case .boolValue(let b): return b ? "true" : "false"
        case .intValue(let i): return String(i)
        case .doubleValue(let d): return d.rounded() == d && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .bytesValue(let b): return b.base64EncodedString()
        case .arrayValue, .kvlistValue: return json(v)
        case .stringValueStrindex(let i): return "strindex:\(i)"  // profiles only; never sent with spans
        case nil: return ""
        }
    }

    /// Arrays and key-value lists as JSON (what the OpenTelemetry Jaeger translator does).
    public static func json(_ v: AnyValue) -> String {
        func value(_ v: AnyValue) -> Any {
            switch v.value {
            case .stringValue(let s): return s
            case .boolValue(let b): return b
            case .intValue(let i): return i
            case .doubleValue(let d): return d
            case .bytesValue(let b): return b.base64EncodedString()
            case .arrayValue(let a): return a.values.map(value)
            case .kvlistValue(let kv):
                var out: [String: Any] = [:]
                for e in kv.values { out[e.key] = value(e.value) }
                return out
            case .stringValueStrindex(let i): return "strindex:\(i)"
            case nil: return NSNull()
            }
        }
        let object = value(v)
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed]) else { return "" }
        return String(decoding: data, as: UTF8.self)
    }
}
