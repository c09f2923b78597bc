import CollectorTesting
import Foundation
import OTLP
import SQLiteStore
import Testing

@testable import QueryAPI

struct JSONWriterTests {
    private func text(_ json: JSON) -> String { String(decoding: json.serialized(), as: UTF8.self) }

    @Test(arguments: [Int64.min, -1, 0, 7, 10, 1_000_000_007, Int64.max])
    func integersAreWrittenAsTheirDecimalDigits(_ value: Int64) {
        #expect(text(.int(value)) == String(value))
    }

    @Test func stringsEscapeQuotesBackslashesAndControlCharactersAndKeepEverythingElse() throws {
        let tricky = "a\"b\\c\nd\re\tf\u{0}g\u{1F}h/é🦄\u{7F}"
        #expect(text(.string(tricky)) == #""a\"b\\c\nd\re\tf\u0000g\u001fh/é🦄\#u{7F}""#)
        // What Foundation's parser reads back is the original.
        let parsed = try JSONSerialization.jsonObject(with: Data(JSON.array([.string(tricky)]).serialized())) as? [String]
        #expect(parsed == [tricky])
        #expect(
            text(.object([("k\"", .null), ("", .bool(false)), ("d", .double(2.5)), ("n", .double(.nan))]))
                == #"{"k\"":null,"":false,"d":2.5,"n":null}"#)
    }

    @Test func theOneTraceEnvelopeWrittenInOneBufferIsTheEnvelopeAroundTheTrace() throws {
        let trace = SampleTrace.checkout()
        let span = try #require(trace.resourceSpans.first?.scopeSpans.first?.spans.first)
        let anomalies = [span.traceID: [span.spanID: SpanAnomaly(durationNanos: 9_000_000, baselineP99Nanos: 1_000_000)]]
        let encoded = try JaegerTraceFromProtobufTests.encoded(trace)
        for errors in [nil, [V1.error(206, "cut \"short\"", traceID: "0102")]] {
            let tree = V1.envelope(data: .array([try JaegerTrace.json(encoded, anomalies: anomalies)]), errors: errors)
            let oneBuffer = try V1.envelope(trace: encoded, anomalies: anomalies, errors: errors)
            #expect(String(decoding: oneBuffer, as: UTF8.self) == String(decoding: tree.serialized(), as: UTF8.self))
        }
    }
}
