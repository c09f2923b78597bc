import CollectorCore
import Foundation
import GRDB
import Logging
import OTLP
import Testing

@testable import SQLiteStore

/// The row of `trace` in its partition's trace summary table.
private func summary(_ store: SQLiteTraceStore, trace: Data) async throws -> (spans: Int64, errors: Int64, rootService: String?, rootName: String?)? {
    try await store.pool.read { db in
        for b in try Int64.fetchAll(db, sql: "SELECT bucket FROM partitions ORDER BY bucket") {
            if let row = try Row.fetchOne(
                db, sql: "SELECT span_count, error_count, root_service, root_name FROM \(SQLiteSchema.tracesTable(b)) WHERE trace_id = ?",
                arguments: [trace])
            {
                let spans: Int64 = row[0]
                let errors: Int64 = row[1]
                let rootService: String? = row[2]
                let rootName: String? = row[3]
                return (spans, errors, rootService, rootName)
            }
        }
        return nil
    }
}

@Suite("SQLiteTraceStore")
struct StoreTests {
    // MARK: Idempotency

    @Test func appendingTheSameRequestTwiceStoresEachSpanOnce() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let start = nowNanos()
            let trace = randomBytes(16)
            var root = makeSpan(trace: trace, name: "root", start: start)
            root.status.code = .error
            let child = makeSpan(trace: trace, name: "child", start: start + 10, parent: root.spanID)
            let request = makeRequest(service: "api", spans: [root, child])

            try await store.append(request)
            try await store.append(request)
            let reader = TraceReader(store: store)
            #expect(try reader.spanCount() == 2)
            let first = try await summary(store, trace: trace)
            var s = try #require(first)
            #expect(s.spans == 2)
            #expect(s.errors == 1)
            #expect(s.rootService == "api")
            #expect(s.rootName == "root")

            // Concurrent duplicates, likely merged into one transaction.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<5 { group.addTask { try await store.append(request) } }
                try await group.waitForAll()
            }
            #expect(try reader.spanCount() == 2)
            let second = try await summary(store, trace: trace)
            s = try #require(second)
            #expect(s.spans == 2)
            #expect(s.errors == 1)

            // A retry carrying one old and one new span adds only the new one.
            let late = makeSpan(trace: trace, name: "late", start: start + 20, parent: root.spanID)
            try await store.append(makeRequest(service: "api", spans: [child, late]))
            #expect(try reader.spanCount() == 3)
            let third = try await summary(store, trace: trace)
            s = try #require(third)
            #expect(s.spans == 3)
            #expect(try reader.trace(id: trace)?.spanCount == 3)
            await store.close()
        }
    }

    @Test func spansWithMalformedIDsAreNeverStored() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let start = nowNanos()
            let good = makeSpan(trace: randomBytes(16), name: "good", start: start)
            var zeroTrace = makeSpan(trace: Data(count: 16), name: "zero-trace", start: start)
            zeroTrace.spanID = randomBytes(8)
            let shortSpanID = {
                var s = makeSpan(trace: randomBytes(16), name: "short", start: start)
                s.spanID = Data([1, 2])
                return s
            }()
            try await store.append(makeRequest(spans: [zeroTrace, good, shortSpanID]))
            let reader = TraceReader(store: store)
            #expect(try reader.spanCount() == 1)
            #expect(try reader.trace(id: good.traceID)?.spanCount == 1)
            await store.close()
        }
    }

    @Test func duplicatesWithinOneRequestAreStoredOnce() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let trace = randomBytes(16)
            let span = makeSpan(trace: trace, start: nowNanos())
            try await store.append(makeRequest(spans: [span, span, span]))
            #expect(try TraceReader(store: store).spanCount() == 1)
            #expect(try await summary(store, trace: trace)?.spans == 1)
            await store.close()
        }
    }

    // MARK: Group commit and backpressure

    @Test func concurrentAppendsAllCommit() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let start = nowNanos()
            let requests = (0..<50).map { i in traceRequest(spans: 10, start: start + UInt64(i) * 1_000_000) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (_, request) in requests { group.addTask { try await store.append(request) } }
                try await group.waitForAll()
            }
            let reader = TraceReader(store: store)
            #expect(try reader.spanCount() == 500)
            #expect(store.queuedSpans == 0)
            for (trace, request) in requests {
                #expect(try reader.trace(id: trace)?.resourceSpans.first?.scopeSpans.first?.spans == request.resourceSpans[0].scopeSpans[0].spans)
                #expect(try await summary(store, trace: trace)?.spans == 10)
            }
            await store.close()
        }
    }

    @Test func fullQueueRefusesRetryablyAndKeepsEverythingAccepted() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir) { $0.queueSize = 100 })
            let start = nowNanos()
            var accepted = 0
            var refused = 0
            var rounds = 0
            var otherErrors: [String] = []
            // Refusals depend on timing; a few rounds make observing one all but certain.
            while refused == 0 && rounds < 5 {
                rounds += 1
                let requests = (0..<200).map { i in traceRequest(spans: 100, start: start + UInt64(rounds * 1000 + i) * 1_000_000).request }
                let outcomes = await withTaskGroup(of: Result<Void, any Error>.self) { group in
                    for request in requests {
                        group.addTask {
                            do {
                                try await store.append(request)
                                return .success(())
                            } catch { return .failure(error) }
                        }
                    }
                    var all: [Result<Void, any Error>] = []
                    for await o in group { all.append(o) }
                    return all
                }
                for o in outcomes {
                    switch o {
                    case .success: accepted += 1
                    case .failure(let e) where isRetryable(e): refused += 1
                    case .failure(let e): otherErrors.append("\(e)")
                    }
                }
            }
            #expect(otherErrors.isEmpty, "\(otherErrors)")
            #expect(refused > 0, "no append was refused in \(rounds) rounds of 200 concurrent appends")
            #expect(accepted > 0)
            #expect(accepted + refused == rounds * 200)
            #expect(try TraceReader(store: store).spanCount() == accepted * 100)
            #expect(store.queuedSpans == 0)
            await store.close()
        }
    }

    @Test func refusalMessageNamesTheQueue() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir) { $0.queueSize = 100 })
            let start = nowNanos()
            var messages: [String] = []
            for round in 0..<5 where messages.isEmpty {
                await withTaskGroup(of: String?.self) { group in
                    for i in 0..<100 {
                        let request = traceRequest(spans: 60, start: start + UInt64(round * 100 + i) * 1_000_000).request
                        group.addTask {
                            do {
                                try await store.append(request)
                                return nil
                            } catch { return (error as? PipelineError)?.message ?? "\(error)" }
                        }
                    }
                    for await m in group { if let m { messages.append(m) } }
                }
            }
            #expect(!messages.isEmpty)
            #expect(messages.allSatisfy { $0.contains("limit 100") }, "\(messages.prefix(3))")
            await store.close()
        }
    }

    @Test func oversizedRequestIsAcceptedWhenTheQueueIsEmpty() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir) { $0.queueSize = 100 })
            let (trace, request) = traceRequest(spans: 250, start: nowNanos())
            try await store.append(request)
            #expect(try TraceReader(store: store).trace(id: trace)?.spanCount == 250)
            await store.close()
        }
    }

    // MARK: Partitions

    @Test func spansArePartitionedByStartTime() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let bucket = currentBucket()
            let old = traceRequest(spans: 3, start: time(inBucket: bucket - 2))
            let mid = traceRequest(spans: 4, start: time(inBucket: bucket - 1))
            let recent = traceRequest(spans: 5, start: time(inBucket: bucket))
            // One trace spanning two partitions.
            let spanning = randomBytes(16)
            let early = makeSpan(trace: spanning, name: "early", start: time(inBucket: bucket - 1, seconds: 3000), duration: 2 * hourNanos)
            let lateChild = makeSpan(trace: spanning, name: "late", start: time(inBucket: bucket, seconds: 10), parent: early.spanID)
            for r in [old.request, mid.request, recent.request, makeRequest(spans: [lateChild]), makeRequest(spans: [early])] {
                try await store.append(r)
            }
            let reader = TraceReader(store: store)
            #expect(try reader.partitions() == [bucket - 2, bucket - 1, bucket])
            #expect(try reader.spanCount() == 14)
            let whole = try #require(try reader.trace(id: spanning))
            #expect(whole.resourceSpans.count == 1)
            #expect(whole.resourceSpans[0].scopeSpans.count == 1)
            #expect(whole.resourceSpans[0].scopeSpans[0].spans == [early, lateChild])
            #expect(try reader.trace(id: old.trace)?.spanCount == 3)
            #expect(try reader.trace(id: mid.trace)?.spanCount == 4)
            #expect(try reader.trace(id: recent.trace)?.spanCount == 5)

            let tables = try await store.pool.read { db in
                try String.fetchAll(
                    db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'span\\_chunks\\_%' ESCAPE '\\' ORDER BY name")
            }
            #expect(Set(tables) == Set([bucket - 2, bucket - 1, bucket].map { SpanChunks.table($0) }))
            await store.close()
        }
    }

    @Test func startTimesFarFromNowAreClampedIntoTheRetainedWindow() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir) { $0.retention = .seconds(6 * 3600) })
            let now = nowNanos()
            let bucket = Int64(now / hourNanos)
            let ancient = traceRequest(spans: 1, start: 1_000)
            let future = traceRequest(spans: 1, start: now + 1000 * hourNanos)
            try await store.append(ancient.request)
            try await store.append(future.request)
            let partitions = try TraceReader(store: store).partitions()
            #expect(partitions.count == 2)
            // Oldest retained partition and the next one, never beyond.
            let first = try #require(partitions.first)
            let last = try #require(partitions.last)
            #expect(first >= bucket - 7 && first <= bucket - 5, "\(partitions) vs now bucket \(bucket)")
            #expect(last == bucket + 1 || last == bucket + 2)
            #expect(try TraceReader(store: store).trace(id: ancient.trace)?.spanCount == 1)
            #expect(try TraceReader(store: store).trace(id: future.trace)?.spanCount == 1)
            // Clamped data is not dropped by a retention pass at the time it was written. (Not at a later reading of
            // the clock: across an hour boundary the oldest retained partition rightly ages out.)
            #expect(try await store.applyRetention(now: Int64(now)) == 0)
            #expect(try TraceReader(store: store).spanCount() == 2)
            await store.close()
        }
    }

    // MARK: Retention

    @Test func retentionByAgeDropsOldPartitions() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))  // 72h retention, 1h partitions
            let now = nowNanos()
            let bucket = Int64(now / hourNanos)
            let old = traceRequest(spans: 3, start: time(inBucket: bucket - 2))
            let recent = traceRequest(spans: 4, start: time(inBucket: bucket))
            let spanning = randomBytes(16)
            let early = makeSpan(trace: spanning, name: "early", start: time(inBucket: bucket - 2, seconds: 120))
            let late = makeSpan(trace: spanning, name: "late", start: time(inBucket: bucket, seconds: 120))
            for r in [old.request, recent.request, makeRequest(spans: [early, late])] { try await store.append(r) }
            let reader = TraceReader(store: store)
            #expect(try reader.partitions() == [bucket - 2, bucket])

            // Nothing is old enough yet.
            #expect(try await store.applyRetention(now: Int64(now)) == 0)
            #expect(try reader.spanCount() == 9)

            // 71 hours later the older partition (ended at least an hour before `now`) is past 72h; the current one is not.
            let removed = try await store.applyRetention(now: Int64(now + 71 * hourNanos))
            #expect(removed == 1)
            #expect(try reader.partitions() == [bucket])
            #expect(try reader.spanCount() == 5)
            #expect(try reader.trace(id: old.trace) == nil)
            #expect(try reader.trace(id: recent.trace)?.spanCount == 4)
            #expect(try reader.trace(id: spanning)?.resourceSpans.first?.scopeSpans.first?.spans == [late])
            let remainingTables = try await store.pool.read { db in
                try String.fetchAll(
                    db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND (name LIKE 'span\\_chunks%' ESCAPE '\\' OR name LIKE 'traces%')"
                )
            }
            #expect(Set(remainingTables) == [SpanChunks.table(bucket), SQLiteSchema.tracesTable(bucket)])

            // Writing into a dropped partition again recreates it.
            try await store.append(old.request)
            #expect(try reader.partitions() == [bucket - 2, bucket])
            #expect(try reader.trace(id: old.trace)?.spanCount == 3)

            // Far in the future everything goes, and with it the resources, scopes and operations no span uses.
            #expect(try await store.applyRetention(now: Int64(now + 1000 * hourNanos)) == 2)
            #expect(try reader.partitions() == [])
            #expect(try reader.spanCount() == 0)
            let shared = try await store.pool.read { db in
                try ["resources", "scopes", "operations"].map { try Int.fetchOne(db, sql: "SELECT count(*) FROM \($0)") ?? -1 }
            }
            #expect(shared == [0, 0, 0])
            #expect(try reader.services() == [])
            await store.close()
        }
    }

    @Test func databaseUsesIncrementalAutoVacuum() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let mode = try await store.pool.read { db in try Int.fetchOne(db, sql: "PRAGMA auto_vacuum") }
            #expect(mode == 2, "auto_vacuum should be INCREMENTAL (2) so retention can return space")
            let journal = try await store.pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
            #expect(journal?.lowercased() == "wal")
            await store.close()
        }
    }

    @Test func retentionBySizeDropsOldestPartitionsFirst() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(
                config: storeConfig(dir) {
                    $0.maxSizeMiB = 16
                    $0.compression = .none
                })
            let now = nowNanos()
            let bucket = Int64(now / hourNanos)
            let payload = String(repeating: "x", count: 8_000)
            var traces: [Int64: [Data]] = [:]
            // About 7 MiB per partition, four partitions, written oldest first.
            for age in stride(from: 3, through: 0, by: -1) {
                let start = time(inBucket: bucket - Int64(age))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for i in 0..<9 {
                        let (trace, request) = traceRequest(spans: 100, start: start + UInt64(i) * 1_000_000_000, payload: payload)
                        traces[bucket - Int64(age), default: []].append(trace)
                        group.addTask { try await store.append(request) }
                    }
                    try await group.waitForAll()
                }
            }
            func usedBytes() async throws -> Int64 {
                try await store.pool.read { db in
                    let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 0
                    let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
                    let free = try Int64.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
                    return (pages - free) * pageSize
                }
            }
            let reader = TraceReader(store: store)
            let limit: Int64 = 16 << 20
            let before = try reader.partitions()
            #expect(try await usedBytes() > limit)
            #expect(before.last == bucket)

            // Size retention works in time-bounded steps (the writer serves commits between them), and a dropped
            // partition's pages are free once its retired tables are emptied, in slices between commits: run steps
            // until one removes nothing, emptying retired tables between them, as the periodic retention would.
            var removed = 0
            for _ in 0..<20 {
                let step = try await store.applyRetention(now: Int64(now))
                removed += step
                #expect(try await store.clearRetiredTables(within: .seconds(30)))
                if step == 0 { break }
            }
            let after = try reader.partitions()
            #expect(removed >= 1)
            #expect(!after.isEmpty)
            // The oldest went; what is left is the newest, untouched.
            #expect(Array(before.suffix(after.count)) == after)
            #expect(before.count - after.count == removed)
            #expect(after.last == bucket)
            #expect(try await usedBytes() <= limit)
            for b in after {
                for trace in traces[b] ?? [] { #expect(try reader.trace(id: trace)?.spanCount == 100) }
            }
            for b in before where !after.contains(b) {
                for trace in traces[b] ?? [] { #expect(try reader.trace(id: trace) == nil) }
            }
            #expect(try reader.spanCount() == after.reduce(0) { $0 + (traces[$1]?.count ?? 0) * 100 })
            await store.close()
        }
    }

    @Test func retentionBySizeWithOnePartitionRemovesOnlyTheOldestSpans() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(
                config: storeConfig(dir) {
                    $0.maxSizeMiB = 16
                    $0.compression = .none
                })
            let bucket = currentBucket()
            let payload = String(repeating: "y", count: 8_000)
            // About 24 MiB, all in the current partition, written oldest first.
            var traces: [Data] = []
            for i in 0..<30 {
                let (trace, request) = traceRequest(spans: 100, start: time(inBucket: bucket, seconds: 60 + UInt64(i)), payload: payload)
                traces.append(trace)
                try await store.append(request)
            }
            let reader = TraceReader(store: store)
            #expect(try reader.partitions() == [bucket])
            func usedBytes() async throws -> Int64 {
                try await store.pool.read { db -> Int64 in
                    let pageSize = try Int64.fetchOne(db, sql: "PRAGMA page_size") ?? 0
                    let pages = try Int64.fetchOne(db, sql: "PRAGMA page_count") ?? 0
                    let free = try Int64.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
                    return (pages - free) * pageSize
                }
            }
            // A retention run starts trimming; the writer goes on in short slices between commits (here: asked to
            // while idle) until the file is under the limit.
            _ = try await store.applyRetention(now: Int64(nowNanos()))
            let deadline = ContinuousClock.now + .seconds(30)
            while try await usedBytes() > 16 << 20, ContinuousClock.now < deadline {
                store.scheduleRetention()
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await usedBytes() <= 16 << 20)
            let remaining = try reader.spanCount()
            // Only what is needed to get under the limit goes (about a third); the newest spans stay.
            #expect(remaining > 0, "every span was deleted to get 24 MiB under a 16 MiB limit")
            #expect(remaining >= 1000)
            #expect(try reader.trace(id: try #require(traces.last))?.spanCount == 100)
            #expect(try reader.trace(id: try #require(traces.first)) == nil)
            // Trace summaries do not outlive their spans.
            let summaries = try await store.pool.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM \(SQLiteSchema.tracesTable(bucket))") ?? 0
            }
            let tracesWithSpans = try traces.filter { try reader.trace(id: $0) != nil }.count
            #expect(summaries == tracesWithSpans)
            await store.close()
        }
    }

    // MARK: Close and reopen

    @Test func closeWaitsForAcceptedWritesAndThenRefuses() async throws {
        try await withTemporaryDirectory { dir in
            let config = storeConfig(dir)
            let store = try SQLiteTraceStore(config: config)
            let start = nowNanos()
            let requests = (0..<20).map { i in traceRequest(spans: 50, start: start + UInt64(i) * 1_000_000).request }
            let results = await withTaskGroup(of: Result<Void, any Error>?.self) { group in
                for r in requests {
                    group.addTask {
                        do {
                            try await store.append(r)
                            return .success(())
                        } catch { return .failure(error) }
                    }
                }
                group.addTask {
                    await store.close()
                    return nil
                }
                var all: [Result<Void, any Error>] = []
                for await r in group { if let r { all.append(r) } }
                return all
            }
            var accepted = 0
            for r in results {
                switch r {
                case .success: accepted += 1
                case .failure(let e): #expect(isRetryable(e), "\(e)")
                }
            }
            // Everything accepted before close is committed; nothing is left queued.
            #expect(store.queuedSpans == 0)
            #expect(try TraceReader(path: config.path).spanCount() == accepted * 50)

            // After close, appends are refused retryably.
            do {
                try await store.append(traceRequest(spans: 1, start: start).request)
                Issue.record("append after close should be refused")
            } catch {
                #expect(isRetryable(error), "\(error)")
                #expect((error as? PipelineError)?.message.contains("shutting down") == true)
            }
            #expect(try TraceReader(path: config.path).spanCount() == accepted * 50)
            // Closing twice is harmless.
            await store.close()
        }
    }

    @Test func closeOnAnIdleStoreReturns() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            await store.close()
            await #expect(throws: PipelineError.self) { try await store.append(traceRequest(spans: 2, start: nowNanos()).request) }
        }
    }

    @Test func reopenKeepsDataAndStaysIdempotent() async throws {
        try await withTemporaryDirectory { dir in
            let config = storeConfig(dir)
            let bucket = currentBucket()
            let first = traceRequest(spans: 5, start: time(inBucket: bucket - 1))
            let second = traceRequest(spans: 6, start: time(inBucket: bucket))
            do {
                let store = try SQLiteTraceStore(config: config)
                try await store.append(first.request)
                try await store.append(second.request)
                await store.close()
            }
            let store = try SQLiteTraceStore(config: config)
            let reader = TraceReader(store: store)
            #expect(try reader.spanCount() == 11)
            #expect(try reader.partitions().count == 2)
            #expect(try reader.trace(id: first.trace) == first.request)

            // Re-sending after a restart (a client retry) does not duplicate.
            try await store.append(first.request)
            try await store.append(second.request)
            #expect(try reader.spanCount() == 11)
            #expect(try await summary(store, trace: first.trace)?.spans == 5)

            // New data still goes in, into existing and new partitions.
            let third = traceRequest(spans: 7, start: time(inBucket: bucket - 2))
            try await store.append(third.request)
            #expect(try reader.spanCount() == 18)
            #expect(try reader.partitions().count == 3)
            #expect(try reader.trace(id: third.trace) == third.request)

            // A new trace in a partition written before the restart gets a sequence number of its own.
            let fourth = traceRequest(spans: 4, start: time(inBucket: bucket, seconds: 120))
            try await store.append(fourth.request)
            #expect(try reader.trace(id: fourth.trace) == fourth.request)
            #expect(try reader.trace(id: second.trace) == second.request)
            #expect(try reader.spanCount() == 22)
            await store.close()
        }
    }

    /// New traces are numbered in arrival order, so the span index, keyed by that number, grows at its end
    /// instead of on random pages; a late span of an older trace joins that trace's number.
    @Test func tracesAreNumberedInArrivalOrderAndLateSpansJoinTheirTrace() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let start = nowNanos()
            let requests = (0..<3).map { i in traceRequest(spans: 2, start: start + UInt64(i) * 1000) }
            for (_, request) in requests { try await store.append(request) }
            let late = makeSpan(trace: requests[0].trace, name: "late", start: start + 5000)
            try await store.append(makeRequest(spans: [late]))
            let bucket = Int64(start / hourNanos)
            let rows = try await store.pool.read { db in
                try Row.fetchAll(db, sql: "SELECT seq, trace_id FROM \(SQLiteSchema.tracesTable(bucket)) ORDER BY seq").map { row -> (Int64, Data) in
                    (row[0], row[1])
                }
            }
            #expect(rows.map(\.0) == [1, 2, 3])
            #expect(rows.map(\.1) == requests.map(\.trace))
            let lateSeq = try await store.pool.read { db in
                try Int64.fetchOne(
                    db, sql: "SELECT rowid >> 32 FROM \(SpanChunks.table(bucket)) WHERE instr(span_ids, ?) > 0", arguments: [late.spanID])
            }
            #expect(lateSeq == 1)
            #expect(try TraceReader(store: store).trace(id: requests[0].trace)?.spanCount == 3)
            await store.close()
        }
    }

    /// Spans of several traces interleaved in one request (as an SDK's batch of ended spans is): each trace's
    /// summary counts its own spans, times and root, and every (service, name, kind) is listed once per service,
    /// whether its name is new, seen before, or the same name with another kind or service.
    @Test func interleavedTracesKeepTheirOwnSummariesAndOperations() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let start = nowNanos()
            let a = randomBytes(16)
            let b = randomBytes(16)
            var rootA = makeSpan(trace: a, name: "GET /a", start: start, duration: 9_000)
            rootA.kind = .server
            var errorB = makeSpan(trace: b, name: "query", start: start + 100, duration: 50_000, parent: randomBytes(8))
            errorB.status.code = .error
            let spans = [
                rootA,
                makeSpan(trace: b, name: "query", start: start + 10, duration: 10, parent: randomBytes(8)),
                makeSpan(trace: a, name: "query", start: start + 20, duration: 20_000, parent: rootA.spanID),
                errorB,
                makeSpan(trace: a, name: "GET /a", start: start + 30, duration: 30, parent: rootA.spanID),
            ]
            try await store.append(makeRequest(service: "front", spans: spans))
            try await store.append(makeRequest(service: "back", spans: [makeSpan(trace: b, name: "query", start: start + 5, duration: 1)]))

            let summaryA = try #require(try await summary(store, trace: a))
            #expect(summaryA.spans == 3 && summaryA.errors == 0)
            #expect(summaryA.rootService == "front" && summaryA.rootName == "GET /a")
            let summaryB = try #require(try await summary(store, trace: b))
            #expect(summaryB.spans == 3 && summaryB.errors == 1)
            // B's root came in the second request, from another service.
            #expect(summaryB.rootService == "back" && summaryB.rootName == "query")
            let bounds = try await store.pool.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT trace_id, start_ns, end_ns FROM \(SQLiteSchema.tracesTable(Int64(start / hourNanos)))"
                ).map { row -> (Data, Int64, Int64) in (row[0], row[1], row[2]) }
            }
            #expect(bounds.first { $0.0 == a }.map { [$0.1, $0.2] } == [Int64(start), Int64(start + 20_020)])
            #expect(bounds.first { $0.0 == b }.map { [$0.1, $0.2] } == [Int64(start + 5), Int64(start + 50_100)])

            let search = TraceReader(store: store)
            let front = try search.operations(service: "front").map { "\($0.name)/\($0.kind)" }
            #expect(front.sorted() == ["GET /a/1", "GET /a/2", "query/1"])
            #expect(try search.operations(service: "back").map(\.name) == ["query"])
            await store.close()
        }
    }

    /// The WAL file keeps its size when SQLite reuses it, so the backstop counts live frames: once the WAL passes it
    /// (here 64 frames; 1.5 × that when the background checkpointer has not caught up, as in this test), the writer checkpoints
    /// between transactions and the WAL starts again from its beginning, instead of growing with everything written.
    @Test func theWALIsReusedOnceItPassesTheBackstop() async throws {
        try await withTemporaryDirectory { dir in
            // Uncompressed, so that the bytes written are what the payloads say.
            let config = storeConfig(dir) { $0.compression = .none }
            let store = try SQLiteTraceStore(config: config, logger: Logger(label: "test"), telemetry: .unobserved, walBackstopFrames: 64)
            let start = nowNanos()
            for i in 0..<200 {
                try await store.append(
                    traceRequest(spans: 50, start: start + UInt64(i) * 1_000_000, payload: String(repeating: "x", count: 200)).request)
            }
            #expect(try TraceReader(store: store).spanCount() == 10_000)
            let wal = try FileManager.default.attributesOfItem(atPath: config.path + "-wal")[.size] as? Int ?? 0
            let database = try FileManager.default.attributesOfItem(atPath: config.path)[.size] as? Int ?? 0
            // About 3 MB were written; without the restart the WAL would hold all of it.
            #expect(database > 2_000_000)
            #expect(wal < 1_500_000, "WAL file is \(wal) bytes")
            await store.close()
        }
    }

    /// After a clean stop the database file holds everything on its own: the WAL is copied in and truncated even when
    /// a background checkpoint pass is running at that moment, so copying `traces.db` alone copies every span.
    @Test func closeLeavesEverythingInTheMainFileEvenDuringABackgroundCheckpoint() async throws {
        try await withTemporaryDirectory { dir in
            let config = storeConfig(dir)
            let store = try SQLiteTraceStore(config: config)
            let start = nowNanos()
            for i in 0..<100 {
                try await store.append(
                    traceRequest(spans: 50, start: start + UInt64(i) * 1_000_000, payload: String(repeating: "x", count: 400)).request)
            }
            store.checkpointInBackground()
            await store.close()
            let wal = (try? FileManager.default.attributesOfItem(atPath: config.path + "-wal")[.size] as? Int) ?? 0
            #expect(wal == 0, "WAL file is \(wal) bytes after close")
            let copy = dir.appendingPathComponent("copy.db").path
            try FileManager.default.copyItem(atPath: config.path, toPath: copy)
            #expect(try TraceReader(path: copy).spanCount() == 5_000)
        }
    }

    @Test func reopeningWithAnotherSchemaVersionFails() async throws {
        try await withTemporaryDirectory { dir in
            let config = storeConfig(dir)
            do {
                let store = try SQLiteTraceStore(config: config)
                try await store.pool.write { db in try db.execute(sql: "UPDATE meta SET value = '999' WHERE key = 'schema_version'") }
                await store.close()
            }
            #expect(throws: (any Error).self) { try SQLiteTraceStore(config: config) }
        }
    }
}
