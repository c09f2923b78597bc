import CollectorTesting
import Foundation
import QueryAPI
import Testing

@testable import otelsink

/// `otelsink diff`'s text: the same trace pairs as QueryAPITests' `TraceDiffTests`.
@Suite struct TraceDiffTextTests {
    typealias S = SketchedTrace.Span

    static let base = SketchedTrace.cart

    @Test func identicalTracesSayNoDifferences() {
        let diff = TraceDiff(SketchedTrace.request(1, Self.base), SketchedTrace.request(2, Self.base))
        #expect(diff.text().contains("No differences"))
    }

    @Test func changedSpansShowTheirTimesCriticalPathStatusAndAttributes() {
        let b = SketchedTrace.cartChanged
        let diff = TraceDiff(SketchedTrace.request(1, Self.base), SketchedTrace.request(2, b))
        let text = diff.text()
        #expect(text.contains("3 changed, 0 only in A, 0 only in B."))
        #expect(text.contains("◆ critical path 40ns → 330ns"))
        #expect(text.contains("status UNSET → ERROR"))
        #expect(text.contains("tries: 1 → 3") && text.contains("card: (absent) → visa"))
    }
}
