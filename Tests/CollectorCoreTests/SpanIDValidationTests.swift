import CollectorCore
import Foundation
import OTLP
import Testing

@Suite("SpanIDValidation")
struct SpanIDValidationTests {
    static let goodTrace = Data((1...16).map { UInt8($0) })
    static let goodSpan = Data((1...8).map { UInt8($0 * 3) })

    func span(_ name: String, trace: Data = SpanIDValidationTests.goodTrace, span: Data = SpanIDValidationTests.goodSpan, parent: Data = Data())
        -> Span
    {
        var s = Span()
        s.name = name
        s.traceID = trace
        s.spanID = span
        s.parentSpanID = parent
        return s
    }

    func request(_ scopes: [[Span]]...) -> ExportTraceRequest {
        var r = ExportTraceRequest()
        for (ri, resource) in scopes.enumerated() {
            var rs = ResourceSpans()
            rs.resource.attributes = [
                {
                    var kv = KeyValue()
                    kv.key = "service.name"
                    kv.value = .string("svc\(ri)")
                    return kv
                }()
            ]
            for (si, spans) in resource.enumerated() {
                var ss = ScopeSpans()
                ss.scope.name = "scope\(si)"
                ss.spans = spans
                rs.scopeSpans.append(ss)
            }
            r.resourceSpans.append(rs)
        }
        return r
    }

    @Test func validRequestIsUntouched() {
        let original = request([[span("a"), span("b", parent: Data(repeating: 9, count: 8))], []], [[span("c")]])
        var r = original
        let outcome = SpanIDValidation.filter(&r)
        #expect(outcome == SpanIDValidation.Outcome(rejected: 0, message: ""))
        #expect(r == original)
    }

    @Test func emptyScopesAndResourcesAreFine() {
        let original = request([[], []], [])
        var r = original
        #expect(SpanIDValidation.filter(&r).rejected == 0)
        #expect(r == original)
        var empty = ExportTraceRequest()
        #expect(SpanIDValidation.filter(&empty) == SpanIDValidation.Outcome(rejected: 0, message: ""))
    }

    @Test(arguments: [
        (Data(count: 16), SpanIDValidationTests.goodSpan, Data(), "trace id is all zeros"),
        (Data(repeating: 1, count: 15), SpanIDValidationTests.goodSpan, Data(), "trace id must be 16 bytes, got 15"),
        (Data(), SpanIDValidationTests.goodSpan, Data(), "trace id must be 16 bytes, got 0"),
        (SpanIDValidationTests.goodTrace, Data(repeating: 1, count: 9), Data(), "span id must be 8 bytes, got 9"),
        (SpanIDValidationTests.goodTrace, Data(count: 8), Data(), "span id is all zeros"),
        (SpanIDValidationTests.goodTrace, SpanIDValidationTests.goodSpan, Data([1, 2, 3]), "parent span id must be empty or 8 bytes, got 3"),
    ])
    func badIDsAreRejected(trace: Data, spanID: Data, parent: Data, problem: String) {
        let bad = span("bad", trace: trace, span: spanID, parent: parent)
        #expect(SpanIDValidation.problem(bad) == problem)
        var r = request([[span("ok1"), bad, span("ok2")]])
        let outcome = SpanIDValidation.filter(&r)
        #expect(outcome.rejected == 1)
        #expect(outcome.message == "1 span(s) rejected: \(problem)")
        #expect(r.resourceSpans[0].scopeSpans[0].spans.map(\.name) == ["ok1", "ok2"])
    }

    @Test func countsEveryRejectionAndNamesTheFirstProblem() {
        var r = request(
            [[span("ok1"), span("zero-trace", trace: Data(count: 16))], [span("short-parent", parent: Data([1, 2, 3]))]],
            [[span("ok2"), span("long-span", span: Data(repeating: 7, count: 9)), span("ok3", parent: Data(repeating: 5, count: 8))]]
        )
        let outcome = SpanIDValidation.filter(&r)
        #expect(outcome.rejected == 3)
        #expect(outcome.message == "3 span(s) rejected: trace id is all zeros")
        let kept = r.resourceSpans.flatMap { $0.scopeSpans.flatMap { $0.spans.map(\.name) } }
        #expect(kept == ["ok1", "ok2", "ok3"])
        // Resource and scope data of the kept spans are untouched.
        #expect(r.resourceSpans.map { $0.resource.attributes.stringValue("service.name") } == ["svc0", "svc1"])
        #expect(r.resourceSpans[1].scopeSpans[0].spans.count == 2)
    }

    @Test func validParentIDsAreAccepted() {
        #expect(SpanIDValidation.problem(span("root")) == nil)
        #expect(SpanIDValidation.problem(span("child", parent: Data(repeating: 0xAB, count: 8))) == nil)
        // An all-zero parent of the right length is tolerated (some SDKs send it for roots).
        #expect(SpanIDValidation.problem(span("zero-parent", parent: Data(count: 8))) == nil)
    }

    /// The documented contract: only spans are removed; scopes and resources left empty stay (they store nothing).
    @Test func onlyRejectedSpansAreRemovedAndContainersStay() {
        var r = request(
            [[span("bad", trace: Data(count: 16))], [span("ok")]],
            [[span("bad2", span: Data(count: 8))]]
        )
        let outcome = SpanIDValidation.filter(&r)
        #expect(outcome.rejected == 2)
        #expect(r.resourceSpans.count == 2)
        #expect(r.resourceSpans.map { $0.scopeSpans.map { $0.spans.map(\.name) } } == [[[], ["ok"]], [[]]])
        #expect(r.spanCount == 1)
    }
}
