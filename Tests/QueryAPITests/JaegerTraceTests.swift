import CollectorCore
import CollectorTesting
import Foundation
import OTLP
import QueryAPI
import Testing

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
        let t = try parse(JaegerTrace.json(SampleTrace.checkout()))
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
        let t = try parse(JaegerTrace.json(SampleTrace.checkout()))
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
        let t = try parse(JaegerTrace.json(SampleTrace.checkout()))
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
        let t = try parse(JaegerTrace.json(SampleTrace.checkout()))
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

@Suite struct ReadableTextTests {
    @Test(arguments: [
        (UInt64(999), "999ns"), (1_000, "1µs"), (12_340, "12.3µs"), (250_000, "250µs"), (850_000, "850µs"),
        (999_499, "999µs"), (999_999, "1ms"), (1_500_000, "1.5ms"), (12_345_678, "12.3ms"), (80_000_000, "80ms"),
        (250_000_000, "250ms"), (999_999_999, "1s"), (1_234_000_000, "1.23s"), (59_940_000_000, "59.9s"),
        (59_960_000_000, "1m0s"), (123_400_000_000, "2m3.4s"), (179_970_000_000, "3m0s"), (10_801_000_000_000, "3h0m1s"),
    ])
    func durationsAreShort(nanos: UInt64, text: String) {
        #expect(ReadableText.duration(nanos) == text)
    }
}
