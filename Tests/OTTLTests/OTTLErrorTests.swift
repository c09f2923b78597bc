import CollectorCore
import OTLP
import OTTL
import Testing

/// Statements that do not parse or bind are refused with the column of the problem; statements that fail on
/// data throw ``OTTLRuntimeError`` naming what went wrong.
@Suite struct OTTLErrorTests {
    struct ParseCase: Sendable, CustomTestStringConvertible {
        var statement: String
        /// Where the error points: the first occurrence of this text, or the end when nil.
        var at: String?
        var message: String
        var signal: Signal = .traces
        var testDescription: String { statement }
    }

    static let parseCases: [ParseCase] = [
        ParseCase(statement: #"set(span.name, "x""#, at: nil, message: "expected ')'"),
        ParseCase(statement: #"set(span.name "x")"#, at: #""x""#, message: "expected ')', found a string"),
        ParseCase(statement: #"sett(span.name, "x")"#, at: "sett", message: "unknown editor sett"),
        ParseCase(statement: #"set(span.nmae, "x")"#, at: "span.nmae", message: "unknown path nmae in span"),
        ParseCase(statement: #"Concat([span.name], "")"#, at: "Concat", message: "starts with an editor call"),
        ParseCase(statement: #"set(span.name, concat([span.name], ""))"#, at: "concat", message: "concat is an editor"),
        ParseCase(statement: #"set(span.name, Nope(span.name))"#, at: "Nope", message: "unknown converter Nope"),
        ParseCase(statement: #"set(span.name, "x") where"#, at: nil, message: "expected a value, found the end"),
        ParseCase(statement: #"set(span.name, "x") where span.name =="#, at: nil, message: "expected a value"),
        ParseCase(statement: #"set(span.name, "x") where span.name = "y""#, at: "= ", message: "unexpected '='"),
        ParseCase(statement: #"set(log.body, "x")"#, at: "log.body", message: "log paths cannot be used in traces statements"),
        ParseCase(statement: #"set(spam.name, "x")"#, at: "spam.name", message: "spam is not a context"),
        ParseCase(statement: #"set(attributes["x"], "y")"#, at: "set", message: "cannot tell which context", signal: .logs),
        ParseCase(statement: #"set(span.name, "x"); drop"#, at: ";", message: "unexpected character ';'"),
        ParseCase(statement: #"set(span.name, "\q")"#, at: #"\q"#, message: "unknown escape sequence"),
        ParseCase(statement: #"limit(span.attributes, 1, ["a", "b"])"#, at: "[", message: "more priority keys (2) than the limit (1)"),
        ParseCase(statement: #"set(span.kind, SPAN_KIND_NOPE)"#, at: "SPAN_KIND_NOPE", message: "unknown enum SPAN_KIND_NOPE"),
        ParseCase(statement: #"truncate_all(span.attributes, -1)"#, at: "-1", message: "limit must not be negative"),
        ParseCase(statement: #"replace_all_patterns(span.attributes, "keys", "a", "b")"#, at: #""keys""#, message: "mode must be"),
        ParseCase(statement: #"replace_pattern(span.name, "(", "b")"#, at: #""(""#, message: "regular expression"),
        ParseCase(statement: #"replace_pattern(span.name, "a", "b", SHA256, "%d-%s")"#, at: #""%d"#, message: "exactly one %s"),
        ParseCase(statement: #"replace_match(span.name, "[a", "b")"#, at: #""[a""#, message: "not a valid glob pattern"),
        ParseCase(statement: #"set(span.cache["x"], 1)"#, at: "span.cache", message: "cache path is not supported"),
        ParseCase(statement: #"set(span.trace_state["k"], "v")"#, at: "span.trace_state", message: "cannot be indexed"),
        ParseCase(statement: #"keep_keys(span.name, ["a"])"#, at: "span.name", message: "needs a path to a map"),
        ParseCase(statement: #"set(span.attributes["x"], ConvertCase(span.name, "kebab"))"#, at: #""kebab""#, message: "toCase must be"),
        ParseCase(statement: #"merge_maps(span.attributes, resource.attributes, "merge")"#, at: #""merge""#, message: "strategy must be"),
        ParseCase(statement: #"set(span.name)"#, at: "set", message: "set needs its value argument"),
        ParseCase(statement: #"set(span.name, "a", "b")"#, at: #""b""#, message: "too many arguments"),
        ParseCase(statement: #"set(target = span.name, valu = "a")"#, at: #""a""#, message: "no parameter named valu"),
        ParseCase(statement: #"set(span.name, "x") where span.name"#, at: nil, message: ""),
        ParseCase(statement: #"set(span.name, "x") where "yes""#, at: #""yes""#, message: "a condition must be a comparison"),
        ParseCase(statement: #"set(span.end_time_unix_nano, 99999999999999999999)"#, at: "9999", message: "does not fit in 64 bits"),
        ParseCase(statement: #"set(span.attributes["x"], 0xabc)"#, at: "0xabc", message: "even number of hex digits"),
        ParseCase(statement: deeplyNested, at: nil, message: "nested more than 64 levels"),
    ]

    static let deeplyNested: String = {
        let open = String(repeating: "(", count: 100)
        let close = String(repeating: ")", count: 100)
        return "set(span.name, \(open)1\(close))"
    }()

    /// The error parsing `statement` gives, nil when it parses.
    static func parseError(_ statement: String, _ signal: Signal) -> OTTLParseError? {
        do {
            _ = try OTTLStatement(statement, context: nil, signal: signal)
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: parseCases)
    func statementThatDoesNotParseNamesTheColumn(_ c: ParseCase) throws {
        guard let error = Self.parseError(c.statement, c.signal) else {
            // A path alone is a valid bool condition when it holds a bool; that is checked when data arrives.
            #expect(c.message.isEmpty, "\(c.statement) was accepted")
            return
        }
        #expect(!c.message.isEmpty, "\(c.statement): \(error)")
        #expect(error.message.contains(c.message), "\(error)")
        if let at = c.at {
            let offset = try #require(c.statement.range(of: at)).lowerBound.utf16Offset(in: c.statement)
            #expect(error.column == offset + 1, "\(error)")
        } else if !c.message.contains("nested") {
            #expect(error.column == c.statement.utf8.count + 1, "\(error)")
        }
        #expect(error.description.hasPrefix("\"\(c.statement)\": column \(error.column): "))
    }

    static let runtimeCases: [(String, String)] = [
        (#"set(span.attributes["x"], Substring(span.name, 100, 2))"#, "out of range"),
        (#"delete_key(span.attributes["http.method"], "k")"#, "expected a map, got string"),
        (#"set(span.kind.string, "Sideways")"#, "is not a span kind"),
        (#"set(span.attributes["x"], ParseJSON("{"))"#, "invalid JSON"),
        (#"set(span.attributes["x"], ParseJSON(span.attributes["http.status_code"]))"#, "ParseJSON needs a string, got int"),
        (#"set(span.attributes["x"], 1 / 0)"#, "division by zero"),
        (#"set(span.attributes["x"], span.start_time)"#, "a time cannot be stored"),
        (#"set(span.name, 5)"#, "expected a string, got int"),
        (#"set(span.attributes["tags"][5], "x")"#, "index 5 is out of range"),
        (#"set(span.attributes["x"], "y") where span.attributes["http.method"]"#, "a condition must be a bool"),
        (#"set(span.trace_id, 0x0102)"#, "an ID of 16 bytes"),
        (#"set(span.attributes["x"], SHA256(span.attributes["http.status_code"]))"#, "SHA256 needs a string"),
    ]

    @Test(arguments: runtimeCases)
    func statementThatFailsOnDataThrowsWhatWentWrong(_ statement: String, _ message: String) throws {
        var r = OTTLFixtures.traces()
        #expect {
            try OTTLFixtures.run([statement], on: &r)
        } throws: { error in
            (error as? OTTLRuntimeError)?.message.contains(message) == true
        }
    }
}
