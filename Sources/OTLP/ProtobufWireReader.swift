/// Reads protobuf wire format in place, without allocating: tags, varints, fixed-width values and the byte ranges
/// of length-delimited fields, all as offsets into one buffer.
///
/// Used by ``EncodedTraces`` to index a request without building its message graph. Anything it does not
/// understand (groups, malformed lengths, over-long varints) is reported as ``ProtobufWireReader/Unreadable`` so
/// the caller can fall back to swift-protobuf, which then decides (and words the error).
struct ProtobufWireReader {
    struct Unreadable: Error {}

    enum WireType: UInt8 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    let buffer: UnsafeRawBufferPointer
    private(set) var position: Int
    let end: Int

    init(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) {
        self.buffer = buffer
        position = range.lowerBound
        end = range.upperBound
    }

    var isAtEnd: Bool { position >= end }

    /// The next field's number and wire type.
    @inline(__always)
    mutating func field() throws(Unreadable) -> (number: UInt64, type: WireType) {
        let tag = try varint()
        guard let type = WireType(rawValue: UInt8(tag & 7)), tag >> 3 > 0, tag >> 3 <= 536_870_911 else { throw Unreadable() }
        return (tag >> 3, type)
    }

    @inline(__always)
    mutating func varint() throws(Unreadable) -> UInt64 {
        guard position < end else { throw Unreadable() }
        let first = buffer[position]
        if first < 0x80 {
            position += 1
            return UInt64(first)
        }
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end, shift < 64 else { throw Unreadable() }
            let byte = buffer[position]
            position += 1
            if shift == 63 && byte > 1 { throw Unreadable() }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }

    @inline(__always)
    mutating func fixed64() throws(Unreadable) -> UInt64 {
        guard end - position >= 8 else { throw Unreadable() }
        let v = buffer.loadUnaligned(fromByteOffset: position, as: UInt64.self)
        position += 8
        return UInt64(littleEndian: v)
    }

    /// Moves past the one-byte tag `tag` when it comes next; false, with nothing read, otherwise.
    @inline(__always)
    mutating func skipTag(_ tag: UInt8) -> Bool {
        guard position < end, buffer[position] == tag else { return false }
        position += 1
        return true
    }

    /// The value of a fixed64 field whose one-byte tag is `tag`, when that field comes next and is whole; nil, with
    /// nothing read, otherwise.
    @inline(__always)
    mutating func fixed64(tagged tag: UInt8) -> UInt64? {
        guard end - position >= 9, buffer[position] == tag else { return nil }
        let v = buffer.loadUnaligned(fromByteOffset: position + 1, as: UInt64.self)
        position += 9
        return UInt64(littleEndian: v)
    }

    @inline(__always)
    mutating func fixed32() throws(Unreadable) -> UInt32 {
        guard end - position >= 4 else { throw Unreadable() }
        let v = buffer.loadUnaligned(fromByteOffset: position, as: UInt32.self)
        position += 4
        return UInt32(littleEndian: v)
    }

    /// The byte range of a length-delimited field's payload; the reader moves past it.
    @inline(__always)
    mutating func lengthDelimited() throws(Unreadable) -> Range<Int> {
        let length = try varint()
        guard length <= UInt64(end - position) else { throw Unreadable() }
        let start = position
        position += Int(length)
        return start..<position
    }

    /// Skips a field's value of the given wire type.
    @inline(__always)
    mutating func skip(_ type: WireType) throws(Unreadable) {
        switch type {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .fixed32: _ = try fixed32()
        case .lengthDelimited: _ = try lengthDelimited()
        }
    }

    /// Reads the fields of the message in `range`: `body` gets each field with the reader positioned at its value,
    /// and returns whether it read the value; a field it leaves (returns false) is skipped.
    @inline(__always)
    static func forEachField(
        _ buffer: UnsafeRawBufferPointer, _ range: Range<Int>,
        _ body: (_ number: UInt64, _ type: WireType, _ reader: inout ProtobufWireReader) throws(Unreadable) -> Bool
    ) throws(Unreadable) {
        var r = ProtobufWireReader(buffer, range)
        while !r.isAtEnd {
            let f = try r.field()
            if try !body(f.number, f.type, &r) { try r.skip(f.type) }
        }
    }

    /// As ``forEachField(_:_:_:)``, also giving where each field starts (its tag).
    @inline(__always)
    static func forEachField(
        _ buffer: UnsafeRawBufferPointer, _ range: Range<Int>,
        _ body: (_ number: UInt64, _ type: WireType, _ fieldStart: Int, _ reader: inout ProtobufWireReader) throws(Unreadable) -> Bool
    ) throws(Unreadable) {
        var r = ProtobufWireReader(buffer, range)
        while !r.isAtEnd {
            let start = r.position
            let f = try r.field()
            if try !body(f.number, f.type, start, &r) { try r.skip(f.type) }
        }
    }

    /// Bytes a varint encoding of `value` takes.
    static func varintSize(_ value: UInt64) -> Int {
        var v = value
        var n = 1
        while v >= 0x80 {
            v >>= 7
            n += 1
        }
        return n
    }

    /// A length-delimited field whose payload must be valid UTF-8 (a protobuf `string`).
    @inline(__always)
    mutating func string() throws(Unreadable) -> Range<Int> {
        let r = try lengthDelimited()
        guard isValidUTF8(buffer, r) else { throw Unreadable() }
        return r
    }
}

/// Whether `buffer[range]` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), as
/// swift-protobuf requires of `string` fields.
///
/// Strings of up to 16 ASCII bytes (most keys and values) are decided inline with one or two loads.
@inline(__always)
func isValidUTF8(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
    let end = range.upperBound
    let count = end - range.lowerBound
    if count < 8 {
        // The eight bytes ending with the string, those before it shifted out. They lie within `buffer` when
        // `end` is at least eight bytes in.
        if end >= 8,
            UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: end - 8, as: UInt64.self)) >> (8 * UInt64(8 - count))
                & 0x8080_8080_8080_8080 == 0
        {
            return true
        }
    } else if count <= 16 {
        // Its first eight bytes and its last eight, which overlap.
        let first = buffer.loadUnaligned(fromByteOffset: range.lowerBound, as: UInt64.self)
        let last = buffer.loadUnaligned(fromByteOffset: end - 8, as: UInt64.self)
        if (first | last) & 0x8080_8080_8080_8080 == 0 { return true }
    }
    return isValidUTF8Bytes(buffer, range)
}

/// ``isValidUTF8(_:_:)`` byte by byte (ASCII eight bytes at a time).
private func isValidUTF8Bytes(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
    var i = range.lowerBound
    let end = range.upperBound
    while i < end {
        // ASCII eight bytes at a time.
        while end - i >= 8 {
            if buffer.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { break }
            i += 8
        }
        guard i < end else { return true }
        // A short ASCII tail: the last eight bytes cover it, and overlap bytes already checked.
        if end - i < 8, end - range.lowerBound >= 8,
            buffer.loadUnaligned(fromByteOffset: end - 8, as: UInt64.self) & 0x8080_8080_8080_8080 == 0
        {
            return true
        }
        let b0 = buffer[i]
        if b0 < 0x80 {
            i += 1
            continue
        }
        @inline(__always) func continuation(_ k: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> Bool {
            i + k < end && buffer[i + k] >= low && buffer[i + k] <= high
        }
        switch b0 {
        case 0xC2...0xDF:
            guard continuation(1) else { return false }
            i += 2
        case 0xE0:
            guard continuation(1, 0xA0), continuation(2) else { return false }
            i += 3
        case 0xE1...0xEC, 0xEE...0xEF:
            guard continuation(1), continuation(2) else { return false }
            i += 3
        case 0xED:
            guard continuation(1, 0x80, 0x9F), continuation(2) else { return false }
            i += 3
        case 0xF0:
            guard continuation(1, 0x90), continuation(2), continuation(3) else { return false }
            i += 4
        case 0xF1...0xF3:
            guard continuation(1), continuation(2), continuation(3) else { return false }
            i += 4
        case 0xF4:
            guard continuation(1, 0x80, 0x8F), continuation(2), continuation(3) else { return false }
            i += 4
        default:
            return false
        }
    }
    return true
}
