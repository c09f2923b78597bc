import Foundation

/// A `Span` read in place from its protobuf bytes, for writers that turn stored spans into another format without
/// building the message (the query API's Jaeger JSON: decoding a 10,000-span trace into `Span` values was half of
/// its answer's time).
///
/// ``init(_:)`` reads the whole message once and checks what a writer will walk: the wire structure, UTF-8 in every
/// `string`, at most one value in each `KeyValue` and `AnyValue`, at most one `status`. Anything else (a field
/// given the wrong wire type, a message field given twice, which protobuf would merge) makes it nil: decode those
/// bytes with swift-protobuf instead, which reads them by the rules (or words the error). A scalar field given
/// twice counts once, the last time, as protobuf says. Ranges and the walks index the buffer given to ``init(_:)``,
/// which must outlive the view.
public struct EncodedSpan {
    public let buffer: UnsafeRawBufferPointer
    public private(set) var traceID = 0..<0
    public private(set) var spanID = 0..<0
    public private(set) var traceState = 0..<0
    public private(set) var parentSpanID = 0..<0
    public private(set) var name = 0..<0
    /// The `SpanKind` number as protobuf reads an enum (`int32`).
    public private(set) var kind: Int32 = 0
    public private(set) var start: UInt64 = 0
    public private(set) var end: UInt64 = 0
    public private(set) var flags: UInt32 = 0
    /// The `Status.StatusCode` number.
    public private(set) var statusCode: Int32 = 0
    public private(set) var statusMessage = 0..<0

    /// An attribute's value. `other`: the `AnyValue`'s bytes, for values that are not a scalar (an array, a key-value
    /// list, a string-table index, no value at all): decode them with swift-protobuf.
    public enum Value {
        case string(Range<Int>)
        case bool(Bool)
        case int(Int64)
        case double(Double)
        case bytes(Range<Int>)
        case other(Range<Int>)
    }

    private typealias Reader = ProtobufWireReader
    private typealias Unreadable = ProtobufWireReader.Unreadable

    public init?(_ buffer: UnsafeRawBufferPointer) {
        self.buffer = buffer
        var hasStatus = false
        do throws(Unreadable) {
            try Reader.forEachField(buffer, 0..<buffer.count) { number, type, r throws(Unreadable) in
                switch (number, type) {
                case (1, .lengthDelimited): traceID = try r.lengthDelimited()
                case (2, .lengthDelimited): spanID = try r.lengthDelimited()
                case (3, .lengthDelimited): traceState = try r.string()
                case (4, .lengthDelimited): parentSpanID = try r.lengthDelimited()
                case (5, .lengthDelimited): name = try r.string()
                case (6, .varint): kind = Int32(truncatingIfNeeded: try r.varint())
                case (7, .fixed64): start = try r.fixed64()
                case (8, .fixed64): end = try r.fixed64()
                case (9, .lengthDelimited): try Self.checkKeyValue(buffer, try r.lengthDelimited())
                case (10, .varint), (12, .varint), (14, .varint): _ = try r.varint()
                case (11, .lengthDelimited): try Self.checkEvent(buffer, try r.lengthDelimited())
                case (13, .lengthDelimited): try Self.checkLink(buffer, try r.lengthDelimited())
                case (15, .lengthDelimited):
                    guard !hasStatus else { throw Unreadable() }
                    hasStatus = true
                    try Reader.forEachField(buffer, try r.lengthDelimited()) { n, t, s throws(Unreadable) in
                        switch (n, t) {
                        case (2, .lengthDelimited): statusMessage = try s.string()
                        case (3, .varint): statusCode = Int32(truncatingIfNeeded: try s.varint())
                        case (2, _), (3, _): throw Unreadable()
                        default: return false
                        }
                        return true
                    }
                case (16, .fixed32): flags = try r.fixed32()
                case (1...16, _): throw Unreadable()
                default: return false
                }
                return true
            }
        } catch {
            return nil
        }
    }

    /// The bytes of `range` (an ID) as `Data`.
    public func data(_ range: Range<Int>) -> Data { Data(UnsafeRawBufferPointer(rebasing: buffer[range])) }

    /// The links' trace and span IDs, in order.
    public func forEachLink(_ body: (_ traceID: Range<Int>, _ spanID: Range<Int>) -> Void) {
        forEachMessage(field: 13, in: 0..<buffer.count) { link in
            var traceID = 0..<0
            var spanID = 0..<0
            walk(link) { n, r in
                switch n {
                case 1: traceID = r.skipped()
                case 2: spanID = r.skipped()
                default: r.skip()
                }
            }
            body(traceID, spanID)
        }
    }

    /// The span's attributes, in order.
    public func forEachAttribute(_ body: (_ key: Range<Int>, _ value: Value) -> Void) {
        forEachKeyValue(field: 9, in: 0..<buffer.count, body)
    }

    /// The events, in order: time, name, and the event's message for ``forEachAttribute(ofEvent:_:)``.
    public func forEachEvent(_ body: (_ time: UInt64, _ name: Range<Int>, _ event: Range<Int>) -> Void) {
        forEachMessage(field: 11, in: 0..<buffer.count) { event in
            var time: UInt64 = 0
            var name = 0..<0
            walk(event) { n, r in
                switch n {
                case 1: time = r.fixed64()
                case 2: name = r.skipped()
                default: r.skip()
                }
            }
            body(time, name, event)
        }
    }

    /// The attributes of an event that ``forEachEvent(_:)`` gave.
    public func forEachAttribute(ofEvent event: Range<Int>, _ body: (_ key: Range<Int>, _ value: Value) -> Void) {
        forEachKeyValue(field: 3, in: event, body)
    }

    // MARK: Walking what init checked

    /// A reader over bytes ``init(_:)`` has checked: no read can fail.
    private struct CheckedReader {
        var r: ProtobufWireReader
        var type: ProtobufWireReader.WireType = .varint

        mutating func skipped() -> Range<Int> { (try? r.lengthDelimited()) ?? 0..<0 }
        mutating func fixed64() -> UInt64 { (try? r.fixed64()) ?? 0 }
        mutating func varint() -> UInt64 { (try? r.varint()) ?? 0 }
        mutating func skip() { try? r.skip(type) }
    }

    /// Calls `body` with each field of the message in `range`, the reader at its value; the field must be read or
    /// skipped.
    private func walk(_ range: Range<Int>, _ body: (_ number: UInt64, _ reader: inout CheckedReader) -> Void) {
        var c = CheckedReader(r: ProtobufWireReader(buffer, range))
        while !c.r.isAtEnd {
            guard let f = try? c.r.field() else { return }
            c.type = f.type
            let before = c.r.position
            body(f.number, &c)
            if c.r.position == before { return }  // cannot happen for checked bytes; never loop
        }
    }

    private func forEachMessage(field: UInt64, in range: Range<Int>, _ body: (Range<Int>) -> Void) {
        walk(range) { n, r in
            if n == field && r.type == .lengthDelimited { body(r.skipped()) } else { r.skip() }
        }
    }

    private func forEachKeyValue(field: UInt64, in range: Range<Int>, _ body: (_ key: Range<Int>, _ value: Value) -> Void) {
        forEachMessage(field: field, in: range) { kv in
            var key = 0..<0
            var value = Value.other(0..<0)
            walk(kv) { n, r in
                switch (n, r.type) {
                case (1, .lengthDelimited): key = r.skipped()
                case (2, .lengthDelimited): value = anyValue(r.skipped())
                default: r.skip()
                }
            }
            body(key, value)
        }
    }

    private func anyValue(_ range: Range<Int>) -> Value {
        var value = Value.other(range)
        walk(range) { n, r in
            switch n {
            case 1: value = .string(r.skipped())
            case 2: value = .bool(r.varint() != 0)
            case 3: value = .int(Int64(bitPattern: r.varint()))
            case 4: value = .double(Double(bitPattern: r.fixed64()))
            case 7: value = .bytes(r.skipped())
            default: r.skip()
            }
        }
        return value
    }

    // MARK: Checks

    private static func checkKeyValue(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) {
        var key = false
        var value = false
        try Reader.forEachField(buffer, range) { n, t, r throws(Unreadable) in
            switch (n, t) {
            case (1, .lengthDelimited):
                guard !key else { throw Unreadable() }
                key = true
                _ = try r.string()
            case (2, .lengthDelimited):
                guard !value else { throw Unreadable() }
                value = true
                try checkAnyValue(buffer, try r.lengthDelimited())
            case (3, .varint): _ = try r.varint()
            case (1...3, _): throw Unreadable()
            default: return false
            }
            return true
        }
    }

    /// At most one value; a string's UTF-8 checked. Arrays and key-value lists are left to swift-protobuf, which
    /// reads them when written (so they are decoded here once, to know that it will succeed).
    private static func checkAnyValue(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) {
        var values = 0
        var nested = false
        try Reader.forEachField(buffer, range) { n, t, r throws(Unreadable) in
            switch (n, t) {
            case (1, .lengthDelimited): _ = try r.string()
            case (2, .varint), (3, .varint), (8, .varint): _ = try r.varint()
            case (4, .fixed64): _ = try r.fixed64()
            case (7, .lengthDelimited): _ = try r.lengthDelimited()
            case (5, .lengthDelimited), (6, .lengthDelimited):
                nested = true
                _ = try r.lengthDelimited()
            case (1...8, _): throw Unreadable()
            default: return false
            }
            values += 1
            return true
        }
        guard values <= 1 else { throw Unreadable() }
        if nested {
            guard (try? AnyValue(serializedBytes: Data(UnsafeRawBufferPointer(rebasing: buffer[range])))) != nil else { throw Unreadable() }
        }
    }

    private static func checkEvent(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) {
        try Reader.forEachField(buffer, range) { n, t, r throws(Unreadable) in
            switch (n, t) {
            case (1, .fixed64): _ = try r.fixed64()
            case (2, .lengthDelimited): _ = try r.string()
            case (3, .lengthDelimited): try checkKeyValue(buffer, try r.lengthDelimited())
            case (4, .varint): _ = try r.varint()
            case (1...4, _): throw Unreadable()
            default: return false
            }
            return true
        }
    }

    private static func checkLink(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) {
        try Reader.forEachField(buffer, range) { n, t, r throws(Unreadable) in
            switch (n, t) {
            case (1, .lengthDelimited), (2, .lengthDelimited): _ = try r.lengthDelimited()
            case (3, .lengthDelimited): _ = try r.string()
            case (4, .lengthDelimited): try checkKeyValue(buffer, try r.lengthDelimited())
            case (5, .varint): _ = try r.varint()
            case (6, .fixed32): _ = try r.fixed32()
            case (1...6, _): throw Unreadable()
            default: return false
            }
            return true
        }
    }
}
