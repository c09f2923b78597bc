import Foundation
import SwiftProtobuf
import Testing

@testable import OTLP

/// Decodes a JSON string with `OTLPJSON`.
func decode<M: SwiftProtobuf.Message>(_ type: M.Type, _ json: String) throws(OTLPJSONError) -> M {
    try OTLPJSON.decode(type, from: Array(json.utf8))
}

/// Wraps span objects in a traces request.
func traceJSON(spans: String...) -> String {
    #"{"resourceSpans":[{"scopeSpans":[{"spans":["# + spans.joined(separator: ",") + "]}]}]}"
}

/// Parses encoder output with Foundation, as an independent JSON reader.
func foundationObject(_ bytes: [UInt8]) throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(bytes))
    return try #require(object as? [String: Any])
}

/// `object[key]` for a path like `["resourceSpans", 0, "scopeSpans", 0]`.
func lookup(_ object: Any, _ path: [Any]) -> Any? {
    var current: Any? = object
    for step in path {
        if let key = step as? String {
            current = (current as? [String: Any])?[key]
        } else if let index = step as? Int {
            guard let array = current as? [Any], index < array.count else { return nil }
            current = array[index]
        }
    }
    return current
}

@Suite("OTLP/JSON decoding and encoding")
struct OTLPJSONTests {
    @Test("a traces request with every field set survives encode and decode")
    func traceRoundTrip() throws {
        let encoded = try OTLPJSON.encode(Fixtures.traceRequest)
        let decoded = try OTLPJSON.decode(TraceRequest.self, from: encoded)
        #expect(decoded == Fixtures.traceRequest)
        // Also through Data.
        #expect(try OTLPJSON.decode(TraceRequest.self, from: Data(encoded)) == Fixtures.traceRequest)
    }

    @Test("a metrics request with every field set survives encode and decode")
    func metricsRoundTrip() throws {
        let encoded = try OTLPJSON.encode(Fixtures.metricsRequest)
        #expect(try OTLPJSON.decode(MetricsRequest.self, from: encoded) == Fixtures.metricsRequest)
    }

    @Test("a logs request with every field set survives encode and decode")
    func logsRoundTrip() throws {
        let encoded = try OTLPJSON.encode(Fixtures.logsRequest)
        #expect(try OTLPJSON.decode(LogsRequest.self, from: encoded) == Fixtures.logsRequest)
    }

    @Test("responses with partial success survive encode and decode")
    func responsesRoundTrip() throws {
        #expect(try OTLPJSON.decode(TraceResponse.self, from: OTLPJSON.encode(Fixtures.traceResponse)) == Fixtures.traceResponse)
        #expect(
            try OTLPJSON.decode(MetricsResponse.self, from: OTLPJSON.encode(Fixtures.metricsResponse)) == Fixtures.metricsResponse
        )
        #expect(try OTLPJSON.decode(LogsResponse.self, from: OTLPJSON.encode(Fixtures.logsResponse)) == Fixtures.logsResponse)
        let text = String(decoding: try OTLPJSON.encode(Fixtures.traceResponse), as: UTF8.self)
        #expect(text == #"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"2 spans had invalid IDs"}}"#)
    }

    @Test("encoding writes IDs as lowercase hex, enums as integers, bytesValue as base64, camelCase keys")
    func encodedTraceShape() throws {
        let encoded = try OTLPJSON.encode(Fixtures.traceRequest)
        let object = try foundationObject(encoded)
        let span = try #require(lookup(object, ["resourceSpans", 0, "scopeSpans", 0, "spans", 0]) as? [String: Any])
        #expect(span["traceId"] as? String == Fixtures.traceIDHex)
        #expect(span["spanId"] as? String == Fixtures.spanIDHex)
        #expect(span["parentSpanId"] as? String == Fixtures.parentSpanIDHex)
        #expect(span["kind"] as? Int == 2)
        #expect(span["startTimeUnixNano"] as? String == "1700000000123456789")
        #expect(span["droppedAttributesCount"] as? Int == 3)
        #expect(lookup(span, ["status", "code"]) as? Int == 2)
        #expect(lookup(span, ["links", 0, "traceId"]) as? String == "0f1f2f3f4f5f6f7f8f9fafbfcfdfefff")
        #expect(lookup(span, ["links", 0, "spanId"]) as? String == "0123456789abcdef")
        #expect(lookup(span, ["links", 0, "traceState"]) as? String == "other=1")
        #expect(lookup(span, ["links", 0, "flags"]) as? Int == 256)
        #expect(lookup(span, ["attributes", 4, "value", "bytesValue"]) as? String == "AAEC/w==")
        #expect(
            lookup(span, ["attributes", 6, "value", "kvlistValue", "values", 1, "value", "kvlistValue", "values", 0, "value", "bytesValue"])
                as? String == "Bw==")
        #expect(lookup(object, ["resourceSpans", 0, "resource", "attributes", 5, "value", "bytesValue"]) as? String == "AAEC/w==")

        let text = String(decoding: encoded, as: UTF8.self)
        #expect(text.contains(#""traceId":"5b8efff798038103d269b633813fc60c""#))
        #expect(text.contains(#""schemaUrl":"https://opentelemetry.io/schemas/1.29.0""#))
        #expect(!text.contains("_"), "no snake_case keys or enum names: \(text)")
    }

    @Test("encoding metrics and logs: exemplar and log record IDs in hex, enums as integers")
    func encodedMetricsAndLogsShape() throws {
        let metrics = try foundationObject(OTLPJSON.encode(Fixtures.metricsRequest))
        let metricsPath: [Any] = ["resourceMetrics", 0, "scopeMetrics", 0, "metrics"]
        let exemplar = try #require(lookup(metrics, metricsPath + [0, "gauge", "dataPoints", 0, "exemplars", 0]) as? [String: Any])
        #expect(exemplar["traceId"] as? String == Fixtures.traceIDHex)
        #expect(exemplar["spanId"] as? String == Fixtures.spanIDHex)
        #expect(lookup(metrics, metricsPath + [1, "sum", "aggregationTemporality"]) as? Int == 2)
        #expect(lookup(metrics, metricsPath + [2, "histogram", "aggregationTemporality"]) as? Int == 1)
        #expect(
            lookup(metrics, metricsPath + [3, "exponentialHistogram", "dataPoints", 0, "exemplars", 0, "spanId"]) as? String == Fixtures.spanIDHex)

        let logs = try foundationObject(OTLPJSON.encode(Fixtures.logsRequest))
        let record = try #require(lookup(logs, ["resourceLogs", 0, "scopeLogs", 0, "logRecords", 0]) as? [String: Any])
        #expect(record["traceId"] as? String == Fixtures.traceIDHex)
        #expect(record["spanId"] as? String == Fixtures.spanIDHex)
        #expect(record["severityNumber"] as? Int == 17)
        #expect(record["observedTimeUnixNano"] as? String == "1700000000000000002")
    }

    @Test("hex IDs are decoded case-insensitively; empty IDs are empty bytes")
    func hexIDsIn() throws {
        let request = try decode(
            TraceRequest.self,
            traceJSON(
                spans: """
                    {"traceId":"5B8EFFF798038103d269b633813fc60c","spanId":"EEE19B7EC3C1B174","parentSpanId":"",
                     "links":[{"traceId":"0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFFF","spanId":"0123456789ABCDEF"}]}
                    """))
        let span = try #require(request.resourceSpans.first?.scopeSpans.first?.spans.first)
        #expect(span.traceID == Fixtures.traceID)
        #expect(span.spanID == Fixtures.spanID)
        #expect(span.parentSpanID.isEmpty)
        #expect(span.links.first?.traceID == Fixtures.linkTraceID)
        #expect(span.links.first?.spanID == Fixtures.linkSpanID)
    }

    @Test("trace and span IDs in base64 (protobuf's JSON mapping, as swift-otel writes them) are accepted and counted")
    func base64IDsIn() throws {
        let before = OTLPJSON.base64IDsAccepted
        let trace = Fixtures.traceID.base64EncodedString()
        let span = Fixtures.spanID.base64EncodedString()
        #expect(trace.count == 24 && span.count == 12)
        let unpadded = String(Fixtures.linkTraceID.base64EncodedString().dropLast(2))
        let request = try decode(
            TraceRequest.self,
            traceJSON(
                spans: """
                    {"traceId":"\(trace)","spanId":"\(span)","parentSpanId":"EEE19B7EC3C1B174",
                     "links":[{"traceId":"\(unpadded)","spanId":"0123456789ABCDEF"}]}
                    """))
        let decoded = try #require(request.resourceSpans.first?.scopeSpans.first?.spans.first)
        #expect(decoded.traceID == Fixtures.traceID)
        #expect(decoded.spanID == Fixtures.spanID)
        #expect(decoded.parentSpanID == Fixtures.spanID)
        #expect(decoded.links.first?.traceID == Fixtures.linkTraceID)
        #expect(OTLPJSON.base64IDsAccepted - before >= 3)
        // Output stays hex.
        let text = String(decoding: try OTLPJSON.encode(request), as: UTF8.self)
        #expect(text.contains(Fixtures.traceIDHex))
        // 22 hex digits are a malformed hex ID, not base64.
        let malformed = try decode(TraceRequest.self, traceJSON(spans: #"{"traceId":"0123456789abcdef012345"}"#))
        #expect(malformed.resourceSpans.first?.scopeSpans.first?.spans.first?.traceID.count == 11)
    }

    @Test("IDs of any even length are accepted here (the receiver checks lengths)")
    func idLengthNotChecked() throws {
        let request = try decode(TraceRequest.self, traceJSON(spans: #"{"traceId":"abcd","spanId":"00"}"#))
        let span = try #require(request.resourceSpans.first?.scopeSpans.first?.spans.first)
        #expect(span.traceID == Data([0xAB, 0xCD]))
        #expect(span.spanID == Data([0x00]))
    }

    @Test("escaped characters in an ID string are resolved before hex decoding")
    func escapedHexID() throws {
        let request = try decode(TraceRequest.self, traceJSON(spans: #"{"spanId":"\u0041b0\u0031"}"#))
        #expect(request.resourceSpans.first?.scopeSpans.first?.spans.first?.spanID == Data([0xAB, 0x01]))
    }

    @Test("nanosecond timestamps are exact as strings and as JSON numbers")
    func exactTimestamps() throws {
        let request = try decode(
            TraceRequest.self,
            traceJSON(
                spans: """
                    {"startTimeUnixNano":1700000000123456789,"endTimeUnixNano":"1700000000123456789",
                     "events":[{"timeUnixNano":18446744073709551615}],
                     "attributes":[{"key":"big","value":{"intValue":9007199254740993}},
                                   {"key":"min","value":{"intValue":"-9223372036854775808"}}]}
                    """))
        let span = try #require(request.resourceSpans.first?.scopeSpans.first?.spans.first)
        #expect(span.startTimeUnixNano == 1_700_000_000_123_456_789)
        #expect(span.endTimeUnixNano == 1_700_000_000_123_456_789)
        #expect(span.events.first?.timeUnixNano == UInt64.max)
        #expect(span.attributes[0].value.intValue == 9_007_199_254_740_993)
        #expect(span.attributes[1].value.intValue == Int64.min)
    }

    @Test("unknown fields are ignored at every level, including ones named like schema fields")
    func unknownFieldsIgnored() throws {
        let json = """
            {"futureTopLevel":{"kind":99,"traceId":"not hex"},
             "resourceSpans":[{"extra":[1,2,{"x":null}],"scopeSpans":[{"spans":[
               {"name":"s","newField":"x","nested":{"spanId":"zz","spans":"not an array"},"kind":1}]}]}]}
            """
        let request = try decode(TraceRequest.self, json)
        let span = try #require(request.resourceSpans.first?.scopeSpans.first?.spans.first)
        #expect(span.name == "s")
        #expect(span.kind == .internal)
        #expect(span.unknownFields.data.isEmpty)
    }

    @Test("enum names and proto field names are accepted on input")
    func namesAccepted() throws {
        let request = try decode(
            TraceRequest.self,
            """
            {"resource_spans":[{"scope_spans":[{"spans":[
              {"trace_id":"5b8efff798038103d269b633813fc60c","parent_span_id":"EEE19B7EC3C1B173",
               "kind":"SPAN_KIND_CLIENT","start_time_unix_nano":"5","status":{"code":"STATUS_CODE_OK"}}]}]}]}
            """)
        let span = try #require(request.resourceSpans.first?.scopeSpans.first?.spans.first)
        #expect(span.traceID == Fixtures.traceID)
        #expect(span.parentSpanID == Fixtures.parentSpanID)
        #expect(span.kind == .client)
        #expect(span.startTimeUnixNano == 5)
        #expect(span.status.code == .ok)
    }

    @Test("null means the default value")
    func nullIsDefault() throws {
        let request = try decode(TraceRequest.self, traceJSON(spans: #"{"name":null,"traceId":null,"kind":null,"attributes":null,"status":null}"#))
        #expect(request.resourceSpans.first?.scopeSpans.first?.spans.first == Span())
    }

    @Test("the traces example from the OTLP specification")
    func specificationTraceExample() throws {
        // As in opentelemetry-proto examples/trace.json, referenced by the OTLP spec.
        let json = """
            {
              "resourceSpans": [
                {
                  "resource": {
                    "attributes": [
                      { "key": "service.name", "value": { "stringValue": "my.service" } }
                    ]
                  },
                  "scopeSpans": [
                    {
                      "scope": {
                        "name": "my.library",
                        "version": "1.0.0",
                        "attributes": [
                          { "key": "my.scope.attribute", "value": { "stringValue": "some scope attribute" } }
                        ]
                      },
                      "spans": [
                        {
                          "traceId": "5B8EFFF798038103D269B633813FC60C",
                          "spanId": "EEE19B7EC3C1B174",
                          "parentSpanId": "EEE19B7EC3C1B173",
                          "name": "I'm a server span",
                          "startTimeUnixNano": "1544712660000000000",
                          "endTimeUnixNano": "1544712661000000000",
                          "kind": 2,
                          "attributes": [
                            { "key": "my.span.attr", "value": { "stringValue": "some value" } }
                          ]
                        }
                      ]
                    }
                  ]
                }
              ]
            }
            """
        let request = try decode(TraceRequest.self, json)
        let expected = TraceRequest.with {
            $0.resourceSpans = [
                .with {
                    $0.resource = .with { $0.attributes = [Fixtures.keyValue("service.name", .stringValue("my.service"))] }
                    $0.scopeSpans = [
                        .with {
                            $0.scope = .with {
                                $0.name = "my.library"
                                $0.version = "1.0.0"
                                $0.attributes = [Fixtures.keyValue("my.scope.attribute", .stringValue("some scope attribute"))]
                            }
                            $0.spans = [
                                .with {
                                    $0.traceID = Fixtures.traceID
                                    $0.spanID = Fixtures.spanID
                                    $0.parentSpanID = Fixtures.parentSpanID
                                    $0.name = "I'm a server span"
                                    $0.startTimeUnixNano = 1_544_712_660_000_000_000
                                    $0.endTimeUnixNano = 1_544_712_661_000_000_000
                                    $0.kind = .server
                                    $0.attributes = [Fixtures.keyValue("my.span.attr", .stringValue("some value"))]
                                }
                            ]
                        }
                    ]
                }
            ]
        }
        #expect(request == expected)
    }

    @Test("a metrics request decodes")
    func metricsDecode() throws {
        let json = """
            {"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
              "scopeMetrics":[{"scope":{"name":"m"},"metrics":[
                {"name":"requests","unit":"1","sum":{"aggregationTemporality":2,"isMonotonic":true,
                  "dataPoints":[{"asInt":"5","startTimeUnixNano":"1544712660300000000","timeUnixNano":1544712660300000000,
                    "exemplars":[{"asDouble":1.5,"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"eee19b7ec3c1b174"}]}]}},
                {"name":"latency","histogram":{"aggregationTemporality":1,"dataPoints":[
                  {"count":"3","sum":7.5,"bucketCounts":["1",2,0],"explicitBounds":[1,5.5],"min":0.5,"max":"Infinity"}]}},
                {"name":"temp","gauge":{"dataPoints":[{"asDouble":-1.25e2}]}}]}]}]}
            """
        let request = try decode(MetricsRequest.self, json)
        let metrics = try #require(request.resourceMetrics.first?.scopeMetrics.first?.metrics)
        #expect(request.resourceMetrics.first?.resource.attributes.first?.value.stringValue == "svc")
        #expect(metrics.count == 3)
        #expect(metrics[0].sum.aggregationTemporality == .cumulative)
        #expect(metrics[0].sum.isMonotonic)
        let point = try #require(metrics[0].sum.dataPoints.first)
        #expect(point.asInt == 5)
        #expect(point.startTimeUnixNano == 1_544_712_660_300_000_000)
        #expect(point.timeUnixNano == 1_544_712_660_300_000_000)
        #expect(point.exemplars.first?.traceID == Fixtures.traceID)
        #expect(point.exemplars.first?.spanID == Fixtures.spanID)
        #expect(point.exemplars.first?.asDouble == 1.5)
        let histogram = try #require(metrics[1].histogram.dataPoints.first)
        #expect(metrics[1].histogram.aggregationTemporality == .delta)
        #expect(histogram.count == 3)
        #expect(histogram.bucketCounts == [1, 2, 0])
        #expect(histogram.explicitBounds == [1, 5.5])
        #expect(histogram.max == .infinity)
        #expect(metrics[2].gauge.dataPoints.first?.asDouble == -125)
    }

    @Test("a logs request decodes")
    func logsDecode() throws {
        let json = """
            {"resourceLogs":[{"resource":{},"scopeLogs":[{"scope":{},"logRecords":[
              {"timeUnixNano":"1544712660300000000","observedTimeUnixNano":1544712660300000001,
               "severityNumber":10,"severityText":"Information","traceId":"5b8efff798038103d269b633813fc60c",
               "spanId":"EEE19B7EC3C1B174","flags":1,"eventName":"e",
               "body":{"stringValue":"Example log record"},
               "attributes":[{"key":"bytes","value":{"bytesValue":"AAEC/w=="}},
                             {"key":"list","value":{"arrayValue":{"values":[{"boolValue":false},{"doubleValue":"NaN"}]}}}]}]}]}]}
            """
        let request = try decode(LogsRequest.self, json)
        let record = try #require(request.resourceLogs.first?.scopeLogs.first?.logRecords.first)
        #expect(record.timeUnixNano == 1_544_712_660_300_000_000)
        #expect(record.observedTimeUnixNano == 1_544_712_660_300_000_001)
        #expect(record.severityNumber == .info2)
        #expect(record.severityText == "Information")
        #expect(record.traceID == Fixtures.traceID)
        #expect(record.spanID == Fixtures.spanID)
        #expect(record.flags == 1)
        #expect(record.eventName == "e")
        #expect(record.body.stringValue == "Example log record")
        #expect(record.attributes[0].value.bytesValue == Fixtures.bytesValue)
        #expect(record.attributes[1].value.arrayValue.values.count == 2)
        #expect(record.attributes[1].value.arrayValue.values[1].doubleValue.isNaN)
    }

    @Test("booleans and numbers are told apart")
    func boolsAndNumbers() throws {
        let request = try decode(
            TraceRequest.self,
            traceJSON(
                spans: """
                    {"attributes":[{"key":"t","value":{"boolValue":true}},{"key":"one","value":{"intValue":1}},
                                   {"key":"f","value":{"boolValue":false}},{"key":"zero","value":{"doubleValue":0}}]}
                    """))
        let attributes = try #require(request.resourceSpans.first?.scopeSpans.first?.spans.first?.attributes)
        #expect(attributes[0].value.value == .boolValue(true))
        #expect(attributes[1].value.value == .intValue(1))
        #expect(attributes[2].value.value == .boolValue(false))
        #expect(attributes[3].value.value == .doubleValue(0))
    }

    @Test("string escapes, a byte order mark and surrounding whitespace are handled")
    func stringsAndWhitespace() throws {
        let json = " \n" + traceJSON(spans: #"{"name":"caf\u00e9 \ud83d\ude00 \"q\" \\ \/ \t","traceState":"é😀"}"#) + "\r\n"
        let request = try OTLPJSON.decode(TraceRequest.self, from: [0xEF, 0xBB, 0xBF] + Array(json.utf8))
        let span = try #require(request.resourceSpans.first?.scopeSpans.first?.spans.first)
        #expect(span.name == "café 😀 \"q\" \\ / \t")
        #expect(span.traceState == "é😀")
    }

    @Test("keys with escapes are matched against the schema")
    func escapedKeys() throws {
        let request = try decode(TraceRequest.self, #"{"resource\u0053pans":[{"scopeSpans":[{"spans":[{"trace\u0049d":"ABCD","kind":3}]}]}]}"#)
        let span = try #require(request.resourceSpans.first?.scopeSpans.first?.spans.first)
        #expect(span.traceID == Data([0xAB, 0xCD]))
        #expect(span.kind == .client)
    }

    @Test("string tokens are unescaped exactly")
    func unescaping() throws {
        let json = #"["a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00\ud800x", "plain é"]"#
        let root = try JSONParser.parse(Array(json.utf8))
        guard case .array(let elements) = root.value, elements.count == 2,
            case .string(let escaped) = elements[0].value, case .string(let plain) = elements[1].value
        else {
            Issue.record("unexpected parse: \(root)")
            return
        }
        let source = Array(json.utf8)
        #expect(escaped && !plain)
        #expect(JSONText.string(in: source, range: elements[0].range, hasEscapes: escaped) == "a\"b\\c/d\u{8}\u{C}\n\r\té😀\u{FFFD}x")
        #expect(JSONText.string(in: source, range: elements[1].range, hasEscapes: plain) == "plain é")
    }

    @Test("types outside the OTLP schema decode and encode as plain proto3 JSON")
    func nonOTLPMessage() throws {
        let status = try decode(Google_Rpc_Status.self, #"{"code":3,"message":"bad","unknown":1}"#)
        #expect(status.code == 3)
        #expect(status.message == "bad")
        #expect(String(decoding: try OTLPJSON.encode(status), as: UTF8.self) == #"{"code":3,"message":"bad"}"#)
    }

    @Test("sub-messages of the schema can be decoded on their own")
    func subMessage() throws {
        let span = try decode(Span.self, #"{"traceId":"5B8EFFF798038103D269B633813FC60C","kind":3}"#)
        #expect(span.traceID == Fixtures.traceID)
        #expect(span.kind == .client)
        let encoded = String(decoding: try OTLPJSON.encode(span), as: UTF8.self)
        #expect(encoded == #"{"traceId":"5b8efff798038103d269b633813fc60c","kind":3}"#)
    }
}
