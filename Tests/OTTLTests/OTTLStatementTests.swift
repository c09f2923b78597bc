import CollectorCore
import Foundation
import OTLP
import OTTL
import Testing

/// Statements and the data before and after, for every editor, converter, path kind and operator otelsink
/// supports. The fixture is `OTTLFixtures.traces()` (a span `GET /users/123` with typed attributes).
@Suite struct OTTLStatementTests {
    typealias F = OTTLFixtures

    /// Runs the statements on the trace fixture and returns the span's attributes rendered.
    private func spanAttributes(after statements: String...) throws -> String {
        var r = F.traces()
        try F.run(statements, on: &r)
        return F.render(F.span(r).attributes)
    }

    /// The rendered value of one span attribute after the statements ("<absent>" when it is not there).
    private func attribute(_ key: String, after statements: String...) throws -> String {
        var r = F.traces()
        try F.run(statements, on: &r)
        guard let kv = F.span(r).attributes.first(where: { $0.key == key }) else { return "<absent>" }
        return F.render([kv]).dropFirst(key.count + 1).description
    }

    // MARK: - Editors

    struct Case: Sendable, CustomTestStringConvertible {
        var statement: String
        var key: String
        var expected: String
        var testDescription: String { statement }
    }

    static let editorCases: [Case] = [
        Case(statement: #"set(span.attributes["new"], "v")"#, key: "new", expected: #""v""#),
        Case(statement: #"set(span.attributes["new"], nil)"#, key: "new", expected: "<absent>"),
        // Constants are stored once at compile time: each literal kind, into a new key and over an existing one.
        Case(statement: #"set(span.attributes["http.method"], 7)"#, key: "http.method", expected: "7"),
        Case(statement: #"set(span.attributes["new"], 2.5)"#, key: "new", expected: "2.5"),
        Case(statement: #"set(span.attributes["http.method"], false)"#, key: "http.method", expected: "false"),
        Case(statement: #"set(span.attributes["new"], SPAN_KIND_CLIENT)"#, key: "new", expected: "3"),
        Case(statement: #"set(span.attributes["http.method"], "POST")"#, key: "http.method", expected: #""POST""#),
        Case(statement: #"set(span.attributes["new"], span.attributes["missing"])"#, key: "new", expected: "<absent>"),
        Case(statement: #"set(span.attributes["nested"]["deep"], 1)"#, key: "nested", expected: #"{"deep":1,"inner":"x"}"#),
        Case(statement: #"set(span.attributes["made"]["x"], "y")"#, key: "made", expected: #"{"x":"y"}"#),
        Case(statement: #"set(span.attributes["m"], {"a": [1, 2.5, "s"], "b": true})"#, key: "m", expected: #"{"a":[1,2.5,"s"],"b":true}"#),
        Case(statement: #"delete_key(span.attributes, "user.password")"#, key: "user.password", expected: "<absent>"),
        Case(statement: #"delete_key(span.attributes["nested"], "inner")"#, key: "nested", expected: "{}"),
        Case(statement: #"delete_matching_keys(span.attributes, "^(user|db)\\.")"#, key: "db.statement", expected: "<absent>"),
        Case(statement: #"truncate_all(span.attributes, 3)"#, key: "user.password", expected: #""hun""#),
        Case(statement: #"truncate_all(span.attributes, 5, truncation_marker = "...")"#, key: "user.password", expected: #""hu...""#),
        Case(statement: #"truncate_all(span.attributes, 3)"#, key: "http.status_code", expected: "500"),
        Case(
            statement: #"replace_pattern(span.attributes["db.statement"], "'[^']*'", "?")"#, key: "db.statement",
            expected: #""SELECT * FROM t WHERE pw=? AND token=?""#),
        Case(
            statement: #"replace_pattern(span.attributes["user.password"], "^.*$", "$0", SHA256, "sha256:%s")"#, key: "user.password",
            expected: #""sha256:f52fbd32b2b3b86ff88ef6c490628285f482af15ddcb29541f94bcf526a3f6c7""#),
        Case(
            statement: #"replace_pattern(span.attributes["db.statement"], "'", "\"")"#, key: "db.statement",
            expected: #""SELECT * FROM t WHERE pw="secret" AND token="abc"""#),
        Case(statement: #"replace_pattern(span.attributes["user.password"], "hunter", "ø")"#, key: "user.password", expected: #""ø2""#),
        Case(statement: #"replace_pattern(span.attributes["http.status_code"], "5", "x")"#, key: "http.status_code", expected: "500"),
        Case(statement: #"replace_all_patterns(span.attributes, "value", "secret|hunter2", "***")"#, key: "user.password", expected: #""***""#),
        Case(
            statement: #"replace_all_patterns(span.attributes, "value", "secret|hunter2", "***")"#, key: "db.statement",
            expected: #""SELECT * FROM t WHERE pw='***' AND token='abc'""#),
        Case(statement: #"replace_all_patterns(span.attributes, "key", "^http\\.", "h.")"#, key: "h.status_code", expected: "500"),
        Case(statement: #"replace_all_matches(span.attributes, "hunter*", "***")"#, key: "user.password", expected: #""***""#),
        Case(statement: #"replace_match(span.attributes["http.method"], "G?T", "get")"#, key: "http.method", expected: #""get""#),
        Case(statement: #"merge_maps(span.attributes, ParseJSON(span.attributes["payload"]), "upsert")"#, key: "c", expected: #"{"d":"e"}"#),
        Case(statement: #"merge_maps(span.attributes, ParseJSON(span.attributes["payload"]), "upsert")"#, key: "a", expected: "1"),
        Case(statement: #"merge_maps(span.attributes, resource.attributes, "insert")"#, key: "service.name", expected: #""checkout""#),
        Case(statement: #"merge_maps(span.attributes, {"ok": true, "zz": 1}, "update")"#, key: "ok", expected: "true"),
        Case(statement: #"merge_maps(span.attributes, {"ok": true, "zz": 1}, "update")"#, key: "zz", expected: "<absent>"),
        Case(statement: #"merge_maps(span.attributes, {"ok": true, "zz": 1}, "insert")"#, key: "ok", expected: "false"),
    ]

    @Test(arguments: editorCases)
    func editorChangesTheSpan(_ c: Case) throws {
        let got = try attribute(c.key, after: c.statement)
        #expect(got == c.expected)
    }

    @Test func keepKeysAndLimitKeepTheNamedAndPriorityKeys() throws {
        #expect(try spanAttributes(after: #"keep_keys(span.attributes, ["http.method", "ok"])"#) == #"http.method="GET" ok=false"#)
        #expect(try spanAttributes(after: #"keep_matching_keys(span.attributes, "^http")"#) == #"http.method="GET" http.status_code=500"#)
        #expect(try spanAttributes(after: #"limit(span.attributes, 2, ["ok"])"#) == #"http.method="GET" ok=false"#)
        #expect(try spanAttributes(after: #"keep_keys(span.attributes, [])"#) == "")
    }

    // MARK: - Converters

    static let converterCases: [Case] = [
        Case(
            statement:
                #"set(span.attributes["out"], Concat([span.name, span.attributes["http.status_code"], span.attributes["missing"], span.trace_id], "|"))"#,
            key: "out", expected: #""GET /users/123|500|<nil>|0102030405060708090a0b0c0d0e0f10""#),
        Case(statement: #"set(span.attributes["out"], ConvertCase("myMetricName", "snake"))"#, key: "out", expected: #""my_metric_name""#),
        Case(
            statement: #"set(span.attributes["out"], ConvertCase("HTTPServer_requests", "snake"))"#, key: "out", expected: #""http_server_requests""#),
        Case(statement: #"set(span.attributes["out"], ConvertCase("my_metric_name", "camel"))"#, key: "out", expected: #""MyMetricName""#),
        Case(statement: #"set(span.attributes["out"], ConvertCase(span.name, "upper"))"#, key: "out", expected: #""GET /USERS/123""#),
        Case(statement: #"set(span.attributes["out"], ConvertCase("ABC", "lower"))"#, key: "out", expected: #""abc""#),
        Case(statement: #"set(span.attributes["out"], Int("42"))"#, key: "out", expected: "42"),
        Case(statement: #"set(span.attributes["out"], Int(2.9))"#, key: "out", expected: "2"),
        Case(statement: #"set(span.attributes["out"], Int(true))"#, key: "out", expected: "1"),
        Case(statement: #"set(span.attributes["out"], Int("4x"))"#, key: "out", expected: "<absent>"),
        Case(statement: #"set(span.attributes["out"], Double("2.5"))"#, key: "out", expected: "2.5"),
        Case(statement: #"set(span.attributes["out"], Double(span.attributes["http.status_code"]))"#, key: "out", expected: "500"),
        Case(statement: #"set(span.attributes["out"], String(span.attributes["http.status_code"]))"#, key: "out", expected: #""500""#),
        Case(statement: #"set(span.attributes["out"], String(span.span_id))"#, key: "out", expected: #""1020304050607080""#),
        Case(statement: #"set(span.attributes["out"], String(span.attributes["tags"]))"#, key: "out", expected: #""["a","b"]""#),
        Case(statement: #"set(span.attributes["out"], String(span.attributes["ratio"]))"#, key: "out", expected: #""0.25""#),
        Case(
            statement: #"set(span.attributes["out"], SHA256("abc"))"#, key: "out",
            expected: #""ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad""#),
        Case(statement: #"set(span.attributes["out"], Substring(span.name, 4, 6))"#, key: "out", expected: #""/users""#),
        Case(statement: #"set(span.attributes["out"], Split("a,b,,c", ","))"#, key: "out", expected: #"["a","b","","c"]"#),
        Case(statement: #"set(span.attributes["out"], ParseJSON(span.attributes["payload"])["c"]["d"])"#, key: "out", expected: #""e""#),
        Case(statement: #"set(span.attributes["out"], ParseJSON(span.attributes["payload"])["b"])"#, key: "out", expected: "[true,null]"),
        Case(statement: #"set(span.attributes["out"], ParseJSON("[1, \"x\"]"))"#, key: "out", expected: #"[1,"x"]"#),
        Case(statement: #"set(span.attributes["out"], true) where IsMatch(span.name, "^GET /users/\\d+$")"#, key: "out", expected: "true"),
        Case(statement: #"set(span.attributes["out"], true) where IsMatch(span.attributes["http.status_code"], "^5")"#, key: "out", expected: "true"),
        Case(statement: #"set(span.attributes["out"], true) where IsMatch(span.attributes["missing"], ".*")"#, key: "out", expected: "<absent>"),
        Case(statement: #"set(span.attributes["out"], Len(span.attributes["tags"]))"#, key: "out", expected: "2"),
        Case(statement: #"set(span.attributes["out"], span.attributes["http.status_code"] * 2 + 1)"#, key: "out", expected: "1001"),
        Case(statement: #"set(span.attributes["out"], span.attributes["ratio"] * 4)"#, key: "out", expected: "1"),
    ]

    @Test(arguments: converterCases)
    func converterGivesItsValue(_ c: Case) throws {
        #expect(try attribute(c.key, after: c.statement) == c.expected)
    }

    // MARK: - Conditions

    static let conditionCases: [(String, Bool)] = [
        (#"span.attributes["http.status_code"] >= 500 and not (span.kind == SPAN_KIND_CLIENT)"#, true),
        (#"span.attributes["http.status_code"] > 500"#, false),
        (#"span.attributes["http.status_code"] < 500.5"#, true),
        (#"span.attributes["http.status_code"] != 500"#, false),
        (#"span.attributes["missing"] == nil"#, true),
        (#"span.attributes["missing"] != nil"#, false),
        (#"span.attributes["http.method"] == nil"#, false),
        (#"span.name < "H" or span.attributes["ratio"] > 1"#, true),
        (#"span.attributes["http.status_code"] == "500""#, false),
        (#"span.attributes["ok"] == false and span.status.code == STATUS_CODE_ERROR"#, true),
        (#"not span.attributes["ok"] == false"#, false),
        (#"span.end_time - span.start_time > Duration("200ms")"#, true),
        (#"span.end_time_unix_nano - span.start_time_unix_nano < 200000000"#, false),
        (#"(span.kind == SPAN_KIND_SERVER or span.kind == SPAN_KIND_CLIENT) and span.status.message == "boom""#, true),
        (#"resource.attributes["service.name"] == "checkout" and scope.name == "lib""#, true),
        (#"span.trace_id == 0x0102030405060708090a0b0c0d0e0f10"#, true),
        (#"span.trace_id.string == "0102030405060708090a0b0c0d0e0f10""#, true),
        (#"span.attributes["tags"] == ["a", "b"]"#, true),
        (#"span.attributes["tags"] == ["a"]"#, false),
    ]

    @Test(arguments: conditionCases)
    func whereClauseDecidesWhetherTheEditorRuns(_ condition: String, _ holds: Bool) throws {
        let result = try attribute("hit", after: #"set(span.attributes["hit"], true) where "# + condition)
        #expect(result == (holds ? "true" : "<absent>"), "\(condition)")
    }

    @Test func conditionsEvaluateOnTheirOwn() throws {
        var target = OTTLTarget()
        target.resource.attributes = [F.kv("tenant", .string("acme"))]
        let c = try OTTLCondition(#"resource.attributes["tenant"] == "acme""#, context: nil, signal: .logs)
        #expect(c.context == .resource)
        #expect(try c.evaluate(&target))
        target.resource.attributes = []
        #expect(try !c.evaluate(&target))
    }

    // MARK: - Paths and contexts

    @Test func spanFieldsAreReadAndWritten() throws {
        var r = F.traces()
        try F.run(
            [
                #"set(span.name, "renamed")"#,
                #"set(span.kind, SPAN_KIND_CLIENT)"#,
                #"set(span.status.code, STATUS_CODE_OK)"#,
                #"set(span.status.message, "")"#,
                #"set(span.attributes["tid"], span.trace_id.string)"#,
                #"set(span.attributes["kind"], span.kind.string)"#,
                #"set(span.end_time, span.start_time + Duration("1s"))"#,
                #"set(span.span_id.string, "ffffffffffffffff")"#,
            ], on: &r)
        let span = F.span(r)
        #expect(span.name == "renamed")
        #expect(span.kind == .client)
        #expect(span.status.code == .ok && span.status.message == "")
        #expect(span.attributes.stringValue("tid") == "0102030405060708090a0b0c0d0e0f10")
        #expect(span.attributes.stringValue("kind") == "Client")
        #expect(span.endTimeUnixNano == 2_000_000_000)
        #expect(span.spanID == Data(repeating: 0xff, count: 8))
    }

    @Test func outerContextsAndSpanEventsAreEdited() throws {
        var r = F.traces()
        try F.run(
            [
                #"delete_key(resource.attributes, "secret")"#, #"set(scope.version, "2.0")"#,
                #"set(spanevent.attributes["span"], span.name) where spanevent.name == "exception""#,
            ], on: &r)
        #expect(F.render(r.resourceSpans[0].resource.attributes) == #"service.name="checkout" env="prod""#)
        #expect(r.resourceSpans[0].scopeSpans[0].scope.version == "2.0")
        #expect(F.span(r).events[0].attributes.stringValue("span") == "GET /users/123")
    }

    @Test func explicitContextTakesUnprefixedPaths() throws {
        var r = F.traces()
        try F.run([#"set(attributes["where"], "span") where name == "GET /users/123""#], context: .span, on: &r)
        try F.run([#"set(attributes["where"], "resource")"#], context: .resource, on: &r)
        #expect(F.span(r).attributes.stringValue("where") == "span")
        #expect(r.resourceSpans[0].resource.attributes.stringValue("where") == "resource")
    }

    @Test func logStatementsReadTheBodyAndIDs() throws {
        var r = F.logs()
        try F.run(
            [
                #"set(log.severity_text, "WARN") where IsMatch(log.body, "warn")"#,
                #"set(log.attributes["trace"], log.trace_id.string)"#,
                #"set(log.body, ParseJSON(log.body)["msg"])"#,
                #"set(log.severity_number, SEVERITY_NUMBER_WARN)"#,
            ], on: &r)
        let record = r.resourceLogs[0].scopeLogs[0].logRecords[0]
        #expect(record.severityText == "WARN")
        #expect(record.severityNumber == .warn)
        #expect(record.body.stringValue == "hello")
        #expect(record.attributes.stringValue("trace") == String(repeating: "ab", count: 16))
    }

    @Test func metricAndDataPointStatementsSeeTheMetricType() throws {
        var r = F.metrics()
        try F.run(
            [
                #"delete_key(datapoint.attributes, "instance") where metric.type == METRIC_DATA_TYPE_SUM"#,
                #"set(datapoint.attributes["big"], true) where datapoint.value_int > 8"#,
                #"set(metric.name, "http_requests") where metric.name == "http.server.requests""#,
                #"set(metric.description, "CPU") where metric.type == METRIC_DATA_TYPE_GAUGE and metric.is_monotonic == false"#,
            ], on: &r)
        let metrics = r.resourceMetrics[0].scopeMetrics[0].metrics
        #expect(metrics[0].name == "http_requests")
        #expect(F.render(metrics[0].sum.dataPoints[0].attributes) == #"route="/a""#)
        #expect(F.render(metrics[0].sum.dataPoints[1].attributes) == #"route="/b" big=true"#)
        #expect(metrics[0].sum.isMonotonic && metrics[0].sum.aggregationTemporality == .cumulative)
        #expect(metrics[1].description_p == "CPU")
        #expect(metrics[1].gauge.dataPoints[0].asDouble == 0.5)
    }

    @Test func absentResourceAndScopeStayAbsentWhenUntouched() throws {
        var r = ExportTraceRequest()
        var ss = ScopeSpans()
        ss.spans = [Span()]
        var rs = ResourceSpans()
        rs.scopeSpans = [ss]
        r.resourceSpans = [rs]
        try F.run([#"set(span.name, "x")"#], on: &r)
        #expect(!r.resourceSpans[0].hasResource)
        #expect(!r.resourceSpans[0].scopeSpans[0].hasScope)
        #expect(F.span(r).name == "x")
    }
}

extension OTTLStatementTests {
    @Test func plainTextPatternsReplaceEveryOccurrenceFromTheLeft() throws {
        var r = F.traces()
        try F.run([#"set(span.attributes["s"], "aaaXaa")"#, #"replace_pattern(span.attributes["s"], "aa", "b")"#], on: &r)
        #expect(F.span(r).attributes.stringValue("s") == "baXb")
    }
}

extension OTTLStatementTests {
    @Test func deleteKeyRemovesEveryAttributeOfThatKeyEvenRepeated() throws {
        var r = F.traces()
        r.resourceSpans[0].scopeSpans[0].spans[0].attributes += [F.kv("dup", .string("1")), F.kv("x", .string("2")), F.kv("dup", .string("3"))]
        try F.run([#"delete_key(span.attributes, "dup")"#, #"delete_key(span.attributes, "absent")"#], on: &r)
        let keys = F.span(r).attributes.map(\.key)
        #expect(!keys.contains("dup") && keys.last == "x" && keys.count == 10)
    }
}

extension OTTLStatementTests {
    /// `replace_pattern` with a plain-text pattern replaces byte for byte (no regex engine): compared with
    /// Foundation's literal replacement on random texts over a small alphabet (so needles overlap and repeat).
    @Test(arguments: [UInt64(1), 2, 3])
    func plainTextReplaceAgreesWithLiteralReplacement(seed: UInt64) throws {
        var rng = SeededRandom(seed: seed)
        let alphabet: [Character] = ["a", "b", "é", "🦄"]
        for _ in 0..<200 {
            let text = String((0..<Int(rng.next() % 12)).map { _ in alphabet[Int(rng.next() % 4)] })
            let needle = ["a", "aa", "ab", "bab", "é", "🦄a"][Int(rng.next() % 6)]
            let replacement = ["", "x", "yyy", "é🦄"][Int(rng.next() % 4)]
            var target = OTTLTarget()
            target.span.attributes = [F.kv("s", .string(text))]
            try OTTLStatement(#"replace_pattern(span.attributes["s"], "\#(needle)", "\#(replacement)")"#, context: nil, signal: .traces)
                .execute(&target)
            let expected = text.replacingOccurrences(of: needle, with: replacement, options: .literal)
            #expect(
                target.span.attributes.stringValue("s") == expected,
                "seed \(seed): \(text.debugDescription) with \(needle.debugDescription) → \(replacement.debugDescription)")
        }
    }

    /// A replacement that is not a string fails the statement only when there is something to replace.
    @Test func replacementOfTheWrongTypeFailsOnlyWhenThePatternMatches() throws {
        let statement = try OTTLStatement(#"replace_pattern(span.attributes["s"], "a", span.attributes["n"])"#, context: nil, signal: .traces)
        var target = OTTLTarget()
        target.span.attributes = [F.kv("s", .string("bbb")), F.kv("n", F.int(1))]
        try statement.execute(&target)
        #expect(target.span.attributes.stringValue("s") == "bbb")
        target.span.attributes = [F.kv("s", .string("bab")), F.kv("n", F.int(1))]
        #expect(throws: (any Error).self) { try statement.execute(&target) }
        target.span.attributes = [F.kv("s", .string("bab")), F.kv("n", .string("c"))]
        try statement.execute(&target)
        #expect(target.span.attributes.stringValue("s") == "bcb")
    }
}
