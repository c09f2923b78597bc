import Foundation
import OTLP
import SQLiteStore

/// A search of stored log records, as `GET /api/v3/logs` and `otelsink logs` express it.
public struct LogSearch: Sendable {
    /// Only this service's records (the resource's `service.name`).
    public var service: String?
    public var traceID: Data?
    public var spanID: Data?
    /// Only records at least this severe (a severity number).
    public var minSeverity: Int32?
    /// Substrings the line must contain (case-sensitive).
    public var contains: [String] = []
    /// A regular expression the line must match somewhere (unanchored); checked when the search is parsed.
    public var pattern: String?
    /// Time range, inclusive, Unix nanoseconds.
    public var start: Int64 = 0
    public var end: Int64 = .max
    public var limit: Int = 100
    public var newestFirst = true
    /// Only records that arrived after this cursor, in arrival order (following new records); see
    /// ``LogSearchResult/cursor``.
    public var after: [Int64: Int64]?

    public init() {}

    /// The longest regular expression accepted: matching cost grows with it.
    public static let maxPatternLength = 4096

    /// Compiles `pattern`, naming the problem when it does not compile.
    public static func compile(_ pattern: String, parameter: String) throws(BadParameter) -> NSRegularExpression {
        guard pattern.utf8.count <= maxPatternLength else {
            throw BadParameter(parameter, "the regular expression is longer than \(maxPatternLength) bytes")
        }
        do { return try NSRegularExpression(pattern: pattern) } catch {
            throw BadParameter(parameter, "invalid regular expression \(QueryValues.quoted(pattern))")
        }
    }
}

/// What a log search found: the rows in the order asked for, and whether the search saw every candidate.
public struct LogSearchResult: Sendable {
    public var rows: [StoredLogRow]
    /// False when the time budget stopped the search before it had looked at every candidate.
    public var complete: Bool
    /// Where records that arrive later begin: pass it as ``LogSearch/after`` to get only those.
    public var cursor: [Int64: Int64]

    /// A cursor as text (`bucket:rowid,…`), for the API's `after` parameter and `Otelsink-Logs-Cursor` header.
    public static func text(_ cursor: [Int64: Int64]) -> String {
        cursor.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
    }

    /// The cursor written by ``text(_:)``; nil when malformed.
    public static func cursor(_ text: String) -> [Int64: Int64]? {
        var out: [Int64: Int64] = [:]
        guard text.utf8.count <= 64 * 1024 else { return nil }
        for part in text.split(separator: ",") {
            let pair = part.split(separator: ":")
            guard pair.count == 2, let b = Int64(pair[0]), let r = Int64(pair[1]), r >= 0 else { return nil }
            out[b] = r
        }
        return out
    }
}

extension TraceQueryService {
    /// Runs `search` within the configured time budget.
    ///
    /// A search that filters lines (`contains`, `pattern`) reads the line of every record in its range, so a range
    /// of many records is read as two parts of about as many records at once, one per core (as ``LokiAPI`` does
    /// for a line filter), and the parts' rows are joined in the search's order.
    public func logs(_ search: LogSearch) async throws -> LogSearchResult {
        let budget = config.timeBudget
        guard search.after == nil, !search.contains.isEmpty || search.pattern != nil, search.start < search.end,
            let split = try await run({
                try LogReader($0).splitTime(start: search.start, end: search.end, minimumRecords: LokiAPI.minimumSplitRecords)
            }),
            search.start < split, split <= search.end
        else {
            return try await run { reader in try Self.logs(search, in: LogReader(reader), budget: budget) }
        }
        // Taken before either part reads, as the one-part search takes it.
        let cursor = try await run { reader in try LogReader(reader).currentCursor() }
        var earlier = search
        earlier.end = split &- 1
        var later = search
        later.start = split
        let (first, second) = search.newestFirst ? (later, earlier) : (earlier, later)
        async let firstRows = run { reader in try Self.logs(first, in: LogReader(reader), budget: budget) }
        async let secondRows = run { reader in try Self.logs(second, in: LogReader(reader), budget: budget) }
        let (a, b) = (try await firstRows, try await secondRows)
        // The first part alone fills the answer when it found `limit` rows; the second is then not needed.
        if a.rows.count >= search.limit { return LogSearchResult(rows: a.rows, complete: a.complete, cursor: cursor) }
        return LogSearchResult(
            rows: a.rows + b.rows.prefix(search.limit - a.rows.count), complete: a.complete && b.complete, cursor: cursor)
    }

    /// `rows` as an OTLP request (resources and scopes grouped, records in the rows' order).
    public func logsRequest(_ rows: [StoredLogRow]) async throws -> ExportLogsRequest {
        try await run { reader in try LogReader(reader).request(rows) }
    }

    static func logs(_ search: LogSearch, in reader: LogReader, budget: Duration) throws -> LogSearchResult {
        var query = LogQuery()
        query.start = search.start
        query.end = search.end
        query.minSeverity = search.minSeverity
        query.traceID = search.traceID
        query.spanID = search.spanID
        query.lineContains = search.contains
        query.newestFirst = search.newestFirst
        query.arrivedAfter = search.after
        if search.after != nil {
            query.start = .min
            query.end = .max
        }
        // Taken before reading: a record committed meanwhile is returned by the next call after this cursor.
        var cursor = try search.after ?? reader.currentCursor()
        if let service = search.service {
            query.streams = Set(try reader.streams(start: search.start, end: search.end).filter { $0.service == service }.map(\.id))
        }
        let regex = try search.pattern.map { pattern throws(BadParameter) in try LogSearch.compile(pattern, parameter: "re") }
        let deadline = ContinuousClock.now + budget
        query.timeBudget = budget
        var rows: [StoredLogRow] = []
        var complete = true
        var seen = 0
        let finished = try reader.scan(query) { row in
            seen += 1
            if seen % 256 == 0, ContinuousClock.now > deadline {
                complete = false
                return false
            }
            if let regex {
                let line = row.line
                guard regex.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) != nil else { return true }
            }
            rows.append(row)
            return rows.count < search.limit
        }
        complete = complete && finished
        if search.after != nil {
            for row in rows { cursor[row.bucket] = max(cursor[row.bucket] ?? 0, row.rowID) }
        }
        return LogSearchResult(rows: rows, complete: complete, cursor: cursor)
    }
}
