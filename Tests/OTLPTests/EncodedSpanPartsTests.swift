import Foundation
import OTLP
import Testing

@Suite struct EncodedSpanPartsTests {
    static func parts(_ bytes: [UInt8]) -> EncodedSpanParts? { bytes.withUnsafeBytes { EncodedSpanParts($0) } }

    @Test func statusMessageAndAttributeFieldsAreReadWithoutDecodingTheSpan() throws {
        var span = Span()
        span.name = "GET /cart"
        span.attributes = [
            KeyValue.with {
                $0.key = "a"
                $0.value = .string("1")
            },
            KeyValue.with {
                $0.key = "b"
                $0.value.intValue = 2
            },
        ]
        span.events = [
            Span.Event.with {
                $0.name = "retry"
                $0.attributes = [KeyValue.with { $0.key = "inner" }]
            }
        ]
        span.status.code = .error
        span.status.message = "card declined"
        let read = try #require(Self.parts(Array(try span.serializedBytes() as Data)))
        #expect(read.statusMessage == "card declined")
        // The fields decode back to the list, and only the span's own attributes are in them (not its events').
        #expect(try Span(serializedBytes: read.attributeFields).attributes == span.attributes)
        #expect(Self.parts([]) == EncodedSpanParts())
    }

    @Test func attributeFieldsSplitByOtherFieldsAreGatheredInOrder() throws {
        let first = Array(
            try KeyValue.with {
                $0.key = "x"
                $0.value = .string("1")
            }.serializedBytes() as Data)
        let second = Array(
            try KeyValue.with {
                $0.key = "y"
                $0.value = .string("2")
            }.serializedBytes() as Data)
        // attributes, name (field 5), attributes, status twice (the last message counts, as protobuf merges).
        let bytes =
            field(9, first) + field(5, Array("op".utf8)) + field(9, second)
            + field(15, field(2, Array("old".utf8))) + field(15, field(2, Array("new".utf8)))
        let read = try #require(Self.parts(bytes))
        #expect(try Span(serializedBytes: read.attributeFields).attributes.map(\.key) == ["x", "y"])
        #expect(read.statusMessage == "new")
    }

    @Test func unreadableBytesGiveNil() {
        #expect(Self.parts([0x4A, 0x05, 0x01]) == nil)  // attributes longer than what is left
        #expect(Self.parts(field(15, field(2, [0xFF, 0xFE]))) == nil)  // a status message that is not UTF-8
        #expect(Self.parts([0x7A]) == nil)  // a tag with no value
    }

    @Test func keyedValuesGiveEachKeyWithItsValueBytesAndRefuseRepeatsWithinOneAttribute() throws {
        var span = Span()
        span.attributes = [
            KeyValue.with {
                $0.key = "a"
                $0.value = .string("1")
            },
            KeyValue.with {
                $0.key = "b"
                $0.value.intValue = 2
            },
            KeyValue.with { $0.key = "empty" },
        ]
        let fields = try #require(Self.parts(Array(try span.serializedBytes() as Data))).attributeFields
        let read = try #require(EncodedSpanParts.keyedValues(fields))
        #expect(read.map(\.key) == ["a", "b", "empty"])
        #expect(read.map { EncodedSpanParts.value($0.value) } == span.attributes.map(\.value))
        // A KeyValue whose value is given twice is merged by protobuf: left to swift-protobuf.
        let twice = field(9, field(1, Array("k".utf8)) + field(2, field(1, Array("x".utf8))) + field(2, field(1, Array("y".utf8))))
        #expect(EncodedSpanParts.keyedValues(Data(twice)) == nil)
        #expect(EncodedSpanParts.keyedValues(Data(field(5, []))) == nil)
        #expect(EncodedSpanParts.value(Data([0xFF])) == AnyValue())
    }
}
