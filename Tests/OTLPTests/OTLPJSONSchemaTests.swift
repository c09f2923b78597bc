import CollectorTesting
import Foundation
import SwiftProtobuf
import Testing

@testable import OTLP

/// Checks that the codec's hand-written schema agrees with the generated swift-protobuf types.
@Suite("OTLP/JSON schema table")
struct OTLPJSONSchemaTests {
    /// Decodes `json` as `type` with plain swift-protobuf, rejecting unknown fields.
    static func strictDecodeError<T: SwiftProtobuf.Message>(_ json: String, as type: T.Type) -> (any Error)? {
        do {
            _ = try T(jsonString: json)
            return nil
        } catch {
            return error
        }
    }

    @Test("every field in the table, by JSON and by proto name, is a field of the generated type")
    func tableFieldsExist() {
        for kind in OTLPMessageKind.allCases {
            #expect(Self.strictDecodeError(#"{"noSuchField":null}"#, as: kind.messageType) != nil)
            for name in kind.fields.keys {
                #expect(
                    Self.strictDecodeError(#"{""# + name + #"":null}"#, as: kind.messageType) == nil,
                    "\(kind).\(name) is not a field of \(kind.messageType)"
                )
            }
            #expect(OTLPMessageKind(messageType: kind.messageType) == kind)
        }
        #expect(OTLPMessageKind(messageType: Google_Rpc_Status.self) == nil)
    }

    /// Walks plain proto3 JSON output along the schema, recording the fields seen and any key or
    /// JSON type that the schema does not expect.
    static func walk(
        _ node: JSONNode, kind: OTLPMessageKind, path: String, seen: inout Set<String>, issues: inout [String]
    ) {
        guard case .object(let members) = node.value else {
            issues.append("\(path): not an object")
            return
        }
        for member in members {
            let memberPath = path + "." + member.key
            guard let field = kind.fields[member.key] else {
                issues.append("\(memberPath): not in the schema of \(kind)")
                continue
            }
            seen.insert("\(kind).\(member.key)")
            let values: [JSONNode]
            if field.isRepeated {
                guard case .array(let elements) = member.node.value else {
                    issues.append("\(memberPath): repeated but not an array")
                    continue
                }
                values = elements
            } else {
                values = [member.node]
            }
            for value in values {
                switch (field.type, value.value) {
                case (.message(let child), _):
                    walk(value, kind: child, path: memberPath, seen: &seen, issues: &issues)
                case (.string, .string), (.bytes, .string), (.hexID, .string), (.bool, .bool), (.integer, .number),
                    (.integer, .string), (.double, .number), (.double, .string), (.enumeration, .number):
                    break
                default:
                    issues.append("\(memberPath): JSON value does not match \(field.type)")
                }
            }
        }
    }

    @Test("the fixtures set every field of every message, and every field they set is in the table")
    func tableCoversGeneratedTypes() throws {
        let tracesData = try Opentelemetry_Proto_Trace_V1_TracesData(serializedBytes: Fixtures.traceRequest.serializedBytes() as [UInt8])
        let metricsData = try Opentelemetry_Proto_Metrics_V1_MetricsData(
            serializedBytes: Fixtures.metricsRequest.serializedBytes() as [UInt8]
        )
        let logsData = try Opentelemetry_Proto_Logs_V1_LogsData(serializedBytes: Fixtures.logsRequest.serializedBytes() as [UInt8])
        let roots: [(any SwiftProtobuf.Message, OTLPMessageKind)] = [
            (Fixtures.traceRequest, .exportTraceServiceRequest),
            (Fixtures.metricsRequest, .exportMetricsServiceRequest),
            (Fixtures.logsRequest, .exportLogsServiceRequest),
            (Fixtures.traceResponse, .exportTraceServiceResponse),
            (Fixtures.metricsResponse, .exportMetricsServiceResponse),
            (Fixtures.logsResponse, .exportLogsServiceResponse),
            (tracesData, .tracesData),
            (metricsData, .metricsData),
            (logsData, .logsData),
        ]
        var seen: Set<String> = []
        var issues: [String] = []
        for (message, kind) in roots {
            var options = JSONEncodingOptions()
            options.alwaysPrintEnumsAsInts = true
            let json: [UInt8] = try message.jsonUTF8Bytes(options: options)
            let root = try JSONParser.parse(json)
            Self.walk(root, kind: kind, path: "\(kind)", seen: &seen, issues: &issues)
        }
        #expect(issues.isEmpty, "\(issues)")
        for kind in OTLPMessageKind.allCases {
            for (name, _) in kind.declaredFields {
                #expect(seen.contains("\(kind).\(name)"), "no fixture sets \(kind).\(name)")
            }
        }
    }

    @Test("enum names and values match the generated enums", arguments: OTLPEnumType.allCases)
    func enumsMatch(_ enumType: OTLPEnumType) throws {
        #expect(enumType.values == Set(0..<enumType.names.count))
        for (number, name) in enumType.names.enumerated() {
            #expect(enumType.hasName(name))
            let quoted = "\"\(name)\"}"
            let decoded: Int =
                switch enumType {
                case .spanKind: try Span(jsonString: #"{"kind":"# + quoted).kind.rawValue
                case .statusCode: try Opentelemetry_Proto_Trace_V1_Status(jsonString: #"{"code":"# + quoted).code.rawValue
                case .severityNumber: try LogRecord(jsonString: #"{"severityNumber":"# + quoted).severityNumber.rawValue
                case .aggregationTemporality:
                    try Opentelemetry_Proto_Metrics_V1_Sum(jsonString: #"{"aggregationTemporality":"# + quoted)
                        .aggregationTemporality.rawValue
                }
            #expect(decoded == number, "\(name)")
        }
        #expect(!enumType.hasName("BOGUS"))
    }

    @Test("proto names are derived from JSON names")
    func protoNames() {
        #expect(OTLPMessageKind.protoName(forJSONName: "startTimeUnixNano") == "start_time_unix_nano")
        #expect(OTLPMessageKind.protoName(forJSONName: "kvlistValue") == "kvlist_value")
        #expect(OTLPMessageKind.protoName(forJSONName: "name") == "name")
    }

    @Test("hex and base64 helpers agree with Foundation")
    func byteHelpers() throws {
        let seed = TestSeed.next()
        var generator = SplitMix64(seed: seed)
        for length in 0...40 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            var base64: [UInt8] = []
            OTLPJSONBytes.appendBase64(of: bytes, to: &base64)
            #expect(String(decoding: base64, as: UTF8.self) == Data(bytes).base64EncodedString(), "seed \(seed)")
            #expect(OTLPJSONBytes.decodeBase64(base64[...]) == bytes, "seed \(seed)")
            var hex: [UInt8] = []
            OTLPJSONBytes.appendHex(of: bytes, to: &hex)
            #expect(String(decoding: hex, as: UTF8.self) == bytes.map { String(format: "%02x", $0) }.joined(), "seed \(seed)")
            #expect(OTLPJSONBytes.decodeHex(Array(String(decoding: hex, as: UTF8.self).uppercased().utf8)[...]) == bytes, "seed \(seed)")
        }
        #expect(OTLPJSONBytes.decodeBase64(Array("A===".utf8)[...]) == nil)
        #expect(OTLPJSONBytes.decodeBase64(Array("AA=A".utf8)[...]) == nil)
        #expect(OTLPJSONBytes.decodeHex(Array("0x".utf8)[...]) == nil)
        #expect(OTLPJSONBytes.decodeHex(Array("abc".utf8)[...]) == nil)
    }
}
