import CollectorCore
import Foundation
import OTLP
import Testing

@testable import SQLiteStore

@Suite("Span summaries")
struct SpanSummaryTests {
    @Test func summariesHoldTheOutlineStatusAndStoredAttributesWithinTheSpanCap() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir))
            let start = nowNanos()
            let trace = randomBytes(16)
            var root = makeSpan(trace: trace, name: "GET /cart\u{0}tail", start: start, duration: 12_000_000)
            root.attributes = [
                KeyValue.with {
                    $0.key = "http.route"
                    $0.value = .string("/cart")
                },
                KeyValue.with {
                    $0.key = "n"
                    $0.value.intValue = 7
                },
            ]
            var child = makeSpan(trace: trace, name: "charge", start: start + 1_000_000, duration: 5_000_000, parent: root.spanID)
            child.status.code = .error
            child.status.message = "card declined"
            child.events = [Span.Event.with { $0.name = "retry" }]
            try await store.append(makeRequest(service: "checkout", spans: [root]))
            try await store.append(makeRequest(service: "payment", spans: [child]))
            let reader = TraceReader(store: store)
            let read = try #require(try reader.summaries(id: trace, limits: .unlimited))
            #expect(!read.truncated && read.spans.count == 2)
            let byID = Dictionary(uniqueKeysWithValues: read.spans.map { ($0.outline.spanID, $0) })
            let r = try #require(byID[root.spanID])
            let c = try #require(byID[child.spanID])
            // The name is read whole (a NUL does not cut it), as the outline and the decoded read have it.
            #expect(
                r.outline
                    == SpanOutline(
                        spanID: root.spanID, parentSpanID: Data(), service: "checkout", name: "GET /cart\u{0}tail",
                        startNanos: start, endNanos: start + 12_000_000))
            #expect(r.attributes == root.attributes && r.statusCode == 0 && r.parts.statusMessage.isEmpty)
            #expect(c.statusCode == 2 && c.parts.statusMessage == "card declined" && c.attributes.isEmpty)
            // The summary of the decoded span says the same.
            let decoded = SpanSummary(root, service: "checkout")
            #expect(decoded.outline == r.outline && decoded.attributes == r.attributes && decoded.statusCode == r.statusCode)
            let capped = try #require(try reader.summaries(id: trace, limits: TraceReadLimits(maxSpans: 1)))
            #expect(capped.spans.count == 1 && capped.truncated)
            #expect(try reader.summaries(id: randomBytes(16), limits: .unlimited) == nil)
            await store.close()
        }
    }
}
