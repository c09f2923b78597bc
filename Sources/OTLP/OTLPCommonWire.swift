/// Validators for the OTLP messages every signal shares (`Resource`, `InstrumentationScope`, `KeyValue`,
/// `AnyValue`), used by the wire-form indexes (``EncodedTraces``, ``EncodedMetrics``). Each checks what
/// swift-protobuf's decoder checks (framing, wire types of known fields, UTF-8 of strings, nesting depth) and throws
/// ``ProtobufWireReader/Unreadable`` for anything else it is not sure of, so the caller can fall back to
/// swift-protobuf.
enum OTLPCommonWire {
    typealias Reader = ProtobufWireReader
    typealias Unreadable = ProtobufWireReader.Unreadable

    /// swift-protobuf refuses messages nested deeper than 100; stop short of that and let it decide.
    static let maxDepth = 90

    /// `Resource`: returns the value of its first `service.name` attribute when that is a string.
    static func resource(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) -> Range<Int>? {
        var service: Range<Int>?
        var serviceDecided = false
        try Reader.forEachField(buffer, range) { number, type, r throws(Unreadable) in
            switch (number, type) {
            case (1, .lengthDelimited):
                let kv = try keyValue(buffer, try r.lengthDelimited(), depth: 4)
                if !serviceDecided, equals(buffer, kv.key, "service.name") {
                    serviceDecided = true
                    service = kv.stringValue
                }
            case (2, .varint): _ = try r.varint()
            case (3, .lengthDelimited): try entityRef(buffer, try r.lengthDelimited())
            case (1...3, _): throw Unreadable()
            default: return false
            }
            return true
        }
        return service
    }

    static func entityRef(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) {
        try Reader.forEachField(buffer, range) { number, type, r throws(Unreadable) in
            switch (number, type) {
            case (1...4, .lengthDelimited): _ = try r.string()
            case (1...4, _): throw Unreadable()
            default: return false
            }
            return true
        }
    }

    /// `InstrumentationScope`: returns its name's range when present.
    static func instrumentationScope(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) -> Range<Int>? {
        var name: Range<Int>?
        try Reader.forEachField(buffer, range) { number, type, r throws(Unreadable) in
            switch (number, type) {
            case (1, .lengthDelimited): name = try r.string()
            case (2, .lengthDelimited): _ = try r.string()
            case (3, .lengthDelimited): try keyValue(buffer, try r.lengthDelimited(), depth: 5)
            case (4, .varint): _ = try r.varint()
            case (1...4, _): throw Unreadable()
            default: return false
            }
            return true
        }
        return name
    }

    /// `KeyValue`: returns its key and, when its value is a string, the string's range.
    @discardableResult
    @inline(__always)
    static func keyValue(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>, depth: Int) throws(Unreadable) -> (
        key: Range<Int>, stringValue: Range<Int>?
    ) {
        guard depth < maxDepth else { throw Unreadable() }
        if let canonical = canonicalKeyValue(buffer, range) { return canonical }
        return try keyValueFields(buffer, range, depth: depth)
    }

    /// ``keyValue(_:_:depth:)`` for any layout: the general field loop.
    private static func keyValueFields(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>, depth: Int) throws(Unreadable) -> (
        key: Range<Int>, stringValue: Range<Int>?
    ) {
        var key = range.lowerBound..<range.lowerBound
        var value: Range<Int>?
        var seenValue = false
        try Reader.forEachField(buffer, range) { number, type, r throws(Unreadable) in
            switch (number, type) {
            case (1, .lengthDelimited): key = try r.string()
            case (2, .lengthDelimited):
                if seenValue { throw Unreadable() }
                seenValue = true
                value = try anyValue(buffer, try r.lengthDelimited(), depth: depth + 1)
            case (3, .varint): _ = try r.varint()
            case (1...3, _): throw Unreadable()
            default: return false
            }
            return true
        }
        return (key, value)
    }

    /// The layout SDKs write for an attribute with a string, integer, boolean or double value, read without the
    /// general field loop: key (field 1), then value (field 2) holding only that one field, each length under 128
    /// bytes. Returns what ``keyValue(_:_:depth:)`` returns for such bytes, or nil for any other layout (which
    /// the general loop then reads) and for invalid UTF-8 (which it then refuses).
    @inline(__always)
    private static func canonicalKeyValue(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) -> (key: Range<Int>, stringValue: Range<Int>?)? {
        let end = range.upperBound
        var i = range.lowerBound
        // Key: tag 0x0A, one length byte.
        guard end - i >= 4, buffer[i] == 0x0A, buffer[i + 1] < 0x80 else { return nil }
        let key = (i + 2)..<(i + 2 + Int(buffer[i + 1]))
        i = key.upperBound
        // Value: tag 0x12, one length byte, running to the end of the KeyValue.
        guard end - i >= 3, buffer[i] == 0x12, buffer[i + 1] < 0x80, Int(buffer[i + 1]) == end - i - 2 else { return nil }
        i += 2
        var string: Range<Int>?
        switch buffer[i] {
        case 0x0A:  // string_value
            guard end - i >= 2, buffer[i + 1] < 0x80, Int(buffer[i + 1]) == end - i - 2 else { return nil }
            string = (i + 2)..<end
        case 0x10, 0x18:  // int_value, bool_value
            var r = Reader(buffer, (i + 1)..<end)
            guard (try? r.varint()) != nil, r.isAtEnd else { return nil }
        case 0x21:  // double_value
            guard end - i == 9 else { return nil }
        default:
            return nil
        }
        guard isValidUTF8(buffer, key), string.map({ isValidUTF8(buffer, $0) }) ?? true else { return nil }
        return (key, string)
    }

    /// `AnyValue`: returns the string's range when it holds a string.
    @discardableResult
    static func anyValue(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>, depth: Int) throws(Unreadable) -> Range<Int>? {
        guard depth < maxDepth else { throw Unreadable() }
        var string: Range<Int>?
        var seenOneof = false
        try Reader.forEachField(buffer, range) { number, type, r throws(Unreadable) in
            if (1...8).contains(number) {
                // A oneof set twice merges in swift-protobuf; leave that to it.
                if seenOneof { throw Unreadable() }
                seenOneof = true
            }
            switch (number, type) {
            case (1, .lengthDelimited): string = try r.string()
            case (2, .varint), (3, .varint), (8, .varint): _ = try r.varint()
            case (4, .fixed64): _ = try r.fixed64()
            case (5, .lengthDelimited), (6, .lengthDelimited):
                // ArrayValue holds AnyValues, KeyValueList holds KeyValues, both in field 1.
                let isArray = number == 5
                try Reader.forEachField(buffer, try r.lengthDelimited()) { inner, innerType, values throws(Unreadable) in
                    guard inner == 1 else { return false }
                    guard innerType == .lengthDelimited else { throw Unreadable() }
                    if isArray {
                        try anyValue(buffer, try values.lengthDelimited(), depth: depth + 2)
                    } else {
                        try keyValue(buffer, try values.lengthDelimited(), depth: depth + 2)
                    }
                    return true
                }
            case (7, .lengthDelimited): _ = try r.lengthDelimited()
            case (1...8, _): throw Unreadable()
            default: return false
            }
            return true
        }
        return string
    }

    static func equals(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>, _ text: StaticString) -> Bool {
        guard range.count == text.utf8CodeUnitCount else { return false }
        var i = range.lowerBound
        for byte in UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount) {
            guard buffer[i] == byte else { return false }
            i += 1
        }
        return true
    }
}
