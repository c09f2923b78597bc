import OTLP

/// `ParseJSON`'s reader: JSON text into attribute values as otelcol maps them (numbers → double, `null` → an
/// empty value, arrays → lists, objects → maps). Nesting is bounded; anything malformed is an error.
enum OTTLJSON {
    static let maxDepth = 64

    static func parse(_ text: String) throws -> AnyValue {
        var reader = Reader(bytes: Array(text.utf8))
        reader.skipSpace()
        let v = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.i == reader.bytes.count else { throw reader.fail("unexpected text after the JSON value") }
        return v
    }

    private struct Reader {
        let bytes: [UInt8]
        var i = 0

        func fail(_ message: String) -> OTTLRuntimeError { OTTLRuntimeError("invalid JSON at byte \(i): \(message)") }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0a || bytes[i] == 0x0d { i += 1 }
        }

        mutating func literal(_ word: String) -> Bool {
            let w = Array(word.utf8)
            guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { return false }
            i += w.count
            return true
        }

        mutating func value(depth: Int) throws -> AnyValue {
            guard depth < OTTLJSON.maxDepth else { throw fail("nested deeper than \(OTTLJSON.maxDepth) levels") }
            guard i < bytes.count else { throw fail("unexpected end") }
            var v = AnyValue()
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var list = Opentelemetry_Proto_Common_V1_KeyValueList()
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
                    i += 1
                    v.kvlistValue = list
                    return v
                }
                while true {
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                    var kv = KeyValue()
                    kv.key = try string()
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    i += 1
                    skipSpace()
                    kv.value = try value(depth: depth + 1)
                    if let existing = list.values.firstIndex(where: { $0.key == kv.key }) {
                        list.values[existing].value = kv.value
                    } else {
                        list.values.append(kv)
                    }
                    skipSpace()
                    guard i < bytes.count else { throw fail("unexpected end") }
                    if bytes[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    guard bytes[i] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
                    i += 1
                    break
                }
                v.kvlistValue = list
            case UInt8(ascii: "["):
                i += 1
                var array = Opentelemetry_Proto_Common_V1_ArrayValue()
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
                    i += 1
                    v.arrayValue = array
                    return v
                }
                while true {
                    skipSpace()
                    array.values.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < bytes.count else { throw fail("unexpected end") }
                    if bytes[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    guard bytes[i] == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
                    i += 1
                    break
                }
                v.arrayValue = array
            case UInt8(ascii: "\""): v.stringValue = try string()
            case UInt8(ascii: "t"):
                guard literal("true") else { throw fail("invalid literal") }
                v.boolValue = true
            case UInt8(ascii: "f"):
                guard literal("false") else { throw fail("invalid literal") }
                v.boolValue = false
            case UInt8(ascii: "n"):
                guard literal("null") else { throw fail("invalid literal") }
            default:
                let start = i
                if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
                while i < bytes.count,
                    (0x30...0x39).contains(bytes[i]) || bytes[i] == UInt8(ascii: ".")
                        || bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") || bytes[i] == UInt8(ascii: "+")
                        || bytes[i] == UInt8(ascii: "-")
                {
                    i += 1
                }
                guard i > start, let d = Double(String(decoding: bytes[start..<i], as: UTF8.self)), d.isFinite else {
                    throw fail("invalid number")
                }
                v.doubleValue = d
            }
            return v
        }

        mutating func string() throws -> String {
            i += 1
            var out: [UInt8] = []
            while i < bytes.count {
                let c = bytes[i]
                i += 1
                if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                guard c >= 0x20 else { throw fail("control character in a string") }
                guard c == UInt8(ascii: "\\") else {
                    out.append(c)
                    continue
                }
                guard i < bytes.count else { break }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar), i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") {
                        i += 2
                        let low = try hex4()
                        if (0xDC00...0xDFFF).contains(low) { scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00) } else { scalar = 0xFFFD }
                    }
                    let s = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                    out.append(contentsOf: Array(String(Character(s)).utf8))
                default: throw fail("invalid escape")
                }
            }
            throw fail("string is not closed")
        }

        mutating func hex4() throws -> UInt32 {
            guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16) else {
                throw fail("invalid \\u escape")
            }
            i += 4
            return v
        }
    }
}
