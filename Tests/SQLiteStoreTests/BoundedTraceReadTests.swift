import Foundation
import OTLP
import Testing

@testable import SQLiteStore

@Suite("Reading traces by ID within a span cap and a deadline")
struct BoundedTraceReadTests {
    @Test func repeatedIDsAreReadOnceAndTheSpanCapCutsTheTraceThatReachesIt() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let now = nowNanos()
            let a = traceRequest(spans: 10, start: now)
            let b = traceRequest(spans: 5, start: now)
            let c = traceRequest(spans: 3, start: now)
            for r in [a, b, c] { try await store.append(r.request) }
            let reader = TraceReader(store: store)

            let whole = try reader.traces(ids: [a.trace, a.trace, b.trace, a.trace], limits: .unlimited)
            #expect(whole.traces.count == 2)
            #expect(whole.traces[a.trace]?.spanCount == 10)
            #expect(whole.complete)

            let cut = try reader.traces(ids: [a.trace, a.trace, b.trace, c.trace], limits: TraceReadLimits(maxSpans: 12))
            #expect(cut.traces[a.trace]?.spanCount == 10)
            #expect(cut.traces[b.trace]?.spanCount == 2)
            #expect(cut.truncated == [b.trace])
            #expect(cut.unreadForSpans == [c.trace])
            #expect(cut.unreadForTime.isEmpty)
            #expect(!cut.complete)

            // Exactly at the cap: the trace is whole and the next one is not read.
            let exact = try reader.traces(ids: [a.trace, b.trace], limits: TraceReadLimits(maxSpans: 10))
            #expect(exact.traces[a.trace]?.spanCount == 10)
            #expect(exact.truncated.isEmpty)
            #expect(exact.unreadForSpans == [b.trace])
            await store.close()
        }
    }

    @Test func aPassedDeadlineLeavesTheRemainingIDsUnread() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let a = traceRequest(spans: 2, start: nowNanos())
            try await store.append(a.request)
            let missing = randomBytes(16)
            let read = try TraceReader(store: store).traces(
                ids: [a.trace, missing], limits: TraceReadLimits(maxSpans: 100, deadline: .now - .seconds(1)))
            #expect(read.traces.isEmpty)
            #expect(read.unreadForTime == [a.trace, missing])
            await store.close()
        }
    }
}
