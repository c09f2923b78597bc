/// Splits OTTL text into tokens: identifiers, string/number/bytes literals and punctuation.
struct OTTLLexer {
    enum Kind: Equatable {
        case identifier(String)
        case string(String)
        case int(Int64)
        case double(Double)
        case bytes([UInt8])
        case punctuation(String)
        case end
    }

    struct Token {
        var kind: Kind
        var offset: Int
    }

    static func tokens(_ text: String) throws(OTTLParseError) -> [Token] {
        let b = Array(text.utf8)
        var out: [Token] = []
        var i = 0
        func fail(_ at: Int, _ message: String) -> OTTLParseError { OTTLParseError(text: text, offset: at, message: message) }
        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
        func isIdentStart(_ c: UInt8) -> Bool { (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f }
        /// Whether a `-` or `+` at this point starts a signed number rather than being an operator.
        func signAllowed() -> Bool {
            guard let last = out.last else { return true }
            switch last.kind {
            case .identifier(let name): return ["where", "and", "or", "not"].contains(name)
            case .string, .int, .double, .bytes: return false
            case .punctuation(let p): return p != ")" && p != "]"
            case .end: return true
            }
        }
        while i < b.count {
            let c = b[i]
            if c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d {
                i += 1
                continue
            }
            let start = i
            if isIdentStart(c) {
                while i < b.count, isIdentStart(b[i]) || isDigit(b[i]) { i += 1 }
                out.append(Token(kind: .identifier(String(decoding: b[start..<i], as: UTF8.self)), offset: start))
                continue
            }
            if c == UInt8(ascii: "\"") {
                out.append(Token(kind: .string(try string(b, &i, text: text)), offset: start))
                continue
            }
            let signed =
                (c == UInt8(ascii: "-") || c == UInt8(ascii: "+")) && i + 1 < b.count
                && (isDigit(b[i + 1]) || b[i + 1] == UInt8(ascii: ".")) && signAllowed()
            if isDigit(c) || signed || (c == UInt8(ascii: ".") && i + 1 < b.count && isDigit(b[i + 1])) {
                if c == UInt8(ascii: "0"), i + 1 < b.count, b[i + 1] == UInt8(ascii: "x") || b[i + 1] == UInt8(ascii: "X") {
                    i += 2
                    let digits = i
                    while i < b.count, isIdentStart(b[i]) || isDigit(b[i]) { i += 1 }
                    guard i > digits, let bytes = OTTLHex.decode(String(decoding: b[digits..<i], as: UTF8.self)) else {
                        throw fail(start, "bytes literal must be 0x followed by an even number of hex digits")
                    }
                    out.append(Token(kind: .bytes(bytes), offset: start))
                    continue
                }
                if signed { i += 1 }
                while i < b.count, isDigit(b[i]) { i += 1 }
                var isFloat = false
                if i < b.count, b[i] == UInt8(ascii: ".") {
                    isFloat = true
                    i += 1
                    while i < b.count, isDigit(b[i]) { i += 1 }
                }
                if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
                    var j = i + 1
                    if j < b.count, b[j] == UInt8(ascii: "-") || b[j] == UInt8(ascii: "+") { j += 1 }
                    if j < b.count, isDigit(b[j]) {
                        isFloat = true
                        i = j
                        while i < b.count, isDigit(b[i]) { i += 1 }
                    }
                }
                let literal = String(decoding: b[start..<i], as: UTF8.self)
                if isFloat {
                    guard let d = Double(literal) else { throw fail(start, "invalid number \(literal)") }
                    out.append(Token(kind: .double(d), offset: start))
                } else {
                    guard let v = Int64(literal.hasPrefix("+") ? String(literal.dropFirst()) : literal) else {
                        throw fail(start, "integer \(literal) does not fit in 64 bits")
                    }
                    out.append(Token(kind: .int(v), offset: start))
                }
                continue
            }
            let two = i + 1 < b.count ? String(decoding: b[i...i + 1], as: UTF8.self) : ""
            if ["==", "!=", "<=", ">="].contains(two) {
                out.append(Token(kind: .punctuation(two), offset: start))
                i += 2
                continue
            }
            let one = String(decoding: [c], as: UTF8.self)
            if "()[]{},.=<>+-*/:".contains(one), c < 0x80 {
                out.append(Token(kind: .punctuation(one), offset: start))
                i += 1
                continue
            }
            throw fail(start, c < 0x80 ? "unexpected character '\(one)'" : "unexpected non-ASCII character outside a string")
        }
        out.append(Token(kind: .end, offset: b.count))
        return out
    }

    /// A double-quoted string with Go's escapes (`\"`, `\\`, `\n`, `\t`, `\r`, `\xHH`, `\uHHHH`, `\UHHHHHHHH`, …).
    private static func string(_ b: [UInt8], _ i: inout Int, text: String) throws(OTTLParseError) -> String {
        let start = i
        i += 1
        var out: [UInt8] = []
        while i < b.count {
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c != UInt8(ascii: "\\") {
                out.append(c)
                i += 1
                continue
            }
            guard i + 1 < b.count else { break }
            let e = b[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5c)
            case UInt8(ascii: "/"): out.append(0x2f)
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "a"): out.append(0x07)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "v"): out.append(0x0b)
            case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                let width = e == UInt8(ascii: "x") ? 2 : (e == UInt8(ascii: "u") ? 4 : 8)
                guard i + width <= b.count, let v = UInt32(String(decoding: b[i..<i + width], as: UTF8.self), radix: 16) else {
                    throw OTTLParseError(text: text, offset: i - 2, message: "invalid \\\(Character(Unicode.Scalar(e))) escape")
                }
                i += width
                if width == 2 {
                    out.append(UInt8(v))
                } else {
                    guard let scalar = Unicode.Scalar(v) else {
                        throw OTTLParseError(text: text, offset: i - width - 2, message: "escape is not a Unicode scalar")
                    }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                }
            default:
                throw OTTLParseError(text: text, offset: i - 2, message: "unknown escape sequence \\\(Character(Unicode.Scalar(e)))")
            }
        }
        throw OTTLParseError(text: text, offset: start, message: "string is not closed with \"")
    }
}
