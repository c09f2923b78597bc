import Foundation
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
}
