import CollectorCore
import Testing

struct JSONStringLiteralTests {
    @Test func quotesBackslashesAndControlCharactersAreEscaped() {
        #expect(JSONStringLiteral.quoted("a\"b\\c\nd\re\tf\u{0}g\u{1F}") == #""a\"b\\c\nd\re\tf\u0000g\u001f""#)
    }

    @Test func htmlCharactersStayAsTheyAreUnlessHTMLSafeIsAsked() {
        let text = "<b>&\u{2028}\u{2029}é🦄"
        #expect(JSONStringLiteral.quoted(text) == "\"\(text)\"")
        var out = ""
        JSONStringLiteral.append(text, to: &out, htmlSafe: true)
        #expect(out == #""\u003cb\u003e\u0026\u2028\u2029é🦄""#)
    }
}
