import CollectorTesting
import Foundation
import SwiftProtobuf
import Testing

@testable import OTLP

/// `FullFieldRequests` (the request the store's, the file exporter's and the trace index's round-trip tests use) sets
/// every field of the generated trace schema somewhere: a field a regenerated schema adds fails here until that
/// request sets it, and then those round trips (`SpanBatchWriter.fieldsInColumns` and the read-back included) cover
/// it.
@Suite struct FullFieldRequestsCoverageTests {
    /// The (field number, wire type) pairs at the top level of `message`'s encoding.
    static func present(_ message: some SwiftProtobuf.Message) throws -> Set<[Int]> {
        let bytes: [UInt8] = try message.serializedBytes()
        var out: Set<[Int]> = []
        let readable = bytes.withUnsafeBytes { buffer -> Bool in
            do {
                try ProtobufWireReader.forEachField(buffer, 0..<buffer.count) { number, type, _ in
                    out.insert([Int(number), Int(type.rawValue)])
                    return false
                }
                return true
            } catch {
                return false
            }
        }
        #expect(readable)
        return out
    }

    /// Every AnyValue in `values`, nested ones included.
    static func allValues(_ values: [AnyValue]) -> [AnyValue] {
        values.flatMap { v -> [AnyValue] in
            switch v.value {
            case .arrayValue(let a)?: [v] + allValues(a.values)
            case .kvlistValue(let l)?: [v] + allValues(l.values.map(\.value))
            default: [v]
            }
        }
    }

    /// Every KeyValue in `attributes`, those in nested key-value lists included.
    static func allKeyValues(_ attributes: [KeyValue]) -> [KeyValue] {
        attributes
            + allValues(attributes.map(\.value)).flatMap { v -> [KeyValue] in
                if case .kvlistValue(let l)? = v.value { return l.values }
                return []
            }
    }

    @Test func everyFieldOfTheGeneratedTraceSchemaIsSetInTheFullFieldRequest() throws {
        let request = FullFieldRequests.request(trace: Data(repeating: 1, count: 16), other: Data(repeating: 2, count: 16), base: 1_000)
        let resources: [ResourceSpans] = request.resourceSpans
        let scopes: [ScopeSpans] = resources.flatMap { $0.scopeSpans }
        let spans: [Span] = scopes.flatMap { $0.spans }
        let events: [Span.Event] = spans.flatMap { $0.events }
        let links: [Span.Link] = spans.flatMap { $0.links }
        var attributes: [KeyValue] = resources.flatMap { $0.resource.attributes }
        attributes += scopes.flatMap { $0.scope.attributes }
        attributes += spans.flatMap { $0.attributes }
        attributes += events.flatMap { $0.attributes }
        attributes += links.flatMap { $0.attributes }
        let keyValues = Self.allKeyValues(attributes)
        let values = Self.allValues(attributes.map { $0.value })
        let arrays: [Opentelemetry_Proto_Common_V1_ArrayValue] = values.compactMap {
            if case .arrayValue(let a)? = $0.value { return a }
            return nil
        }
        let lists: [Opentelemetry_Proto_Common_V1_KeyValueList] = values.compactMap {
            if case .kvlistValue(let l)? = $0.value { return l }
            return nil
        }

        func union<M: SwiftProtobuf.Message>(_ messages: [M]) throws -> Set<[Int]> {
            var out: Set<[Int]> = []
            for m in messages { out.formUnion(try Self.present(m)) }
            return out
        }
        var set: [String: Set<[Int]>] = [:]
        set["ExportTraceServiceRequest"] = try Self.present(request)
        set["ResourceSpans"] = try union(resources)
        set["Resource"] = try union(resources.map { $0.resource })
        set["EntityRef"] = try union(resources.flatMap { $0.resource.entityRefs })
        set["ScopeSpans"] = try union(scopes)
        set["InstrumentationScope"] = try union(scopes.map { $0.scope })
        set["Span"] = try union(spans)
        set["Span.Event"] = try union(events)
        set["Span.Link"] = try union(links)
        set["Status"] = try union(spans.map { $0.status })
        set["KeyValue"] = try union(keyValues)
        set["AnyValue"] = try union(values)
        set["ArrayValue"] = try union(arrays)
        set["KeyValueList"] = try union(lists)
        for m in SchemaFields.traces {
            // SchemaFields.traces is checked against the generated code (OTLPJSONTraceWriterTests).
            let found = try #require(set[m.name], "\(m.name): not looked for")
            #expect(found == m.fields, "\(m.name): fields never set: \(m.fields.subtracting(found).sorted { $0.lexicographicallyPrecedes($1) })")
        }
    }
}
