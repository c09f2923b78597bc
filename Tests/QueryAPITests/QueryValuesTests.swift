import Foundation
import QueryAPI
import SQLiteStore
import Testing

@Suite struct QueryValuesTests {
    @Test(arguments: [
        ("0", Int64(0)), ("1ns", 1), ("2us", 2_000), ("2µs", 2_000), ("300ms", 300_000_000), ("1.5s", 1_500_000_000),
        ("2m", 120_000_000_000), ("1h30m", 5_400_000_000_000), (".5s", 500_000_000),
    ])
    func goDurationsParseAsGoDoes(text: String, nanos: Int64) {
        #expect(QueryValues.goDuration(text) == nanos)
    }

    @Test(arguments: ["", "abc", "10", "1.5", "-1s", "1x", "ms", "1s2", "1e3s", "99999999999h", "1..5s"])
    func malformedDurationsAreRejected(text: String) {
        #expect(QueryValues.goDuration(text) == nil)
    }

    @Test func traceIDsAcceptShortFormsAndRejectZeroAndGarbage() {
        #expect(QueryValues.traceID("1") == Data(repeating: 0, count: 15) + Data([1]))
        #expect(QueryValues.traceID("ABCDEF0123456789abcdef0123456789")?.count == 16)
        #expect(QueryValues.traceID("0000") == nil)
        #expect(QueryValues.traceID("") == nil)
        #expect(QueryValues.traceID("xyz") == nil)
        #expect(QueryValues.traceID(String(repeating: "a", count: 33)) == nil)
    }

    @Test func tagsJSONTakesStringsAndScalarsAsText() throws {
        let tags = try QueryValues.tagsJSON(#"{"http.status_code":"500","retry":true,"n":3}"#)
        #expect(
            tags == [
                TagFilter(key: "http.status_code", value: "500"), TagFilter(key: "n", value: "3"),
                TagFilter(key: "retry", value: "true"),
            ])
    }

    @Test(arguments: [#"not json"#, #"["a"]"#, #"{"a":{"b":1}}"#, #"{"a":"#])
    func malformedTagsNameTheParameter(text: String) {
        #expect(throws: BadParameter.self) { try QueryValues.tagsJSON(text) }
        do { _ = try QueryValues.tagsJSON(text) } catch { #expect(error.description.contains("'tags'")) }
    }

    @Test func tagPairsSplitAtTheFirstSeparator() throws {
        #expect(try QueryValues.tagPair("url:http://x", separators: [":"], parameter: "tag") == TagFilter(key: "url", value: "http://x"))
        #expect(throws: BadParameter.self) { try QueryValues.tagPair("novalue", separators: [":"], parameter: "tag") }
        #expect(throws: BadParameter.self) { try QueryValues.tagPair(":v", separators: [":"], parameter: "tag") }
    }

    @Test func rfc3339KeepsNanoseconds() {
        #expect(QueryValues.rfc3339("1970-01-01T00:00:01Z") == 1_000_000_000)
        #expect(QueryValues.rfc3339("2024-05-01T12:00:00.123456789Z") == 1_714_564_800_123_456_789)
        #expect(QueryValues.rfc3339("2024-05-01T14:00:00.5+02:00") == 1_714_564_800_500_000_000)
        #expect(QueryValues.rfc3339("yesterday") == nil)
        #expect(QueryValues.rfc3339("2024-05-01") == nil)
    }

    @Test func queryParametersDecodePercentAndPlus() {
        let q = QueryParameters(query: "service=my+svc&tags=%7B%22a%22%3A%22b%22%7D&traceID=1&traceID=2&empty=")
        #expect(q.first("service") == "my svc")
        #expect(q.first("tags") == #"{"a":"b"}"#)
        #expect(q.all("traceID") == ["1", "2"])
        #expect(q.first("empty") == nil)
    }
}
