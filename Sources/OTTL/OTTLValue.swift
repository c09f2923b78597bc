import CollectorCore
import Foundation
import OTLP

/// A value as OTTL sees it while a statement runs: what a path, a literal or a converter yields.
public enum OTTLValue: Sendable, Equatable {
    case null
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case bytes([UInt8])
    case map([KeyValue])
    case list([AnyValue])
    /// A point in time, in nanoseconds since the Unix epoch (`span.start_time`, `log.time`).
    case time(Int64)
    /// A span of time in nanoseconds (`end_time - start_time`, `Duration("3s")`).
    case duration(Int64)

    /// The value an attribute holds (an empty value is `nil`, as pdata's `Empty`).
    public init(_ value: AnyValue) {
        switch value.value {
        case .stringValue(let s)?: self = .string(s)
        case .intValue(let i)?: self = .int(i)
        case .doubleValue(let d)?: self = .double(d)
        case .boolValue(let b)?: self = .bool(b)
        case .bytesValue(let b)?: self = .bytes(Array(b))
        case .arrayValue(let a)?: self = .list(a.values)
        case .kvlistValue(let m)?: self = .map(m.values)
        case .stringValueStrindex, nil: self = .null
        }
    }

    /// The attribute value this stands for; nil for `nil`, times and durations (which no attribute can hold).
    public var anyValue: AnyValue? {
        var v = AnyValue()
        switch self {
        case .null, .time, .duration: return nil
        case .string(let s): v.stringValue = s
        case .int(let i): v.intValue = i
        case .double(let d): v.doubleValue = d
        case .bool(let b): v.boolValue = b
        case .bytes(let b): v.bytesValue = Data(b)
        case .map(let m):
            var list = Opentelemetry_Proto_Common_V1_KeyValueList()
            list.values = m
            v.kvlistValue = list
        case .list(let l):
            var array = Opentelemetry_Proto_Common_V1_ArrayValue()
            array.values = l
            v.arrayValue = array
        }
        return v
    }

    /// The type's name as error messages write it.
    public var typeName: String {
        switch self {
        case .null: return "nil"
        case .string: return "string"
        case .int: return "int"
        case .double: return "double"
        case .bool: return "bool"
        case .bytes: return "bytes"
        case .map: return "map"
        case .list: return "list"
        case .time: return "time"
        case .duration: return "duration"
        }
    }

    /// The text OTTL's string-like arguments take (`Concat`, `String`): strings as they are, bytes in lower-case
    /// hex, numbers and bools as Go's strconv writes them, maps and lists as JSON; nil for `nil`, times and
    /// durations.
    public var stringLike: String? {
        switch self {
        case .null, .time, .duration: return nil
        case .string(let s): return s
        case .bytes(let b): return OTTLHex.encode(b)
        case .int(let i): return String(i)
        case .double(let d): return AttributeValueText.formatFixed(d)
        case .bool(let b): return b ? "true" : "false"
        case .map, .list: return anyValue.map(AttributeValueText.asString)
        }
    }

    // MARK: - Comparison (OTTL's comparison rules)

    /// Compares as OTTL does: numbers across int and double, strings, bytes, times and durations in order; bools,
    /// maps and lists for equality only; `nil` equals only `nil`. Values of different types are unequal and never
    /// ordered.
    public static func compare(_ lhs: OTTLValue, _ op: OTTLComparison, _ rhs: OTTLValue) -> Bool {
        func ordered<T: Comparable>(_ a: T, _ b: T) -> Bool {
            switch op {
            case .equal: return a == b
            case .notEqual: return a != b
            case .less: return a < b
            case .lessOrEqual: return a <= b
            case .greater: return a > b
            case .greaterOrEqual: return a >= b
            }
        }
        func equality(_ equal: Bool) -> Bool {
            switch op {
            case .equal: return equal
            case .notEqual: return !equal
            default: return false
            }
        }
        switch (lhs, rhs) {
        case (.int(let a), .int(let b)): return ordered(a, b)
        case (.double(let a), .double(let b)): return ordered(a, b)
        case (.int(let a), .double(let b)): return ordered(Double(a), b)
        case (.double(let a), .int(let b)): return ordered(a, Double(b))
        case (.string(let a), .string(let b)): return ordered(byteOrder(a.utf8, b.utf8), 0)
        case (.bytes(let a), .bytes(let b)): return ordered(byteOrder(a, b), 0)
        case (.time(let a), .time(let b)): return ordered(a, b)
        case (.duration(let a), .duration(let b)): return ordered(a, b)
        case (.bool(let a), .bool(let b)): return equality(a == b)
        case (.map, .map), (.list, .list): return equality(lhs == rhs)
        case (.null, .null): return equality(true)
        default: return equality(false)
        }
    }
}

/// -1, 0 or 1 as `a` sorts before, equal to or after `b`, byte for byte (Go's string and bytes order).
private func byteOrder(_ a: some Sequence<UInt8>, _ b: some Sequence<UInt8>) -> Int {
    var i = a.makeIterator()
    var j = b.makeIterator()
    while true {
        switch (i.next(), j.next()) {
        case (nil, nil): return 0
        case (nil, _): return -1
        case (_, nil): return 1
        case (let x?, let y?): if x != y { return x < y ? -1 : 1 }
        }
    }
}

/// A comparison operator of a `where` clause.
public enum OTTLComparison: String, Sendable {
    case equal = "=="
    case notEqual = "!="
    case less = "<"
    case lessOrEqual = "<="
    case greater = ">"
    case greaterOrEqual = ">="
}

/// Lower-case hex, as OTTL writes IDs and bytes.
enum OTTLHex {
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of an even-length hex string (either case); nil when it is not one.
    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
