import CollectorTesting
import Foundation
import SwiftProtobuf
import Testing

@testable import OTLP

private typealias ScopeLogs = Opentelemetry_Proto_Logs_V1_ScopeLogs

@Suite("EncodedLogs: indexing log requests in their wire form")
struct EncodedLogsTests {
    /// Two resources, three scopes, records with every field and every kind of body.
    static func fullRequest(seed: UInt64) -> ExportLogsRequest {
        var rng = SplitMix64(seed: seed)
        func bytes(_ n: Int) -> Data { Data((0..<n).map { _ in UInt8.random(in: 1...255, using: &rng) }) }
        var request = ExportLogsRequest()
        for r in 0..<2 {
            var rl = ResourceLogs()
            var service = KeyValue()
            service.key = "service.name"
            service.value.stringValue = "svc-\(r)"
            rl.resource.attributes = [service]
            rl.schemaURL = "https://opentelemetry.io/schemas/1.\(r)"
            for s in 0..<(r + 1) {
                var sl = ScopeLogs()
                sl.scope.name = "scope-\(s)"
                sl.scope.version = "v\(s)"
                for i in 0..<5 {
                    var record = LogRecord()
                    record.timeUnixNano = UInt64.random(in: 0...UInt64.max, using: &rng)
                    record.observedTimeUnixNano = UInt64.random(in: 1...UInt64.max, using: &rng)
                    record.severityNumber = Opentelemetry_Proto_Logs_V1_SeverityNumber(rawValue: i * 5) ?? .unspecified
                    record.severityText = i == 0 ? "" : "LEVEL\(i)"
                    switch i {
                    case 0: record.body.stringValue = "plain ✓"
                    case 1: record.body.intValue = -5
                    case 2: record.body.kvlistValue.values = [service]
                    case 3: record.body.stringValue = ""
                    default: break
                    }
                    var attribute = KeyValue()
                    attribute.key = "k\(i)"
                    attribute.value.doubleValue = Double(i) / 3
                    record.attributes = [attribute, service]
                    record.droppedAttributesCount = UInt32(i)
                    record.flags = UInt32(i)
                    if i != 4 { record.traceID = bytes(16) }
                    if i % 2 == 0 { record.spanID = bytes(8) }
                    record.eventName = i == 3 ? "event.name" : ""
                    sl.logRecords.append(record)
                }
                rl.scopeLogs.append(sl)
            }
            request.resourceLogs.append(rl)
        }
        return request
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func indexAgreesWithTheDecodedRequestFieldByField(seed: UInt64) throws {
        let request = Self.fullRequest(seed: seed)
        let encoded = try #require(EncodedLogs(indexing: try request.serializedBytes()), "seed \(seed)")
        #expect(encoded.recordCount == request.logRecordCount)
        #expect(encoded.recordsWithInvalidIDs == 0)
        var index = 0
        for (r, rl) in request.resourceLogs.enumerated() {
            let resource = encoded.resources[r]
            #expect(resource.serviceName.map(encoded.string) == rl.resource.attributes.stringValue("service.name"))
            var expectedResource = rl
            expectedResource.scopeLogs = []
            #expect(try ResourceLogs(serializedBytes: resource.key) == expectedResource)
            for (s, sl) in rl.scopeLogs.enumerated() {
                let scope = encoded.scopes[resource.scopes.lowerBound + s]
                #expect(encoded.string(scope.name) == sl.scope.name)
                var expectedScope = sl
                expectedScope.logRecords = []
                #expect(try ScopeLogs(serializedBytes: scope.key) == expectedScope)
                for record in sl.logRecords {
                    let entry = encoded.records[index]
                    #expect(scope.spans.contains(index))
                    #expect(try LogRecord(serializedBytes: Array(encoded.bytes[entry.body])) == record, "seed \(seed)")
                    #expect(entry.time == record.timeUnixNano)
                    #expect(entry.observedTime == record.observedTimeUnixNano)
                    #expect(entry.effectiveTime == (record.timeUnixNano != 0 ? record.timeUnixNano : record.observedTimeUnixNano))
                    #expect(Int(entry.severityNumber) == record.severityNumber.rawValue)
                    #expect(encoded.string(entry.severityText) == record.severityText)
                    #expect(Data(encoded.bytes[entry.traceID]) == record.traceID)
                    #expect(Data(encoded.bytes[entry.spanID]) == record.spanID)
                    #expect(entry.value.isEmpty == !record.hasBody)
                    if record.hasBody {
                        #expect(try AnyValue(serializedBytes: Array(encoded.bytes[entry.value])) == record.body)
                    }
                    // Only a body that is exactly a string value is offered as text.
                    if case .stringValue(let text)? = record.body.value {
                        #expect(entry.stringValue.map(encoded.string) == text)
                    } else {
                        #expect(entry.stringValue == nil)
                    }
                    index += 1
                }
            }
        }
        #expect(try encoded.decoded() == request)
    }

    @Test func recordsWithIDsOfTheWrongLengthAreCounted() throws {
        var request = Self.fullRequest(seed: 9)
        request.resourceLogs[0].scopeLogs[0].logRecords[0].traceID = Data([1, 2, 3, 4, 5])
        request.resourceLogs[1].scopeLogs[1].logRecords[2].spanID = Data(repeating: 7, count: 9)
        let encoded = try #require(EncodedLogs(indexing: try request.serializedBytes()))
        #expect(encoded.recordsWithInvalidIDs == 2)
    }

    @Test func unusualEncodingsAreLeftToSwiftProtobuf() throws {
        var record = LogRecord()
        record.severityText = "INFO"
        let once = try record.serializedBytes() as [UInt8]
        // The severity text field twice (swift-protobuf keeps the last): not indexed.
        let twice = once + once
        let request = field(1, field(2, field(2, twice)))
        #expect(EncodedLogs(indexing: request) == nil)
        #expect(try ExportLogsRequest(serializedBytes: request).logRecordCount == 1)
        // Invalid UTF-8 in the severity text: not indexed, and swift-protobuf refuses it.
        let badText = field(1, field(2, field(2, field(3, [0xFF, 0xFE]))))
        #expect(EncodedLogs(indexing: badText) == nil)
        #expect(throws: (any Error).self) { try ExportLogsRequest(serializedBytes: badText) }
        // A body whose AnyValue holds a string and an unknown field: indexed, but its text is not offered alone.
        let body = field(1, Array("hi".utf8)) + field(99, [1])
        let withExtra = field(1, field(2, field(2, field(5, body))))
        let encoded = try #require(EncodedLogs(indexing: withExtra))
        #expect(encoded.records.first?.stringValue == nil)
    }
}

/// `EncodedLogs` (with `OTLPCommonWire`) tied to the generated schema, as `EncodedTracesSchemaTests` ties the trace
/// index: the fields ``SchemaFields/logs`` lists are what the generated code accepts, and the index reads each and
/// refuses it with another wire type.
@Suite struct EncodedLogsSchemaTests {
    @Test func theListedFieldsAreTheGeneratedSchemas() {
        for m in SchemaFields.logs {
            let accepted = SchemaFields.accepted(by: m.type)
            #expect(accepted == m.fields, "\(m.name): the schema's fields \(accepted.sorted { $0.lexicographicallyPrecedes($1) })")
        }
    }

    @Test func everyFieldOfEveryLogsMessageIsReadAndAWrongWireTypeIsNotSkipped() {
        for m in SchemaFields.logs {
            for number in Set(m.fields.map { $0[0] }) {
                for wireType in SchemaFields.wireTypes {
                    let indexed = EncodedLogs(indexing: m.inRequest(SchemaFields.single(number, wireType))) != nil
                    if m.fields.contains([number, wireType]) {
                        #expect(indexed, "\(m.name) field \(number) (wire type \(wireType)): not read")
                    } else {
                        #expect(!indexed, "\(m.name) field \(number) with wire type \(wireType): skipped as if unknown")
                    }
                }
            }
        }
    }
}
