import Foundation

/// Reads attributes (`KeyValue`s) straight from protobuf bytes an index such as ``EncodedTraces`` has already
/// checked, for consumers that look at a few attributes of many spans (the `servicegraph` connector) without
/// decoding the request.
///
/// Keys and values are reported as byte ranges into the buffer; ``text(_:_:)`` turns a scalar value into text
/// only when the caller wants it. Bytes that do not parse end the walk early (never for ranges an index recorded).
public enum EncodedAttributes {
    /// Calls `body` with the key range and the `AnyValue` range (nil when absent) of every `KeyValue` stored as
    /// field `field` of the message in `buffer[message]`, in order (field 9 for a `Span`, 1 for a `Resource`).
    @inline(__always)
    public static func forEach(
        in buffer: UnsafeRawBufferPointer, message: Range<Int>, field: UInt64,
        _ body: (_ key: Range<Int>, _ value: Range<Int>?) -> Void
    ) {
        var r = ProtobufWireReader(buffer, message)
        do {
            while !r.isAtEnd {
                let f = try r.field()
                guard f.number == field, f.type == .lengthDelimited else {
                    try r.skip(f.type)
                    continue
                }
                let kv = try r.lengthDelimited()
                var key = kv.lowerBound..<kv.lowerBound
                var value: Range<Int>?
                var inner = ProtobufWireReader(buffer, kv)
                while !inner.isAtEnd {
                    let g = try inner.field()
                    switch (g.number, g.type) {
                    case (1, .lengthDelimited): key = try inner.lengthDelimited()
                    case (2, .lengthDelimited): value = try inner.lengthDelimited()
                    default: try inner.skip(g.type)
                    }
                }
                body(key, value)
            }
        } catch {
            return
        }
    }

    /// Calls `body` for every attribute of the resource of a ``EncodedTraces/ResourceEntry/key`` (a
    /// `ResourceSpans` without its scope spans).
    public static func forEachResourceAttribute(
        inResourceSpansKey buffer: UnsafeRawBufferPointer, _ body: (_ key: Range<Int>, _ value: Range<Int>?) -> Void
    ) {
        var r = ProtobufWireReader(buffer, 0..<buffer.count)
        do {
            while !r.isAtEnd {
                let f = try r.field()
                guard f.number == 1, f.type == .lengthDelimited else {
                    try r.skip(f.type)
                    continue
                }
                forEach(in: buffer, message: try r.lengthDelimited(), field: 1, body)
            }
        } catch {
            return
        }
    }

    /// The `AnyValue` in `buffer[value]` as text, as otelcol's `AsString` gives scalars: a string as it is, a bool
    /// as `true`/`false`, an int in decimal, a double in decimal (integral values without a fraction). Nil for
    /// other kinds (bytes, arrays, maps) and an empty value.
    public static func text(_ buffer: UnsafeRawBufferPointer, _ value: Range<Int>) -> String? {
        var r = ProtobufWireReader(buffer, value)
        var out: String?
        do {
            while !r.isAtEnd {
                let f = try r.field()
                switch (f.number, f.type) {
                case (1, .lengthDelimited):
                    let s = try r.lengthDelimited()
                    out = String(decoding: UnsafeRawBufferPointer(rebasing: buffer[s]), as: UTF8.self)
                case (2, .varint): out = try r.varint() != 0 ? "true" : "false"
                case (3, .varint): out = String(Int64(bitPattern: try r.varint()))
                case (4, .fixed64): out = doubleText(Double(bitPattern: try r.fixed64()))
                case (5...7, _):
                    try r.skip(f.type)
                    out = nil
                default: try r.skip(f.type)
                }
            }
        } catch {
            return nil
        }
        return out
    }

    /// A double as otelcol writes it in text: integral values without a fraction.
    public static func doubleText(_ d: Double) -> String {
        d.rounded() == d && abs(d) < 1e15 ? String(Int64(d)) : String(d)
    }

    /// Whether `buffer[range]` holds exactly the bytes of `text`.
    @inline(__always)
    public static func equals(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>, _ text: UnsafeRawBufferPointer) -> Bool {
        guard range.count == text.count else { return false }
        guard range.count > 0, let a = buffer.baseAddress, let b = text.baseAddress else { return range.count == 0 }
        return memcmp(a + range.lowerBound, b, range.count) == 0
    }
}
