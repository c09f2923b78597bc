import CollectorTesting
import Foundation
import OTLP
import Testing

/// ``EncodedSpan`` reads what swift-protobuf decodes, and declines what it would have to merge or reject.
@Suite struct EncodedSpanTests {
    /// What the view reads of a span, in the decoded span's terms.
    struct Read: Equatable {
        var traceID = Data(), spanID = Data(), parentSpanID = Data(), traceState = "", name = ""
        var kind = 0, start: UInt64 = 0, end: UInt64 = 0, flags: UInt32 = 0
        var statusCode = 0, statusMessage = ""
        var attributes: [Attribute] = []
        var events: [Event] = []
        var links: [Link] = []
    }

    /// An attribute as its key and its value's oneof, serialized (so that NaNs compare by their bits).
    struct Attribute: Equatable {
        var key: String, value: Data

        init(_ key: String, _ value: AnyValue.OneOf_Value?) {
            self.key = key
            var v = AnyValue()
            v.value = value
            self.value = (try? v.serializedBytes()) ?? Data()
        }
    }

    struct Event: Equatable {
        var time: UInt64, name: String, attributes: [Attribute]
    }

    struct Link: Equatable {
        var traceID: Data, spanID: Data
    }

    static func read(_ bytes: Data) -> Read? {
        bytes.withUnsafeBytes { buffer -> Read? in
            guard let view = EncodedSpan(buffer) else { return nil }
            func text(_ r: Range<Int>) -> String { String(decoding: UnsafeRawBufferPointer(rebasing: buffer[r]), as: UTF8.self) }
            func attribute(_ key: Range<Int>, _ value: EncodedSpan.Value) -> Attribute {
                switch value {
                case .string(let r): Attribute(text(key), .stringValue(text(r)))
                case .bool(let b): Attribute(text(key), .boolValue(b))
                case .int(let i): Attribute(text(key), .intValue(i))
                case .double(let d): Attribute(text(key), .doubleValue(d))
                case .bytes(let r): Attribute(text(key), .bytesValue(view.data(r)))
                case .other(let r): Attribute(text(key), ((try? AnyValue(serializedBytes: view.data(r))) ?? AnyValue()).value)
                }
            }
            var out = Read(
                traceID: view.data(view.traceID), spanID: view.data(view.spanID), parentSpanID: view.data(view.parentSpanID),
                traceState: text(view.traceState), name: text(view.name), kind: Int(view.kind), start: view.start, end: view.end,
                flags: view.flags, statusCode: Int(view.statusCode), statusMessage: text(view.statusMessage))
            view.forEachAttribute { out.attributes.append(attribute($0, $1)) }
            view.forEachEvent { time, name, event in
                var attributes: [Attribute] = []
                view.forEachAttribute(ofEvent: event) { attributes.append(attribute($0, $1)) }
                out.events.append(Event(time: time, name: text(name), attributes: attributes))
            }
            view.forEachLink { out.links.append(Link(traceID: view.data($0), spanID: view.data($1))) }
            return out
        }
    }

    /// The decoded span in the view's terms: link and event parts the view does not read are left out.
    static func expected(_ s: Span) -> Read {
        Read(
            traceID: s.traceID, spanID: s.spanID, parentSpanID: s.parentSpanID, traceState: s.traceState, name: s.name,
            kind: s.kind.rawValue, start: s.startTimeUnixNano, end: s.endTimeUnixNano, flags: s.flags, statusCode: s.status.code.rawValue,
            statusMessage: s.status.message,
            attributes: s.attributes.map { Attribute($0.key, $0.value.value) },
            events: s.events.map { e in Event(time: e.timeUnixNano, name: e.name, attributes: e.attributes.map { Attribute($0.key, $0.value.value) })
            },
            links: s.links.map { Link(traceID: $0.traceID, spanID: $0.spanID) })
    }

    @Test func readsWhatSwiftProtobufDecodesForRandomSpansThatSetEveryField() throws {
        let seed = TestSeed.next()
        var g = SplitMix64(seed: seed)
        for round in 0..<500 {
            let span = RandomOTLP.span(&g)
            let bytes: Data = try span.serializedBytes()
            let read = try #require(Self.read(bytes), "seed \(seed), round \(round): a plainly encoded span is read")
            #expect(read == Self.expected(span), "seed \(seed), round \(round)")
        }
    }

    /// A field number and wire type as a tag, then `payload` as a length-delimited value.
    static func field(_ number: UInt8, _ payload: [UInt8]) -> [UInt8] { [number << 3 | 2, UInt8(payload.count)] + payload }

    @Test func aScalarFieldGivenTwiceCountsTheLastTimeAndUnknownFieldsAreSkipped() throws {
        // Field 20 (length-delimited) and field 127 (a varint) are not in the schema.
        let bytes = Data(Self.field(5, Array("first".utf8)) + [0xA2, 0x01, 0x01, 0x00] + [0xF8, 0x07, 0x2A] + Self.field(5, Array("second".utf8)))
        let read = try #require(Self.read(bytes))
        let decoded = try Span(serializedBytes: bytes)
        #expect(read.name == "second")
        #expect(read == Self.expected(decoded))
    }

    @Test func bytesProtobufWouldMergeOrRejectAreLeftToSwiftProtobuf() {
        let status = Self.field(15, Self.field(2, Array("x".utf8)))
        let twoValues = Self.field(9, Self.field(1, Array("k".utf8)) + Self.field(2, [0x08, 0x01]) + Self.field(2, [0x18, 0x02]))
        let anyValueWithTwo = Self.field(9, Self.field(1, Array("k".utf8)) + Self.field(2, [0x10, 0x01, 0x18, 0x02]))
        let cases: [(String, [UInt8])] = [
            ("a status given twice (merged)", status + status),
            ("a key-value with two values (merged)", twoValues),
            ("an AnyValue with two values", anyValueWithTwo),
            ("a name that is not UTF-8", Self.field(5, [0xFF, 0xFE])),
            ("an attribute value that is not UTF-8", Self.field(9, Self.field(1, Array("k".utf8)) + Self.field(2, Self.field(1, [0xC0])))),
            ("an event name that is not UTF-8", Self.field(11, Self.field(2, [0xED, 0xA0, 0x80]))),
            ("a start time as a varint", [7 << 3, 0x01]),
            ("a truncated field", [0x4A, 0x05, 0x01]),
            ("a group", [0x0B]),
        ]
        for (what, bytes) in cases {
            #expect(Self.read(Data(bytes)) == nil, "\(what)")
        }
    }
}
