import SwiftProtobuf
import Testing

@testable import OTLP

/// The error `OTLPJSON.decode` throws for `json`, or nil if it decodes.
func rejection<M: SwiftProtobuf.Message>(_ json: String, as type: M.Type) -> OTLPJSONError? {
    do {
        _ = try OTLPJSON.decode(type, from: Array(json.utf8))
        return nil
    } catch {
        return error
    }
}

/// A document that must be rejected, with the path and message of the error.
struct RejectionCase: Sendable, CustomTestStringConvertible {
    enum Signal: String, Sendable { case traces, metrics, logs }
    var signal: Signal
    var json: String
    var path: String
    var message: String

    var testDescription: String { "\(path.isEmpty ? "<document>" : path): \(message)" }

    static func span(_ span: String, _ path: String, _ message: String) -> RejectionCase {
        RejectionCase(signal: .traces, json: traceJSON(spans: span), path: spanPath + path, message: message)
    }

    static let spanPath = "resourceSpans[0].scopeSpans[0].spans[0]."
    static let metricPath = "resourceMetrics[0].scopeMetrics[0].metrics[0]."
    static let logPath = "resourceLogs[0].scopeLogs[0].logRecords[0]."

    static func metric(_ metric: String, _ path: String, _ message: String) -> RejectionCase {
        RejectionCase(
            signal: .metrics,
            json: #"{"resourceMetrics":[{"scopeMetrics":[{"metrics":["# + metric + "]}]}]}",
            path: metricPath + path, message: message
        )
    }

    static func log(_ record: String, _ path: String, _ message: String) -> RejectionCase {
        RejectionCase(
            signal: .logs,
            json: #"{"resourceLogs":[{"scopeLogs":[{"logRecords":["# + record + "]}]}]}",
            path: logPath + path, message: message
        )
    }
}

@Suite("OTLP/JSON rejections name the offending field")
struct OTLPJSONRejectionTests {
    static let cases: [RejectionCase] = [
        // Enums: only values the enum defines.
        .span(#"{"kind":-1}"#, "kind", "unknown enum value -1"),
        .span(#"{"kind":6}"#, "kind", "unknown enum value 6"),
        .span(#"{"kind":"SPAN_KIND_BOGUS"}"#, "kind", #"unknown enum value "SPAN_KIND_BOGUS""#),
        .span(#"{"kind":"2"}"#, "kind", #"unknown enum value "2""#),
        .span(#"{"kind":1.5}"#, "kind", "expected an integer enum value, got 1.5"),
        .span(#"{"kind":true}"#, "kind", "expected an integer enum value, got true"),
        .span(#"{"status":{"code":3}}"#, "status.code", "unknown enum value 3"),
        .metric(#"{"sum":{"aggregationTemporality":3}}"#, "sum.aggregationTemporality", "unknown enum value 3"),
        .metric(#"{"histogram":{"aggregationTemporality":-1}}"#, "histogram.aggregationTemporality", "unknown enum value -1"),
        .metric(
            #"{"exponentialHistogram":{"aggregationTemporality":7}}"#, "exponentialHistogram.aggregationTemporality",
            "unknown enum value 7"
        ),
        .log(#"{"severityNumber":25}"#, "severityNumber", "unknown enum value 25"),
        .log(#"{"severityNumber":"SEVERITY_NUMBER_LOUD"}"#, "severityNumber", #"unknown enum value "SEVERITY_NUMBER_LOUD""#),

        // Hex IDs.
        .span(#"{"traceId":"abc"}"#, "traceId", #"expected an even number of hex characters, got "abc""#),
        .span(#"{"spanId":"xyzxyzxyzxyzxyzx"}"#, "spanId", #"expected a hex string, got "xyzxyzxyzxyzxyzx""#),
        .span(#"{"parentSpanId":12}"#, "parentSpanId", "expected a hex string, got 12"),
        .span(#"{"traceId":"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"}"#, "traceId", #"expected a hex string, got "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz""#),
        .span(#"{"links":[{},{"traceId":"0g"}]}"#, "links[1].traceId", #"expected a hex string, got "0g""#),
        .span(#"{"links":[{"spanId":"123"}]}"#, "links[0].spanId", #"expected an even number of hex characters, got "123""#),
        .metric(
            #"{"gauge":{"dataPoints":[{"exemplars":[{"traceId":"zz"}]}]}}"#, "gauge.dataPoints[0].exemplars[0].traceId",
            #"expected a hex string, got "zz""#
        ),
        .metric(
            #"{"sum":{"dataPoints":[{},{"exemplars":[{},{"spanId":"0"}]}]}}"#, "sum.dataPoints[1].exemplars[1].spanId",
            #"expected an even number of hex characters, got "0""#
        ),
        .log(#"{"spanId":"EEE19B7EC3C1B17"}"#, "spanId", #"expected an even number of hex characters, got "EEE19B7EC3C1B17""#),
        .log(#"{"traceId":true}"#, "traceId", "expected a hex string, got true"),

        // Wrong JSON types.
        .span(#"{"startTimeUnixNano":true}"#, "startTimeUnixNano", "expected an unsigned 64-bit integer, got true"),
        .span(#"{"name":5}"#, "name", "expected a string, got 5"),
        .span(#"{"name":["a"]}"#, "name", "expected a string, got an array"),
        .span(#"{"events":"x"}"#, "events", #"expected an array, got "x""#),
        .span(#"{"events":[5]}"#, "events[0]", "expected an object, got 5"),
        .span(#"{"events":[{"attributes":{}}]}"#, "events[0].attributes", "expected an array, got an object"),
        .span(#"{"status":[]}"#, "status", "expected an object, got an array"),
        .span(
            #"{"attributes":[{"key":"k","value":{"boolValue":"true"}}]}"#, "attributes[0].value.boolValue",
            #"expected true or false, got "true""#
        ),
        .span(#"{"attributes":[{"key":7}]}"#, "attributes[0].key", "expected a string, got 7"),
        .metric(#"{"sum":{"isMonotonic":1}}"#, "sum.isMonotonic", "expected true or false, got 1"),
        .metric(
            #"{"histogram":{"dataPoints":[{"explicitBounds":[1,false]}]}}"#, "histogram.dataPoints[0].explicitBounds[1]",
            "expected a number, got false"
        ),
        .metric(
            #"{"histogram":{"dataPoints":[{"bucketCounts":[1,null]}]}}"#, "histogram.dataPoints[0].bucketCounts[1]",
            "expected an unsigned 64-bit integer, got null"
        ),
        .log(#"{"body":"text"}"#, "body", #"expected an object, got "text""#),
        .log(#"{"observedTimeUnixNano":{}}"#, "observedTimeUnixNano", "expected an unsigned 64-bit integer, got an object"),

        // Values of the right JSON type that swift-protobuf rejects, located afterwards.
        .span(#"{"startTimeUnixNano":"abc"}"#, "startTimeUnixNano", #"expected an unsigned 64-bit integer, got "abc""#),
        .span(#"{"startTimeUnixNano":-1}"#, "startTimeUnixNano", "expected an unsigned 64-bit integer, got -1"),
        .span(
            #"{"endTimeUnixNano":18446744073709551616}"#, "endTimeUnixNano",
            "expected an unsigned 64-bit integer, got 18446744073709551616 (out of range)"
        ),
        .span(
            #"{"droppedAttributesCount":4294967296}"#, "droppedAttributesCount",
            "expected an unsigned 32-bit integer, got 4294967296 (out of range)"
        ),
        .span(#"{"flags":1.5}"#, "flags", "expected an unsigned 32-bit integer, got 1.5"),
        .span(
            #"{"attributes":[{"key":"a"},{"key":"k","value":{"stringValue":"a","intValue":1}}]}"#, "attributes[1].value",
            "more than one field of the same oneof is set"
        ),
        .span(
            #"{"events":[{"attributes":[{"key":"k","value":{"bytesValue":"!!"}}]}]}"#, "events[0].attributes[0].value.bytesValue",
            #"expected a base64 string, got "!!""#
        ),
        .span(
            #"{"attributes":[{"key":"k","value":{"kvlistValue":{"values":[{"key":"n","value":{"intValue":"1x"}}]}}}]}"#,
            "attributes[0].value.kvlistValue.values[0].value.intValue", #"expected a 64-bit integer, got "1x""#
        ),
        .metric(
            #"{"histogram":{"dataPoints":[{"bucketCounts":["1","x"]}]}}"#, "histogram.dataPoints[0].bucketCounts[1]",
            #"expected an unsigned 64-bit integer, got "x""#
        ),
        .metric(
            #"{"exponentialHistogram":{"dataPoints":[{"positive":{"offset":2147483648}}]}}"#,
            "exponentialHistogram.dataPoints[0].positive.offset", "expected a 32-bit integer, got 2147483648 (out of range)"
        ),
        .metric(#"{"gauge":{"dataPoints":[{"asDouble":"fast"}]}}"#, "gauge.dataPoints[0].asDouble", #"expected a number, got "fast""#),
        .metric(
            #"{"gauge":{"dataPoints":[{"asDouble":1,"asInt":"2"}]}}"#, "gauge.dataPoints[0]",
            "more than one field of the same oneof is set"
        ),
        .log(#"{"flags":-1}"#, "flags", "expected an unsigned 32-bit integer, got -1"),

        // Structure above the spans.
        RejectionCase(
            signal: .traces, json: #"{"resourceSpans":[{"scopeSpans":[{"spans":"x"}]}]}"#,
            path: "resourceSpans[0].scopeSpans[0].spans", message: #"expected an array, got "x""#
        ),
        RejectionCase(
            signal: .traces, json: #"{"resourceSpans":{}}"#, path: "resourceSpans", message: "expected an array, got an object"
        ),
        RejectionCase(
            signal: .traces, json: #"{"resourceSpans":[{"scopeSpans":[{"spans":[null]}]}]}"#,
            path: "resourceSpans[0].scopeSpans[0].spans[0]", message: "expected an object, got null"
        ),
        RejectionCase(
            signal: .traces, json: #"{"resourceSpans":[{"resource":{"droppedAttributesCount":"many"}}]}"#,
            path: "resourceSpans[0].resource.droppedAttributesCount", message: #"expected an unsigned 32-bit integer, got "many""#
        ),
        RejectionCase(
            signal: .traces, json: #"{"resource_spans":[{"scope_spans":[{"scope":{"name":false}}]}]}"#,
            path: "resource_spans[0].scope_spans[0].scope.name", message: "expected a string, got false"
        ),
        RejectionCase(
            signal: .traces, json: "[]", path: "", message: "expected a JSON object at the top level, got an array"
        ),
        RejectionCase(
            signal: .logs, json: #""{}""#, path: "", message: #"expected a JSON object at the top level, got "{}""#
        ),
    ]

    @Test("rejection", arguments: cases)
    func rejects(_ testCase: RejectionCase) {
        let error: OTLPJSONError? =
            switch testCase.signal {
            case .traces: rejection(testCase.json, as: TraceRequest.self)
            case .metrics: rejection(testCase.json, as: MetricsRequest.self)
            case .logs: rejection(testCase.json, as: LogsRequest.self)
            }
        #expect(error?.path == testCase.path, "\(testCase.json)")
        #expect(error?.message == testCase.message, "\(testCase.json)")
    }

    @Test("the error description is path: message")
    func errorDescription() throws {
        let error = try #require(rejection(traceJSON(spans: #"{"name":"ok"}"#, #"{"kind":9}"#), as: TraceRequest.self))
        #expect(error.path == "resourceSpans[0].scopeSpans[0].spans[1].kind")
        #expect(error.description == "resourceSpans[0].scopeSpans[0].spans[1].kind: unknown enum value 9")
        #expect(OTLPJSONError(path: "", message: "bad").description == "bad")
    }

    @Test(
        "malformed JSON is rejected at the document level with the byte offset",
        arguments: [
            (#"{"resourceSpans":[}"#, "invalid JSON at byte 18: unexpected character '}', expected a value"),
            ("", "invalid JSON at byte 0: unexpected end of input, expected a value"),
            (#"{"a":1} x"#, "invalid JSON at byte 8: unexpected character 'x' after the JSON value"),
            (#"{"a":01}"#, "invalid JSON at byte 6: unexpected character '1', expected ',' or '}' in an object"),
            (#"{"a":"\x"}"#, "invalid JSON at byte 7: invalid escape sequence in a string"),
            ("{\"a\":\"\n\"}", "invalid JSON at byte 6: unescaped control character in a string"),
            (#"{"a":tru}"#, "invalid JSON at byte 5: unexpected character 't', expected a value"),
            (#"{"a" 1}"#, "invalid JSON at byte 5: unexpected character '1', expected ':' after an object key"),
            (#"{"a":1,}"#, "invalid JSON at byte 7: unexpected character '}', expected a string key"),
            (#"{"a":"x"#, "invalid JSON at byte 7: unterminated string"),
            (#"{"a":-}"#, "invalid JSON at byte 6: invalid number"),
            (#"{"a":1.}"#, "invalid JSON at byte 7: invalid number: expected digits after '.'"),
        ])
    func malformedJSON(json: String, message: String) {
        let error = rejection(json, as: TraceRequest.self)
        #expect(error?.path == "")
        #expect(error?.message == message)
    }

    @Test("nesting beyond the parser's limit is rejected, not a stack overflow")
    func deepNesting() {
        let depth = JSONParser.maximumDepth + 1
        let json = #"{"x":"# + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}"
        let error = rejection(json, as: TraceRequest.self)
        #expect(error?.path == "")
        #expect(error?.message.hasSuffix("nesting deeper than \(JSONParser.maximumDepth) levels") == true)
    }

    @Test("AnyValue nesting beyond swift-protobuf's depth limit is rejected with a path")
    func deepAnyValue() throws {
        let levels = 120
        let value =
            String(repeating: #"{"arrayValue":{"values":["#, count: levels) + #"{"intValue":1}"#
            + String(repeating: "]}}", count: levels)
        let json = traceJSON(spans: #"{"attributes":[{"key":"deep","value":"# + value + "}]}")
        let error = try #require(rejection(json, as: TraceRequest.self))
        #expect(error.message == "messages are nested too deeply")
        #expect(error.path.hasPrefix("resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value"))
    }

    @Test("long values are truncated in messages")
    func truncatedValue() throws {
        let long = String(repeating: "z", count: 500)
        let error = try #require(rejection(traceJSON(spans: #"{"traceId":""# + long + #""}"#), as: TraceRequest.self))
        #expect(error.path == "resourceSpans[0].scopeSpans[0].spans[0].traceId")
        #expect(error.message == "expected a hex string, got \"" + String(repeating: "z", count: 59) + "…\"")
    }
}
