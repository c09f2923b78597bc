import Foundation

/// Writes JSON straight into bytes, for answers too large to build as a ``JSON`` tree first (the diff of two
/// 10,000-span traces is 5 MB: a tree of it costs more to build and walk than the bytes take to write). The caller
/// gives the structure in order; the writer places the commas.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []
    /// Whether the next value or key follows another in the same object or array.
    private var needsComma = false

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func beginObject() {
        separate()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    mutating func beginArray() {
        separate()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// An object's key: a literal written as it is (keys are plain ASCII names that need no escaping).
    mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    mutating func string(_ s: String) {
        separate()
        JSON.writeString(s, into: &bytes)
        needsComma = true
    }

    /// A string given as UTF-8 bytes the caller has checked.
    mutating func string(utf8: UnsafeRawBufferPointer) {
        separate()
        JSON.writeString(utf8: utf8, into: &bytes)
        needsComma = true
    }

    /// A string value given as a literal of plain ASCII that needs no escaping (an enum's name).
    mutating func string(literal: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// An object's key that is not a literal (escaped as a string).
    mutating func key(dynamic name: String) {
        separate()
        JSON.writeString(name, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    mutating func bool(_ b: Bool) {
        separate()
        bytes.append(contentsOf: (b ? "true" : "false").utf8)
        needsComma = true
    }

    /// As ``JSON/double(_:)`` writes it (whole numbers without a fraction, non-finite as null).
    mutating func double(_ d: Double) {
        separate()
        JSON.double(d).write(into: &bytes)
        needsComma = true
    }

    /// A value already written as JSON.
    mutating func raw(_ json: [UInt8]) {
        separate()
        bytes.append(contentsOf: json)
        needsComma = true
    }

    mutating func int(_ i: Int64) {
        separate()
        JSON.writeInteger(i, into: &bytes)
        needsComma = true
    }

    mutating func null() {
        separate()
        let null: StaticString = "null"
        bytes.append(contentsOf: UnsafeBufferPointer(start: null.utf8Start, count: null.utf8CodeUnitCount))
        needsComma = true
    }

    /// `id` as a string of lowercase hex digits.
    mutating func hex(_ id: Data) {
        id.withUnsafeBytes { hex(bytes: $0) }
    }

    mutating func hex(bytes id: UnsafeRawBufferPointer) {
        separate()
        let digits: StaticString = "0123456789abcdef"
        bytes.append(UInt8(ascii: "\""))
        for b in id {
            bytes.append(digits.utf8Start[Int(b >> 4)])
            bytes.append(digits.utf8Start[Int(b & 0xF)])
        }
        bytes.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// A trace or span ID as Jaeger writes it (``JaegerTrace/idHex(_:)``: 16 digits for a trace ID whose high 64 bits
    /// are zero), without building a `String`.
    mutating func jaegerID(_ id: Data) {
        id.withUnsafeBytes { jaegerID(bytes: $0) }
    }

    mutating func jaegerID(bytes id: UnsafeRawBufferPointer) {
        if id.count == 16, id.prefix(8).allSatisfy({ $0 == 0 }) {
            hex(bytes: UnsafeRawBufferPointer(rebasing: id.suffix(8)))
        } else {
            hex(bytes: id)
        }
    }

    private mutating func separate() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }
}
