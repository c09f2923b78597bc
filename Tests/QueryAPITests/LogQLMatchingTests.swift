import QueryAPI
import Testing

/// Which entries a LogQL log query keeps (Loki's semantics: anchored label regexes, a missing label is "",
/// byte-wise line filters, structured metadata visible to label filters), and what storage may push down.
@Suite struct LogQLMatchingTests {
    func selector(_ query: String) throws -> LogSelector {
        guard case .logs(let s) = try LogQLParser.parse(query) else { throw LogQLError(.parse, "not a log query: \(query)") }
        return s
    }

    func entry(_ line: String, _ stream: [String: String], _ metadata: [String: String] = [:]) -> LogQLEntry {
        LogQLEntry(timestampNanos: 1, line: line, streamLabels: stream, structuredMetadata: metadata)
    }

    @Test func labelRegexesMatchTheWholeValue() throws {
        let s = try selector(#"{app=~"api"}"#)
        #expect(s.matchesStream(["app": "api"]))
        #expect(!s.matchesStream(["app": "api-gateway"]))
        #expect(!s.matchesStream(["app": "my-api"]))
        #expect(try selector(#"{app=~"api.*"}"#).matchesStream(["app": "api-gateway"]))
        #expect(try selector(#"{app=~"a|b"}"#).matchesStream(["app": "b"]))
        #expect(!(try selector(#"{app=~"a|b"}"#).matchesStream(["app": "ab"])))
        #expect(!(try selector(#"{app="x", env!~"prod|staging"}"#).matchesStream(["app": "x", "env": "prod"])))
        #expect(try selector(#"{app="x", env!~"prod|staging"}"#).matchesStream(["app": "x", "env": "production"]))
        // Prometheus anchors label regexes as ^(?s:…)$: a dot matches a newline, and $ only at the end.
        #expect(try selector(#"{app=~"x.y"}"#).matchesStream(["app": "x\ny"]))
        #expect(!(try selector(#"{app=~"x"}"#).matchesStream(["app": "x\n"])))
        #expect(try selector(#"{app=~"(?i)API"}"#).matchesStream(["app": "api"]))
    }

    @Test func aMissingLabelIsTheEmptyString() throws {
        #expect(try selector(#"{app="x", env!="prod"}"#).matchesStream(["app": "x"]))
        #expect(try selector(#"{app="x", env=""}"#).matchesStream(["app": "x"]))
        #expect(!(try selector(#"{app="x", env=""}"#).matchesStream(["app": "x", "env": "dev"])))
        #expect(try selector(#"{app="x", env=~"|dev"}"#).matchesStream(["app": "x"]))
        #expect(!(try selector(#"{app="x", env=~".+"}"#).matchesStream(["app": "x"])))
        #expect(!(try selector(#"{app="x"}"#).matchesStream([:])))
    }

    @Test func lineFiltersChainAndCompareBytes() throws {
        let s = try selector(#"{app="x"} |= "GET" != "health" |~ "status=5\\d\\d""#)
        #expect(s.matches(entry("GET /orders status=503", ["app": "x"])))
        #expect(!s.matches(entry("GET /health status=503", ["app": "x"])))
        #expect(!s.matches(entry("GET /orders status=200", ["app": "x"])))
        #expect(!s.matches(entry("POST /orders status=503", ["app": "x"])))
        #expect(!s.matches(entry("GET /orders status=503", ["app": "y"])))
        // Case-sensitive, byte-wise: a decomposed é is not the composed one (Swift's == would say it is).
        #expect(!(try selector(#"{app="x"} |= "get""#).matches(entry("GET", ["app": "x"]))))
        #expect(!(try selector("{app=\"x\"} |= \"\u{E9}\"").matches(entry("cafe\u{301}", ["app": "x"]))))
        #expect(try selector("{app=\"x\"} |= \"\u{E9}\"").matches(entry("caf\u{E9}", ["app": "x"])))
        // Line regexes are unanchored; RE2's $ is the end of the text, not before a final newline.
        #expect(try selector(#"{app="x"} |~ "rd""#).matches(entry("word", ["app": "x"])))
        #expect(!(try selector(#"{app="x"} |~ "end$""#).matches(entry("the end\n", ["app": "x"]))))
        #expect(try selector(#"{app="x"} |~ "(?m)end$""#).matches(entry("the end\nmore", ["app": "x"])))
        #expect(!(try selector(#"{app="x"} |~ "a.b""#).matches(entry("a\nb", ["app": "x"]))))
        #expect(try selector(#"{app="x"} |~ "[[:digit:]]+ ms""#).matches(entry("took 12 ms", ["app": "x"])))
        #expect(try selector(#"{app="x"} |~ "[a[]x""#).matches(entry("[x", ["app": "x"])))
        #expect(try selector(#"{app="x"} |~ "(?P<n>\\d+)""#).matches(entry("7", ["app": "x"])))
        #expect(try selector(#"{app="x"} |~ "\\Q$[\\E""#).matches(entry("a$[b", ["app": "x"])))
        // RE2's \d, \w and \s are ASCII (ICU's would take Arabic-Indic digits).
        #expect(!(try selector(#"{app="x"} |~ "^\\d+$""#).matches(entry("\u{663}\u{664}", ["app": "x"]))))
        #expect(try selector(#"{app="x"} |~ "^[\\d.]+\\s\\w+$""#).matches(entry("1.5 ms", ["app": "x"])))
        #expect(!(try selector(#"{app=~"\\w+"}"#).matchesStream(["app": "caf\u{E9}"])))
        // `|= ""` keeps every line, `!= ""` none (Loki's contains filter for the empty string is always true).
        #expect(try selector(#"{app="x"} |= """#).matches(entry("", ["app": "x"])))
        #expect(!(try selector(#"{app="x"} != """#).matches(entry("abc", ["app": "x"]))))
    }

    @Test func orAlternatives() throws {
        let any = try selector(#"{app="x"} |= "timeout" or "refused""#)
        #expect(any.matches(entry("connection refused", ["app": "x"])))
        #expect(any.matches(entry("read timeout", ["app": "x"])))
        #expect(!any.matches(entry("ok", ["app": "x"])))
        let none = try selector(#"{app="x"} != "debug" or "trace""#)
        #expect(none.matches(entry("info: ok", ["app": "x"])))
        #expect(!none.matches(entry("trace: x", ["app": "x"])))
        #expect(!none.matches(entry("debug: x", ["app": "x"])))
        let regex = try selector(#"{app="x"} |~ "^a" or "b$""#)
        #expect(regex.matches(entry("xb", ["app": "x"])))
        #expect(!regex.matches(entry("xa", ["app": "x"])))
    }

    @Test func labelFiltersSeeStructuredMetadata() throws {
        let trace = "0af7651916cd43dd8448eb211c80319c"
        let s = try selector(#"{service_name="api"} | trace_id="\#(trace)""#)
        #expect(s.matches(entry("x", ["service_name": "api"], ["trace_id": trace, "span_id": "b7ad6b7169203331"])))
        #expect(!s.matches(entry("x", ["service_name": "api"], ["trace_id": "ffff"])))
        #expect(!s.matches(entry("x", ["service_name": "api"])))
        let both = try selector(#"{service_name="api"} | level="error" and http_route=~"/orders.*" | span_id!="""#)
        #expect(both.matches(entry("x", ["service_name": "api", "level": "error"], ["http_route": "/orders/7", "span_id": "ab"])))
        #expect(!both.matches(entry("x", ["service_name": "api", "level": "error"], ["http_route": "/orders/7"])))
        #expect(!both.matches(entry("x", ["service_name": "api", "level": "info"], ["http_route": "/orders/7", "span_id": "ab"])))
        let either = try selector(#"{service_name="api"} | level="error" or status="500""#)
        #expect(either.matches(entry("x", ["service_name": "api"], ["status": "500"])))
        #expect(!either.matches(entry("x", ["service_name": "api"], ["status": "200"])))
        // A missing label is "" here too.
        #expect(try selector(#"{service_name="api"} | user!="bob""#).matches(entry("x", ["service_name": "api"])))
        #expect(try selector(#"{service_name="api"} | __error__="""#).matches(entry("x", ["service_name": "api"])))
    }

    @Test func onANameClashTheStreamLabelWinsAndMetadataIsExtracted() throws {
        let e = entry("x", ["service_name": "api", "level": "info"], ["level": "debug", "user": "ann", "empty": ""])
        #expect(e.labels == ["service_name": "api", "level": "info", "level_extracted": "debug", "user": "ann"])
        #expect(try selector(#"{service_name="api"} | level="info""#).matches(e))
        #expect(try selector(#"{service_name="api"} | level_extracted="debug""#).matches(e))
        #expect(!(try selector(#"{service_name="api"} | level="debug""#).matches(e)))
    }

    @Test func pushDownNamesOnlyWhatEveryMatchNeeds() throws {
        let s = try selector(
            #"{service_name="api", level!="debug", env="", host=~"a.*", service_name="other"} |= "GET" |= "a" or "b" != "x" |= "" | trace_id="abc" | user="u" or team="t" | span_id="s", k=~"v""#
        )
        #expect(s.equalityMatchers == ["service_name": "api"])
        #expect(s.lineContains == ["GET"])
        #expect(s.labelEquals == ["trace_id": "abc", "span_id": "s"])
    }
}
