import Foundation
import GRDB
import OTLP

/// Search and service dependencies over a partition of chunks (``SpanChunks``): SQL narrows the chunks by their
/// columns (service, start range, longest duration) and the runs holding them (``SpanRuns``); the spans of a chunk
/// that may match are then read from its body and checked one by one.
extension TraceReader {
    /// One partition's part of a search (see `searchRuns`, its counterpart for a row per span): the traces not in
    /// `seen` with the newest matching spans, at most as many as the search still needs, newest first.
    func searchChunks(
        _ db: Database, bucket b: Int64, _ q: TraceSearchQuery, matchers: [TagMatcher], anomalousOnly: Bool, seen: Set<Data>,
        deadline: Deadline, examined: inout Int
    ) throws -> (traceIDs: [Data], complete: Bool) {
        var newest = NewestTraces(capacity: q.limit - seen.count)
        var sql = """
            SELECT trace_id, resource_id, body, rowid, min_start_ns, max_start_ns, span_count FROM \(SpanChunks.table(b))
            WHERE rowid BETWEEN ? AND ? AND service = ? AND max_start_ns >= ? AND min_start_ns <= ?
            """
        var filterArgs: [(any DatabaseValueConvertible)?] = []
        if let min = q.minDuration {
            sql += " AND max_duration_ns >= ?"
            filterArgs.append(min)
        }
        // Criteria only a chunk's spans can answer: without them, a chunk wholly inside the time range matches as it
        // stands, its latest start being its newest matching span.
        let perSpan = q.operation != nil || q.minDuration != nil || q.maxDuration != nil || anomalousOnly || !matchers.isEmpty
        let operation = q.operation.map { Array($0.utf8) }
        let rows = try db.makeStatement(sql: sql)
        let bodies = spanBodies(db)
        var complete = true
        do {
            let runs = try SpanRuns.candidates(db, bucket: b, service: q.service, startMin: q.startMin, startMax: q.startMax)
            runs: while let run = try runs.next() {
                let latest: Int64 = run[0]
                if newest.isFull, let least = newest.smallest(), least.start > latest { break }
                let cursor = try Row.fetchCursor(
                    rows, arguments: StatementArguments([run[1], run[2], q.service, q.startMin, q.startMax] + filterArgs))
                while let row = try cursor.next() {
                    examined += row[6] as Int
                    if deadline.expired {
                        complete = false
                        break runs
                    }
                    let traceID: Data = row[0]
                    if seen.contains(traceID) { continue }
                    let rowid: Int64 = row[3]
                    let minStart: Int64 = row[4]
                    let maxStart: Int64 = row[5]
                    if !perSpan && minStart >= q.startMin && maxStart <= q.startMax {
                        newest.add(traceID, NewestTraces.Key(start: maxStart, row: rowid))
                        continue
                    }
                    // Nothing in this chunk can be newer than its latest start within the range.
                    if !newest.admits(traceID, NewestTraces.Key(start: min(maxStart, q.startMax), row: rowid)) { continue }
                    let resourceID: Int64 = row[1]
                    let protobuf = try bodies.protobuf(row[2])
                    if !matchers.allSatisfy({ $0.mayMatch(protobuf, resourceID: resourceID) }) { continue }
                    guard let index = EncodedTraces(indexing: [UInt8](protobuf)) else {
                        throw TraceReaderError.corrupt("a chunk of spans in partition \(b) is not a readable OTLP request")
                    }
                    let flagged = anomalousOnly ? try anomalousSpans(db, bucket: b, seq: rowid >> 32) : []
                    var best: Int64?
                    index.bytes.withUnsafeBytes { buffer in
                        for s in index.spans {
                            let start = Int64(clamping: s.start)
                            guard start >= q.startMin, start <= q.startMax, start > (best ?? .min) else { continue }
                            let end = Int64(clamping: s.end)
                            let duration = end >= start ? end - start : 0
                            if let min = q.minDuration, duration < min { continue }
                            if let max = q.maxDuration, duration > max { continue }
                            if let operation, !buffer[s.name].elementsEqual(operation) { continue }
                            if anomalousOnly, !flagged.contains(Data(buffer[s.spanID])) { continue }
                            if !matchers.isEmpty {
                                guard let span = try? Span(serializedBytes: Data(buffer[s.body])),
                                    matchers.allSatisfy({ $0.matches(span, resourceID: resourceID) })
                                else { continue }
                            }
                            best = start
                        }
                    }
                    if let best { newest.add(traceID, NewestTraces.Key(start: best, row: rowid)) }
                }
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_INTERRUPT {
            complete = false
        }
        return (newest.newestFirst(), complete)
    }

    /// The IDs of the spans of trace number `seq` flagged in partition `bucket`'s anomaly table.
    private func anomalousSpans(_ db: Database, bucket: Int64, seq: Int64) throws -> Set<Data> {
        Set(
            try Data.fetchAll(
                db.cachedStatement(sql: "SELECT span_id FROM \(SQLiteSchema.anomaliesTable(bucket)) WHERE trace_seq = ?"),
                arguments: [seq]))
    }

    /// One partition's calls between services among spans that started in `[startMin, startMax]` (see
    /// `dependencies`): every trace with a chunk holding such a span is read whole, and each of those spans whose
    /// parent belongs to another service counts one call (`count(parent, child, isError)`). False when the deadline
    /// passed first.
    func chunkDependencies(
        _ db: Database, bucket b: Int64, startMin: Int64, startMax: Int64, deadline: Deadline,
        count: (String, String, Bool) -> Void
    ) throws -> Bool {
        let table = SpanChunks.table(b)
        let traces = try Int64.fetchAll(
            db, sql: "SELECT DISTINCT rowid >> 32 FROM \(table) WHERE max_start_ns >= ? AND min_start_ns <= ? ORDER BY 1",
            arguments: [startMin, startMax])
        let bodies = spanBodies(db)
        let chunks = try db.makeStatement(sql: "SELECT service, body FROM \(table) WHERE rowid BETWEEN ? AND ?")
        struct Child {
            var parent: UInt64, service: String, error: Bool
        }
        for seq in traces {
            if deadline.expired { return false }
            guard let first = SpanSlots.firstRow(seq: seq), let last = SpanSlots.lastRow(seq: seq) else { continue }
            var services: [UInt64: String] = [:]
            var children: [Child] = []
            let cursor = try Row.fetchCursor(chunks, arguments: [first, last])
            while let row = try cursor.next() {
                let service: String = row[0]
                guard let index = EncodedTraces(indexing: [UInt8](try bodies.protobuf(row[1]))) else {
                    throw TraceReaderError.corrupt("a chunk of spans in partition \(b) is not a readable OTLP request")
                }
                index.bytes.withUnsafeBytes { buffer in
                    for s in index.spans {
                        services[buffer.loadUnaligned(fromByteOffset: s.spanID.lowerBound, as: UInt64.self)] = service
                        let start = Int64(clamping: s.start)
                        guard s.parentSpanID.count == 8, start >= startMin, start <= startMax else { continue }
                        children.append(
                            Child(
                                parent: buffer.loadUnaligned(fromByteOffset: s.parentSpanID.lowerBound, as: UInt64.self), service: service,
                                error: s.statusCode == 2))
                    }
                }
            }
            for child in children {
                if let parent = services[child.parent], parent != child.service { count(parent, child.service, child.error) }
            }
        }
        return true
    }
}
