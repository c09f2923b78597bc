import QueryAPI
import Testing

/// The LogQL subset's parser: structures, Loki's error shapes, and the features it rejects by name.
/// Loki's grammar and messages: grafana/loki pkg/logql/syntax/syntax.y, lex.go, parser_test.go.
@Suite struct LogQLParserTests {
    func m(_ name: String, _ op: LabelMatcher.Operator, _ value: String) throws -> LabelMatcher {
        try LabelMatcher(name, op, value)
    }

    func line(_ op: LineFilter.Operator, _ patterns: String...) throws -> LogQLStage {
        .lineFilter(try LineFilter(op, patterns))
    }

    func label(_ name: String, _ op: LabelMatcher.Operator, _ value: String) throws -> LabelFilter {
        .matcher(try m(name, op, value))
    }

    func message(_ query: String) -> String? {
        do {
            _ = try LogQLParser.parse(query)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func selectorsWithEveryOperator() throws {
        let q = try LogQLParser.parse(#"{name="v", other!="w", re=~"a.*", nre!~"b"}"#)
        #expect(
            q
                == .logs(
                    LogSelector(matchers: [
                        try m("name", .equal, "v"), try m("other", .notEqual, "w"),
                        try m("re", .matchesRegex, "a.*"), try m("nre", .notMatchesRegex, "b"),
                    ])))
    }

    @Test func logQueriesParseToTheirStructure() throws {
        let app = try m("app", .equal, "api")
        let cases: [(String, LogQLQuery)] = [
            (#"{app="api"}"#, .logs(LogSelector(matchers: [app]))),
            (#"{ app = "api" , }"#.replacingOccurrences(of: " , }", with: " }"), .logs(LogSelector(matchers: [app]))),
            (
                #"{app="api"} |= "x" != "y" |~ "z+" !~ "w""#,
                .logs(
                    LogSelector(
                        matchers: [app],
                        pipeline: [
                            try line(.contains, "x"), try line(.notContains, "y"),
                            try line(.matchesRegex, "z+"), try line(.notMatchesRegex, "w"),
                        ]))
            ),
            (#"{app="api"} |= "a" or "b" or `c`"#, .logs(LogSelector(matchers: [app], pipeline: [try line(.contains, "a", "b", "c")]))),
            (#"{app="api"} != "a" or "b""#, .logs(LogSelector(matchers: [app], pipeline: [try line(.notContains, "a", "b")]))),
            (
                #"{app="api"} | trace_id="0af7651916cd43dd8448eb211c80319c""#,
                .logs(LogSelector(matchers: [app], pipeline: [.labelFilter(try label("trace_id", .equal, "0af7651916cd43dd8448eb211c80319c"))]))
            ),
            (
                #"{app="api"} | a="1" | b!="2" | c=~"3.*" | d!~"4""#,
                .logs(
                    LogSelector(
                        matchers: [app],
                        pipeline: [
                            .labelFilter(try label("a", .equal, "1")), .labelFilter(try label("b", .notEqual, "2")),
                            .labelFilter(try label("c", .matchesRegex, "3.*")), .labelFilter(try label("d", .notMatchesRegex, "4")),
                        ]))
            ),
            (
                #"{app="api"} | a="1" and b="2""#,
                .logs(LogSelector(matchers: [app], pipeline: [.labelFilter(.and([try label("a", .equal, "1"), try label("b", .equal, "2")]))]))
            ),
            (
                #"{app="api"} | a="1", b="2""#,
                .logs(LogSelector(matchers: [app], pipeline: [.labelFilter(.and([try label("a", .equal, "1"), try label("b", .equal, "2")]))]))
            ),
            (
                #"{app="api"} | a="1" b="2""#,
                .logs(LogSelector(matchers: [app], pipeline: [.labelFilter(.and([try label("a", .equal, "1"), try label("b", .equal, "2")]))]))
            ),
            (
                #"{app="api"} | a="1", b="2" and c="3", d="4""#,
                .logs(
                    LogSelector(
                        matchers: [app],
                        pipeline: [
                            .labelFilter(
                                .and([
                                    try label("a", .equal, "1"), try label("b", .equal, "2"),
                                    try label("c", .equal, "3"), try label("d", .equal, "4"),
                                ]))
                        ]))
            ),
            // `and` binds tighter than `or`.
            (
                #"{app="api"} | a="1" or b="2" and c="3""#,
                .logs(
                    LogSelector(
                        matchers: [app],
                        pipeline: [
                            .labelFilter(
                                .or([
                                    try label("a", .equal, "1"),
                                    .and([try label("b", .equal, "2"), try label("c", .equal, "3")]),
                                ]))
                        ]))
            ),
            (
                #"{app="api"} | (a="1" or b="2") and c="3""#,
                .logs(
                    LogSelector(
                        matchers: [app],
                        pipeline: [
                            .labelFilter(
                                .and([
                                    .or([try label("a", .equal, "1"), try label("b", .equal, "2")]),
                                    try label("c", .equal, "3"),
                                ]))
                        ]))
            ),
            // A comma takes everything to its right (Loki's yacc shifts there).
            (
                #"{app="api"} | a="1" or b="2", c="3""#,
                .logs(
                    LogSelector(
                        matchers: [app],
                        pipeline: [
                            .labelFilter(
                                .or([
                                    try label("a", .equal, "1"),
                                    .and([try label("b", .equal, "2"), try label("c", .equal, "3")]),
                                ]))
                        ]))
            ),
            (
                #"{app="api"} | a="1", b="2" or c="3""#,
                .logs(
                    LogSelector(
                        matchers: [app],
                        pipeline: [
                            .labelFilter(
                                .and([
                                    try label("a", .equal, "1"),
                                    .or([try label("b", .equal, "2"), try label("c", .equal, "3")]),
                                ]))
                        ]))
            ),
            (
                #"{app="api"} | (a="1" or b="2"), c="3""#,
                .logs(
                    LogSelector(
                        matchers: [app],
                        pipeline: [
                            .labelFilter(
                                .and([
                                    .or([try label("a", .equal, "1"), try label("b", .equal, "2")]),
                                    try label("c", .equal, "3"),
                                ]))
                        ]))
            ),
            (
                #"{app="api"} | drop __error__, __error_details__ |= "x""#,
                .logs(LogSelector(matchers: [app], pipeline: [.dropErrorLabels, try line(.contains, "x")]))
            ),
            (#"({app="api"} |= "x")"#, .logs(LogSelector(matchers: [app], pipeline: [try line(.contains, "x")]))),
            ("{app=\"api\"} # a comment\n |= \"x\"", .logs(LogSelector(matchers: [app], pipeline: [try line(.contains, "x")]))),
        ]
        for (text, expected) in cases {
            #expect(try LogQLParser.parse(text) == expected, "\(text)")
        }
    }

    @Test func stringsUnquoteAsGoDoes() throws {
        let cases: [(String, String)] = [
            (#""say \"hi\"""#, #"say "hi""#),
            (#""back\\slash""#, #"back\slash"#),
            (#""a\nb\tc""#, "a\nb\tc"),
            (#""caf\u00e9""#, "café"),
            (#""\U0001F600""#, "😀"),
            (#""\x41\101""#, "AA"),
            (#""\xc3\xa9""#, "é"),
            ("\"日本語\"", "日本語"),
            ("`raw \\n \"quoted\"`", #"raw \n "quoted""#),
            ("`two\nlines`", "two\nlines"),
        ]
        for (literal, value) in cases {
            #expect(
                try LogQLParser.parse("{app=\"a\"} |= \(literal)")
                    == .logs(
                        LogSelector(
                            matchers: [try m("app", .equal, "a")],
                            pipeline: [try line(.contains, value)])), "\(literal)")
        }
    }

    @Test func metricQueriesParseToTheirStructure() throws {
        let sel = LogSelector(matchers: [try m("app", .equal, "api")])
        let filtered = LogSelector(matchers: [try m("app", .equal, "api")], pipeline: [try line(.contains, "error")])
        let minute: Int64 = 60_000_000_000
        let cases: [(String, LogQLMetricQuery)] = [
            (#"count_over_time({app="api"}[5m])"#, LogQLMetricQuery(function: .countOverTime, selector: sel, rangeNanos: 5 * minute)),
            (#"rate({app="api"}[1m])"#, LogQLMetricQuery(function: .rate, selector: sel, rangeNanos: minute)),
            (#"bytes_over_time({app="api"}[1h30m])"#, LogQLMetricQuery(function: .bytesOverTime, selector: sel, rangeNanos: 90 * minute)),
            (
                #"count_over_time({app="api"} |= "error" [10s])"#,
                LogQLMetricQuery(function: .countOverTime, selector: filtered, rangeNanos: 10_000_000_000)
            ),
            (
                #"count_over_time({app="api"}[500ms] |= "error")"#,
                LogQLMetricQuery(function: .countOverTime, selector: filtered, rangeNanos: 500_000_000)
            ),
            (
                #"count_over_time(({app="api"} |= "error")[1d])"#,
                LogQLMetricQuery(function: .countOverTime, selector: filtered, rangeNanos: 1440 * minute)
            ),
            (
                #"count_over_time(({app="api"} |= "error" [1w]))"#,
                LogQLMetricQuery(function: .countOverTime, selector: filtered, rangeNanos: 7 * 1440 * minute)
            ),
            (#"sum(rate({app="api"}[1m]))"#, LogQLMetricQuery(function: .rate, selector: sel, rangeNanos: minute, sumBy: [])),
            (
                #"sum by (level, service_name) (rate({app="api"}[1m]))"#,
                LogQLMetricQuery(function: .rate, selector: sel, rangeNanos: minute, sumBy: ["level", "service_name"])
            ),
            (#"sum(rate({app="api"}[1m])) by (level)"#, LogQLMetricQuery(function: .rate, selector: sel, rangeNanos: minute, sumBy: ["level"])),
            (
                #"SUM BY (level) (COUNT_OVER_TIME({app="api"}[1m]))"#,
                LogQLMetricQuery(function: .countOverTime, selector: sel, rangeNanos: minute, sumBy: ["level"])
            ),
            (#"sum by () (rate({app="api"}[1m]))"#, LogQLMetricQuery(function: .rate, selector: sel, rangeNanos: minute, sumBy: [])),
            (
                #"sum by (a, b) (sum by (a) (rate({app="api"}[1m])))"#,
                LogQLMetricQuery(function: .rate, selector: sel, rangeNanos: minute, sumBy: ["a"])
            ),
            (
                #"(sum by (a) (count_over_time({app="api"}[1m])))"#,
                LogQLMetricQuery(function: .countOverTime, selector: sel, rangeNanos: minute, sumBy: ["a"])
            ),
            // Grafana's log volume query.
            (
                #"sum by (level, detected_level) (count_over_time({app="api"} | drop __error__[1m]))"#,
                LogQLMetricQuery(
                    function: .countOverTime, selector: LogSelector(matchers: [try m("app", .equal, "api")], pipeline: [.dropErrorLabels]),
                    rangeNanos: minute, sumBy: ["level", "detected_level"])
            ),
        ]
        for (text, expected) in cases {
            #expect(try LogQLParser.parse(text) == .metric(expected), "\(text)")
        }
    }

    @Test func syntaxErrorsNameLineColumnAndToken() {
        // Messages and positions as in Loki's parser_test.go.
        #expect(message(#"{foo="bar""#) == "parse error at line 1, col 11: syntax error: unexpected $end, expecting } or ,")
        #expect(message(#"{foo="bar"} |~"#) == "parse error at line 1, col 15: syntax error: unexpected $end, expecting STRING or ip")
        #expect(message(#"{foo="bar"} "foo""#) == "parse error at line 1, col 13: syntax error: unexpected STRING")
        #expect(message(#"{foo="bar"} foo"#) == "parse error at line 1, col 13: syntax error: unexpected IDENTIFIER")
        #expect(message(#"{foo="bar}"#) == "parse error at line 1, col 6: literal not terminated")
        #expect(message(#"unk({ foo = "bar" }[5m])"#) == "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER")
        #expect(message(#"rate({ foo = "bar" }[5minutes])"#) == #"parse error at line 1, col 21: unknown unit "minutes" in duration "5minutes""#)
        #expect(message(#"rate({ foo = "bar" }[5)"#) == "parse error at line 1, col 21: missing closing ']' in duration")
        #expect(message("#{app=\"foo\"} | json") == "parse error at line 1, col 20: syntax error: unexpected $end")
        #expect(message(#"{app="a"} | json"#) != nil)
        #expect(message(#"{foo bar="x"}"#) == "parse error at line 1, col 6: syntax error: unexpected IDENTIFIER, expecting = or != or =~ or !~")
        #expect(message(#"{foo=bar}"#) == "parse error at line 1, col 6: syntax error: unexpected IDENTIFIER, expecting STRING")
        #expect(message(#"{="x"}"#) == "parse error at line 1, col 2: syntax error: unexpected =, expecting IDENTIFIER or }")
        #expect(message("{app=\"a\"}\n  |= \"x\"\n  | =\"y\"") == "parse error at line 3, col 5: syntax error: unexpected =")
        #expect(message(#"sum({app="a"})"#) == "parse error at line 1, col 14: syntax error: unexpected )")
        #expect(message(#"sum({app="a"}[1m])"#) == "parse error at line 1, col 14: syntax error: unexpected RANGE")
        #expect(message(#"rate({app="a"})"#) == "parse error at line 1, col 15: syntax error: unexpected )")
        #expect(message(#"{app="a"} |= "\q""#) == "parse error at line 1, col 15: invalid char escape")
        #expect(message(#"{app="a"} |= "\xff""#) == "parse error at line 1, col 14: invalid UTF-8 encoding")
        #expect(message(#"{app="a"} @"#) == #"parse error at line 1, col 11: syntax error: unexpected character "@""#)
        #expect(message("") == "parse error at line 1, col 1: syntax error: unexpected $end")
        #expect(message(#"sum by (a) (rate({app="a"}[1m])) by (b)"#) == "parse error at line 1, col 34: syntax error: unexpected by")
    }

    @Test func checksAfterParsingUseLokisMessages() {
        let emptyCompatible =
            #"parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~".*" does not meet this requirement, but app=~".+" will"#
        for q in [#"{a=""}"#, #"{a=~".*"}"#, #"{a!="x"}"#, #"{a!~"b|c"}"#, "{}", #"count_over_time({app=~".*"}[5m])"#, #"{a="", b=~"x*"}"#] {
            #expect(message(q) == emptyCompatible, "\(q)")
        }
        for q in [#"{a=~".+"}"#, #"{a!=""}"#, #"{a="b", c!="d"}"#, #"{a=~"bar|baz"}"#] {
            #expect(message(q) == nil, "\(q)")
        }
        #expect(message(#"count_over_time({a="b"}[5m]) by (a)"#) == "parse error : grouping not allowed for count_over_time aggregation")
        #expect(message(#"rate(5, {a="b"}[5m])"#) == "parse error : parameter 5 not supported for operation rate")
        #expect(message(#"sum(3, rate({a="b"}[5m]))"#) == "parse error : unsupported parameter for operation sum(3,")
    }

    @Test func regexesThatDoNotCompileAreNamed() {
        let label = message(#"{app=~"(unclosed"}"#)
        #expect(label?.hasPrefix(#"parse error : invalid regular expression "(unclosed" in label matcher app=~: "#) == true, "\(label ?? "")")
        let lineFilter = message(#"{app="a"} |~ "a[""#)
        #expect(lineFilter?.hasPrefix(#"parse error : invalid regular expression "a[" in line filter |~: "#) == true, "\(lineFilter ?? "")")
        #expect(message(#"{app="a"} | x!~"*""#)?.contains(#"invalid regular expression "*" in label matcher x!~"#) == true)
        #expect(message(#"{app="a"} |~ "ok" or "(""#)?.contains(#"invalid regular expression "(""#) == true)
    }

    @Test func limitsOnQueryAndPatternLength() throws {
        let long = #"{app="a"} |= ""# + String(repeating: "x", count: LogQLParser.maxQueryBytes) + "\""
        #expect(message(long)?.hasPrefix("parse error : input size too long (") == true)
        let pattern = String(repeating: "a", count: 4097)
        #expect(message("{app=\"a\"} |~ \"\(pattern)\"")?.contains("too long (4097 > 4096 bytes)") == true)
        _ = try LogQLParser.parse("{app=\"a\"} |~ \"\(String(repeating: "a", count: 4096))\"")
    }

    @Test func nestingIsBoundedAndLongChainsAreFlat() throws {
        let deep = String(repeating: "(", count: 100) + #"{app="a"}"# + String(repeating: ")", count: 100)
        #expect(message(deep)?.contains("query nested too deeply (more than 64 levels)") == true)
        let deepFilter = #"{app="a"} | "# + String(repeating: "(", count: 100) + #"x="1""# + String(repeating: ")", count: 100)
        #expect(message(deepFilter)?.contains("nested too deeply") == true)
        let alternating = #"{app="a"} | "# + (0..<100).map { #"a\#($0)="1" or b\#($0)="2","# }.joined() + #" z="9""#
        #expect(message(alternating)?.contains("label filter nested too deeply") == true)
        // Five thousand filters joined by commas parse into one flat `and`.
        let chain = #"{app="a"} | "# + (0..<5_000).map { #"l\#($0)!="x""# }.joined(separator: ",")
        guard case .logs(let s) = try LogQLParser.parse(chain), case .labelFilter(.and(let terms)) = s.pipeline.first else {
            Issue.record("not a flat and")
            return
        }
        #expect(terms.count == 5_000)
        #expect(s.matches(LogQLEntry(timestampNanos: 0, line: "", streamLabels: ["app": "a"])))
    }

    @Test(arguments: [
        (#"{app="a"} | json"#, #""| json" parser"#),
        (#"{app="a"} | logfmt"#, #""| logfmt" parser"#),
        (#"{app="a"} | regexp "(?P<x>.*)""#, #""| regexp" parser"#),
        (#"{app="a"} | pattern "<x>""#, #""| pattern" parser"#),
        (#"{app="a"} | unpack"#, #""| unpack" parser"#),
        (#"{app="a"} | line_format "{{.x}}""#, #""| line_format""#),
        (#"{app="a"} | label_format x=y"#, #""| label_format""#),
        (#"{app="a"} | decolorize"#, #""| decolorize""#),
        (#"{app="a"} | keep a"#, #""| keep""#),
        (#"{app="a"} | drop a"#, #""| drop" of labels other than __error__ and __error_details__"#),
        (#"{app="a"} | drop __error__="x""#, #""| drop" of labels other than __error__ and __error_details__"#),
        (#"{app="a"} |> "<_> x""#, #""|>" pattern line filter"#),
        (#"{app="a"} !> "<_> x""#, #""!>" pattern line filter"#),
        (#"{app="a"} |= ip("1.2.3.4")"#, #""ip()" line filter"#),
        (#"{app="a"} | addr = ip("1.2.3.4")"#, #""ip()" label filter"#),
        (#"{app="a"} | status > 400"#, #"numeric label filter ">""#),
        (#"{app="a"} | status = 400"#, #"numeric label filter "=""#),
        (#"{app="a"} | latency >= 250ms"#, #"duration label filter ">=""#),
        (#"{app="a"} | size < 2KiB"#, #"bytes label filter "<""#),
        (#"sum_over_time({app="a"} | unwrap x [5m])"#, #""sum_over_time" range aggregation"#),
        (#"rate({app="a"} | unwrap x [5m])"#, #""| unwrap""#),
        (#"quantile_over_time(0.99, {app="a"} | unwrap x [5m])"#, #""quantile_over_time" range aggregation"#),
        (#"absent_over_time({app="a"}[5m])"#, #""absent_over_time" range aggregation"#),
        (#"bytes_rate({app="a"}[5m])"#, #""bytes_rate" range aggregation"#),
        (#"count_over_time({app="a"}[5m] offset 1h)"#, #""offset" modifier"#),
        (#"topk(5, count_over_time({app="a"}[5m]))"#, #""topk" aggregation"#),
        (#"avg(count_over_time({app="a"}[5m]))"#, #""avg" aggregation"#),
        (#"max by (x) (count_over_time({app="a"}[5m]))"#, #""max" aggregation"#),
        (#"min(count_over_time({app="a"}[5m]))"#, #""min" aggregation"#),
        (#"count(count_over_time({app="a"}[5m]))"#, #""count" aggregation"#),
        (#"sum without (x) (count_over_time({app="a"}[5m]))"#, #""without" grouping"#),
        (#"sum(count_over_time({app="a"}[5m])) / 2"#, #"binary operator "/""#),
        (#"count_over_time({app="a"}[5m]) > 10"#, #"binary operator ">""#),
        (#"count_over_time({app="a"}[5m]) or vector(0)"#, #"binary operator "or""#),
        (#"1 + count_over_time({app="a"}[5m])"#, "number literals and binary operators"),
        (#"vector(1)"#, #""vector()""#),
        (#"label_replace(rate({app="a"}[1m]), "a", "$1", "b", "(.*)")"#, #""label_replace()""#),
    ])
    func unsupportedFeaturesAreNamed(query: String, feature: String) {
        #expect(message(query) == "LogQL feature not supported by otelsink: \(feature)")
        do {
            _ = try LogQLParser.parse(query)
        } catch {
            #expect(error.kind == .unsupported)
        }
    }

    @Test func streamSelectorsAlone() throws {
        #expect(
            try LogQLParser.parseStreamSelector(#"{a="b", c=~"d.*"}"#, requireNonEmptyMatcher: true) == [
                try m("a", .equal, "b"), try m("c", .matchesRegex, "d.*"),
            ])
        #expect(try LogQLParser.parseStreamSelector("{}", requireNonEmptyMatcher: false) == [])
        #expect(throws: LogQLError.self) { try LogQLParser.parseStreamSelector("{}", requireNonEmptyMatcher: true) }
        do {
            _ = try LogQLParser.parseStreamSelector(#"{a="b"} |= "x""#, requireNonEmptyMatcher: false)
            Issue.record("a pipeline was accepted")
        } catch {
            #expect(error.description == "only label matchers are supported")
        }
    }
}
