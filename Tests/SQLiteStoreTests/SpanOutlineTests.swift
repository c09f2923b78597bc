import CollectorCore
import Foundation
import OTLP
import Testing

@testable import SQLiteStore

@Suite("Span outlines")
struct SpanOutlineTests {
    @Test func outlinesHoldEachSpansTreePlaceServiceNameAndTimesWithinTheSpanCap() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let start = nowNanos()
            let trace = randomBytes(16)
            let root = makeSpan(trace: trace, name: "GET /cart", start: start, duration: 12_000_000)
            let child = makeSpan(trace: trace, name: "charge", start: start + 1_000_000, duration: 5_000_000, parent: root.spanID)
            var backwards = makeSpan(trace: trace, name: "ends before it starts", start: start + 2_000_000, parent: root.spanID)
            backwards.endTimeUnixNano = start
            try await store.append(makeRequest(service: "checkout", spans: [root]))
            try await store.append(makeRequest(service: "payment", spans: [child, backwards]))
            let reader = TraceReader(store: store)
            let read = try #require(try reader.outlines(id: trace, limits: .unlimited))
            #expect(!read.truncated)
            let byName = Dictionary(uniqueKeysWithValues: read.spans.map { ($0.name, $0) })
            #expect(
                byName["GET /cart"]
                    == SpanOutline(
                        spanID: root.spanID, parentSpanID: Data(), service: "checkout", name: "GET /cart",
                        startNanos: start, endNanos: start + 12_000_000))
            #expect(
                byName["charge"]
                    == SpanOutline(
                        spanID: child.spanID, parentSpanID: root.spanID, service: "payment", name: "charge",
                        startNanos: start + 1_000_000, endNanos: start + 6_000_000))
            #expect(byName["ends before it starts"].map { $0.endNanos == $0.startNanos } == true)
            let capped = try #require(try reader.outlines(id: trace, limits: TraceReadLimits(maxSpans: 2)))
            #expect(capped.spans.count == 2 && capped.truncated)
            #expect(try reader.outlines(id: randomBytes(16), limits: .unlimited) == nil)
            await store.close()
        }
    }
}
