import CollectorCore
import Foundation
import OTLP
import QueryAPI
import Testing

/// A fixed trace: a server root with every attribute type, an error child in another service with an event and
/// a link, trace state and scope version.
func fixtureTrace() -> ExportTraceRequest {
    func kv(_ k: String, _ v: AnyValue) -> KeyValue {
        var x = KeyValue()
        x.key = k
        x.value = v
        return x
    }
    func value(_ set: (inout AnyValue) -> Void) -> AnyValue {
        var v = AnyValue()
        set(&v)
        return v
    }
    let traceID = Data((1...16).map { UInt8($0) })
    var root = Span()
    root.traceID = traceID
    root.spanID = Data([0xa1, 0, 0, 0, 0, 0, 0, 1])
    root.name = "GET /cart"
    root.kind = .server
    root.startTimeUnixNano = 1_714_564_800_000_000_000
    root.endTimeUnixNano = root.startTimeUnixNano + 12_345_000
    root.flags = 0x101
    root.traceState = "vendor=x"
    root.status.code = .ok
    var arr = AnyValue()
    arr.arrayValue.values = [.string("a"), value { $0.intValue = 2 }]
    root.attributes = [
        kv("http.method", .string("GET")), kv("http.status_code", value { $0.intValue = 200 }),
        kv("sampled", value { $0.boolValue = true }), kv("ratio", value { $0.doubleValue = 0.25 }),
        kv("raw", value { $0.bytesValue = Data([1, 2, 3]) }), kv("list", arr),
    ]
    var child = Span()
    child.traceID = traceID
    child.spanID = Data([0xb2, 0, 0, 0, 0, 0, 0, 2])
    child.parentSpanID = root.spanID
    child.name = "charge"
    child.kind = .client
    child.startTimeUnixNano = root.startTimeUnixNano + 2_000_000
    child.endTimeUnixNano = child.startTimeUnixNano + 4_000_000
    child.status.code = .error
    child.status.message = "card declined"
    var event = Span.Event()
    event.name = "retry"
    event.timeUnixNano = child.startTimeUnixNano + 1_000_000
    event.attributes = [kv("attempt", value { $0.intValue = 2 })]
    child.events = [event]
    var link = Span.Link()
    link.traceID = Data(repeating: 0, count: 8) + Data((1...8).map { UInt8($0) })
    link.spanID = Data([0xc3, 0, 0, 0, 0, 0, 0, 3])
    child.links = [link]

    var rs1 = ResourceSpans()
    rs1.resource.attributes = [kv("service.name", .string("checkout")), kv("host.name", .string("h1"))]
    var ss1 = ScopeSpans()
    ss1.scope.name = "shop"
    ss1.scope.version = "1.2"
    ss1.spans = [root]
    rs1.scopeSpans = [ss1]
    var rs2 = ResourceSpans()
    rs2.resource.attributes = [kv("service.name", .string("payment"))]
    var ss2 = ScopeSpans()
    ss2.scope.name = "pay"
    ss2.spans = [child]
    rs2.scopeSpans = [ss2]
    var request = ExportTraceRequest()
    request.resourceSpans = [rs1, rs2]
    return request
}

func parse(_ json: JSON) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(json.serialized())) as? [String: Any])
}

func tags(_ span: [String: Any]) -> [String: (type: String, value: Any)] {
    var out: [String: (String, Any)] = [:]
    for t in span["tags"] as? [[String: Any]] ?? [] {
        out[t["key"] as? String ?? ""] = (t["type"] as? String ?? "", t["value"] as Any)
    }
    return out
}

@Suite struct JaegerTraceTests {
    @Test func traceHasTheJaegerShape() throws {
        let t = try parse(JaegerTrace.json(fixtureTrace()))
        #expect(t["traceID"] as? String == "0102030405060708090a0b0c0d0e0f10")
        #expect(t["warnings"] is NSNull)
        let processes = try #require(t["processes"] as? [String: [String: Any]])
        #expect(processes.keys.sorted() == ["p1", "p2"])
        #expect(processes["p1"]?["serviceName"] as? String == "checkout")
        let p1Tags = try #require(processes["p1"]?["tags"] as? [[String: Any]])
        #expect(p1Tags.count == 1)
        #expect(p1Tags[0]["key"] as? String == "host.name" && p1Tags[0]["type"] as? String == "string" && p1Tags[0]["value"] as? String == "h1")
        #expect(processes["p2"]?["serviceName"] as? String == "payment")
    }

    @Test func spansCarryIDsMicrosecondsReferencesAndProcess() throws {
        let t = try parse(JaegerTrace.json(fixtureTrace()))
        let spans = try #require(t["spans"] as? [[String: Any]])
        #expect(spans.count == 2)
        let root = spans[0]
        let child = spans[1]
        #expect(root["spanID"] as? String == "a100000000000001")
        #expect(root["operationName"] as? String == "GET /cart")
        #expect(root["startTime"] as? Int == 1_714_564_800_000_000)
        #expect(root["duration"] as? Int == 12_345)
        #expect(root["flags"] as? Int == 1)
        #expect((root["references"] as? [Any])?.isEmpty == true)
        #expect(root["processID"] as? String == "p1")
        #expect(child["processID"] as? String == "p2")
        let refs = try #require(child["references"] as? [[String: String]])
        #expect(
            refs == [
                ["refType": "CHILD_OF", "traceID": "0102030405060708090a0b0c0d0e0f10", "spanID": "a100000000000001"],
                ["refType": "FOLLOWS_FROM", "traceID": "0102030405060708", "spanID": "c300000000000003"],
            ])
    }

    @Test func tagsAreTypedAndFollowTheOTLPToJaegerConventions() throws {
        let t = try parse(JaegerTrace.json(fixtureTrace()))
        let spans = try #require(t["spans"] as? [[String: Any]])
        let root = tags(spans[0])
        let child = tags(spans[1])
        #expect(root["http.method"]?.type == "string" && root["http.method"]?.value as? String == "GET")
        #expect(root["http.status_code"]?.type == "int64" && root["http.status_code"]?.value as? Int == 200)
        #expect(root["sampled"]?.type == "bool" && root["sampled"]?.value as? Bool == true)
        #expect(root["ratio"]?.type == "float64" && root["ratio"]?.value as? Double == 0.25)
        #expect(root["raw"]?.type == "binary" && root["raw"]?.value as? String == "AQID")
        #expect(root["list"]?.type == "string" && root["list"]?.value as? String == #"["a",2]"#)
        #expect(root["span.kind"]?.value as? String == "server")
        #expect(root["otel.status_code"]?.value as? String == "OK")
        #expect(root["otel.scope.name"]?.value as? String == "shop")
        #expect(root["otel.scope.version"]?.value as? String == "1.2")
        #expect(root["w3c.tracestate"]?.value as? String == "vendor=x")
        #expect(root["error"] == nil)
        #expect(child["span.kind"]?.value as? String == "client")
        #expect(child["otel.status_code"]?.value as? String == "ERROR")
        #expect(child["error"]?.type == "bool" && child["error"]?.value as? Bool == true)
        #expect(child["otel.status_description"]?.value as? String == "card declined")
        #expect(child["otel.scope.version"] == nil)
    }

    @Test func eventsBecomeLogsWithTheNameAsTheEventField() throws {
        let t = try parse(JaegerTrace.json(fixtureTrace()))
        let spans = try #require(t["spans"] as? [[String: Any]])
        let logs = try #require(spans[1]["logs"] as? [[String: Any]])
        #expect(logs.count == 1)
        #expect(logs[0]["timestamp"] as? Int == 1_714_564_800_003_000)
        let fields = try #require(logs[0]["fields"] as? [[String: Any]])
        #expect(fields[0]["key"] as? String == "event" && fields[0]["value"] as? String == "retry")
        #expect(fields[1]["key"] as? String == "attempt" && fields[1]["type"] as? String == "int64" && fields[1]["value"] as? Int == 2)
    }

    @Test func shortTraceIDsAreShownWith16Digits() {
        #expect(JaegerTrace.idHex(Data(repeating: 0, count: 8) + Data([0, 0, 0, 0, 0, 0, 0, 1])) == "0000000000000001")
        #expect(JaegerTrace.idHex(Data([1] + Array(repeating: 0, count: 15))) == "01000000000000000000000000000000")
    }

    @Test func jsonStringsAreEscaped() {
        let text = String(decoding: JSON.string("a\"b\\c\n\u{1}é").serialized(), as: UTF8.self)
        #expect(text == #""a\"b\\c\n\u0001é""#)
    }
}

@Suite struct WaterfallTests {
    @Test func plainWaterfallIndentsChildrenAndMarksErrors() {
        let text = TraceWaterfall(color: false).render(fixtureTrace())
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("Trace 0102030405060708090a0b0c0d0e0f10 · 2 spans · 2 services · 12.3ms · 1 error"))
        #expect(lines[1].hasPrefix("checkout: GET /cart"))
        #expect(lines[1].contains("│████████████████████████████████████████│"))
        #expect(lines[1].hasSuffix("12.3ms"))
        #expect(lines[2].hasPrefix("  payment: charge"))
        #expect(lines[2].hasSuffix("4ms  ERROR: card declined"))
        #expect(!text.contains("\u{1B}"))
    }

    @Test func colouredWaterfallUsesANSIAndAttributesListThem() {
        let text = TraceWaterfall(color: true, attributes: true).render(fixtureTrace())
        #expect(text.contains("\u{1B}[31m"))
        #expect(text.contains("http.status_code=200"))
        #expect(text.contains("event +1ms retry attempt=2"))
    }

    @Test(arguments: [
        (UInt64(999), "999ns"), (1_000, "1µs"), (12_340, "12.3µs"), (250_000, "250µs"), (850_000, "850µs"),
        (999_499, "999µs"), (999_999, "1ms"), (1_500_000, "1.5ms"), (12_345_678, "12.3ms"), (80_000_000, "80ms"),
        (250_000_000, "250ms"), (999_999_999, "1s"), (1_234_000_000, "1.23s"), (59_940_000_000, "59.9s"),
        (59_960_000_000, "1m0s"), (123_400_000_000, "2m3.4s"), (179_970_000_000, "3m0s"), (10_801_000_000_000, "3h0m1s"),
    ])
    func durationsAreShort(nanos: UInt64, text: String) {
        #expect(TraceWaterfall.duration(nanos) == text)
    }
}

/// The waterfall laid out for a terminal width, with names in wide scripts: every line fits and the bars line up.
struct WaterfallWidthTests {
    static func trace() -> ExportTraceRequest {
        var request = fixtureTrace()
        request.resourceSpans[0].scopeSpans[0].spans[0].name = "GET /カート/商品/🦄/一覧を表示する/とても長い名前の操作"
        request.resourceSpans[1].scopeSpans[0].spans[0].name = "課金 💳 " + String(repeating: "x", count: 40)
        return request
    }

    @Test(arguments: [60, 80, 200])
    func everyLineFitsAndTheBarsLineUp(width: Int) {
        var waterfall = TraceWaterfall()
        waterfall.width = width
        waterfall.criticalPath = CriticalPath(Self.trace())
        let lines = waterfall.render(Self.trace()).split(separator: "\n").map(String.init)
        // Marks and the error message after the duration are cut to what is left.
        for line in lines { #expect(TerminalCells.width(line) <= width, "\(width): \(line)") }
        let rows = lines.filter { $0.contains("│") }
        #expect(rows.count == 2)
        let barStarts = Set(rows.map { TerminalCells.width(String($0.prefix(while: { $0 != "│" }))) })
        #expect(barStarts.count == 1, "bars do not line up at \(width):\n\(rows.joined(separator: "\n"))")
        #expect(rows.contains { $0.contains("…") } == (width < 200))
    }
}

/// Big traces stay readable: runs of similar siblings fold, and --depth / --max-spans cut with a note.
struct WaterfallFoldingTests {
    /// A root with 400 calls to `GET /item`, one `audit` call after the 200th, and a child under the last call.
    static func trace() -> ExportTraceRequest {
        func span(_ n: Int, parent: Int?, _ name: String, start: UInt64) -> Span {
            var s = Span()
            s.traceID = Data(repeating: 9, count: 16)
            s.spanID = withUnsafeBytes(of: UInt64(n + 1).bigEndian) { Data($0) }
            if let parent { s.parentSpanID = withUnsafeBytes(of: UInt64(parent + 1).bigEndian) { Data($0) } }
            s.name = name
            s.startTimeUnixNano = start
            s.endTimeUnixNano = start + 5
            return s
        }
        var spans = [span(0, parent: nil, "GET /basket", start: 0)]
        spans[0].endTimeUnixNano = 10_000
        for i in 1...400 { spans.append(span(i, parent: 0, "GET /item", start: UInt64(i * 10))) }
        spans.append(span(401, parent: 0, "audit", start: 2_005))
        spans.append(span(402, parent: 400, "cache", start: 4_001))
        spans[5].status.code = .error
        var rs = ResourceSpans()
        var kv = KeyValue()
        kv.key = "service.name"
        kv.value = .string("shop")
        rs.resource.attributes = [kv]
        var ss = ScopeSpans()
        ss.spans = spans
        rs.scopeSpans = [ss]
        var request = ExportTraceRequest()
        request.resourceSpans = [rs]
        return request
    }

    static func rows(_ text: String) -> [String] { text.split(separator: "\n").map(String.init).filter { $0.contains("│") } }

    @Test func runsOfSimilarSiblingsFoldPastTheThresholdAndNotOtherwise() {
        let folded = TraceWaterfall().render(Self.trace())
        // The root; 200 calls before the audit, the audit, 198 leaf calls after it, the last call (it has a child)
        // and its child.
        #expect(
            Self.rows(folded).map { $0.split(separator: "│")[0].trimmingCharacters(in: .whitespaces) }
                == ["shop: GET /basket", "× 200 shop: GET /item", "shop: audit", "× 199 shop: GET /item", "shop: GET /item", "shop: cache"])
        #expect(folded.contains("1 ERROR") && folded.contains("2 runs of similar sibling spans folded"))
        var plain = TraceWaterfall()
        plain.foldSimilarSiblings = false
        #expect(Self.rows(plain.render(Self.trace())).count == 403)
    }

    @Test func depthAndMaxSpansCutWithANote() {
        var w = TraceWaterfall()
        w.maxDepth = 0
        let shallow = w.render(Self.trace())
        #expect(Self.rows(shallow).count == 1 && shallow.contains("402 spans not shown (--depth 0)"))
        w = TraceWaterfall()
        w.foldSimilarSiblings = false
        w.maxSpans = 10
        let short = w.render(Self.trace())
        #expect(Self.rows(short).count == 10 && short.contains("393 spans not shown (--max-spans 10)"))
    }
}
