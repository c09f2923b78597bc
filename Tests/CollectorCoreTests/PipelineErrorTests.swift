import CollectorCore
import Testing

@Suite("PipelineError")
struct PipelineErrorTests {
    struct Other: Error {}

    @Test func combinePrefersRetryable() {
        let permanent = PipelineError.permanent("disk broken")
        let invalid = PipelineError(.invalidData, "bad data")
        let retry = PipelineError.retryable("queue full", after: .seconds(3))
        let combined = PipelineError.combine([permanent, invalid, retry])
        #expect(combined?.kind == .retryable(after: .seconds(3)))
        #expect(combined?.message == "queue full")
    }

    @Test func combineTakesTheFirstRetryable() {
        let a = PipelineError.retryable("a", after: .seconds(1))
        let b = PipelineError.retryable("b", after: .seconds(2))
        #expect(PipelineError.combine([.permanent("p"), a, b])?.message == "a")
    }

    @Test func combineWithoutRetryableKeepsTheFirst() {
        let combined = PipelineError.combine([PipelineError(.invalidData, "bad"), .permanent("broken")])
        #expect(combined?.kind == .invalidData)
        #expect(combined?.message == "bad")
        #expect(PipelineError.combine([.permanent("only")])?.kind == .permanent)
    }

    @Test func combineOfNothingIsNil() {
        #expect(PipelineError.combine([]) == nil)
    }

    @Test func classify() {
        let retry = PipelineError.retryable("later")
        #expect(PipelineError.classify(retry).kind == .retryable(after: .seconds(1)))
        #expect(PipelineError.classify(PipelineError(.invalidData, "x")).kind == .invalidData)
        let other = PipelineError.classify(Other())
        #expect(other.kind == .permanent)
        #expect(other.message.contains("Other"))
    }
}
