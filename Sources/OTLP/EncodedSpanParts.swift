import Foundation

/// The parts of an encoded `Span` that a comparison of two spans reads — its status message and its attribute
/// fields — found in the protobuf bytes without decoding the span.
///
/// `attributeFields` holds each `attributes` field (number 9) exactly as encoded, tag and length included, in the
/// order they appear: equal bytes mean equal attribute lists, and `Span(serializedBytes: attributeFields)` gives
/// the list back when they differ.
public struct EncodedSpanParts: Sendable, Equatable {
    public var statusMessage: String
    public var attributeFields: Data

    public init(statusMessage: String = "", attributeFields: Data = Data()) {
        self.statusMessage = statusMessage
        self.attributeFields = attributeFields
    }

    /// The parts of the span encoded in `bytes`; nil when the bytes are not a readable span (the caller can then
    /// decode them with swift-protobuf, which words the error).
    public init?(_ bytes: UnsafeRawBufferPointer) {
        var message = ""
        var attributes: [Range<Int>] = []
        do throws(ProtobufWireReader.Unreadable) {
            try ProtobufWireReader.forEachField(bytes, 0..<bytes.count) { number, type, start, r throws(ProtobufWireReader.Unreadable) in
                switch (number, type) {
                case (9, .lengthDelimited):
                    _ = try r.lengthDelimited()
                    attributes.append(start..<r.position)
                    return true
                case (15, .lengthDelimited):
                    // Status: message is field 2 (the last one read counts, as protobuf merges).
                    let status = try r.lengthDelimited()
                    try ProtobufWireReader.forEachField(bytes, status) { n, t, inner throws(ProtobufWireReader.Unreadable) in
                        guard n == 2, t == .lengthDelimited else { return false }
                        let text = try inner.string()
                        message = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[text]), as: UTF8.self)
                        return true
                    }
                    return true
                default:
                    return false
                }
            }
        } catch {
            return nil
        }
        var fields = Data(capacity: attributes.reduce(0) { $0 + $1.count })
        for range in attributes { fields.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[range])) }
        self.init(statusMessage: message, attributeFields: fields)
    }

    /// Each attribute in `attributeFields` as its key and its value's encoded bytes (an `AnyValue`), in order; nil
    /// when the bytes are not plainly readable (a key or value given twice, a malformed field): decode them with
    /// swift-protobuf instead.
    public static func keyedValues(_ attributeFields: Data) -> [(key: String, value: Data)]? {
        attributeFields.withUnsafeBytes { bytes -> [(key: String, value: Data)]? in
            var out: [(key: String, value: Data)] = []
            do throws(ProtobufWireReader.Unreadable) {
                try ProtobufWireReader.forEachField(bytes, 0..<bytes.count) { number, type, r throws(ProtobufWireReader.Unreadable) in
                    guard number == 9, type == .lengthDelimited else { throw ProtobufWireReader.Unreadable() }
                    var key: Range<Int>?
                    var value: Range<Int>?
                    try ProtobufWireReader.forEachField(bytes, try r.lengthDelimited()) { n, t, inner throws(ProtobufWireReader.Unreadable) in
                        switch (n, t) {
                        case (1, .lengthDelimited):
                            guard key == nil else { throw ProtobufWireReader.Unreadable() }
                            key = try inner.string()
                        case (2, .lengthDelimited):
                            guard value == nil else { throw ProtobufWireReader.Unreadable() }
                            value = try inner.lengthDelimited()
                        default:
                            return false
                        }
                        return true
                    }
                    out.append(
                        (
                            key.map { String(decoding: UnsafeRawBufferPointer(rebasing: bytes[$0]), as: UTF8.self) } ?? "",
                            value.map { Data(UnsafeRawBufferPointer(rebasing: bytes[$0])) } ?? Data()
                        ))
                    return true
                }
            } catch {
                return nil
            }
            return out
        }
    }

    /// The value encoded in `bytes` (an `AnyValue`): a plain string is read directly, anything else through
    /// swift-protobuf; bytes that do not decode give an empty value.
    public static func value(_ bytes: Data) -> AnyValue {
        let text: String? = bytes.withUnsafeBytes { buffer in
            var r = ProtobufWireReader(buffer, 0..<buffer.count)
            guard let f = try? r.field(), f.number == 1, f.type == .lengthDelimited, let range = try? r.string(), r.isAtEnd else { return nil }
            return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[range]), as: UTF8.self)
        }
        if let text { return .string(text) }
        return (try? AnyValue(serializedBytes: bytes)) ?? AnyValue()
    }
}
