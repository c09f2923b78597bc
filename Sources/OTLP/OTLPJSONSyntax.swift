// A small JSON parser for the OTLP/JSON codec. It builds a tree that remembers where each value
// sits in the source bytes, so the codec can splice rewritten values into the original text and
// leave everything else byte for byte as it was (numbers keep their exact digits, strings their
// escapes).

/// A parsed JSON value and the range of source bytes it came from (quotes included for strings).
struct JSONNode: Sendable {
    enum Value: Sendable {
        /// Members in source order, duplicates kept.
        case object([JSONMember])
        case array([JSONNode])
        /// `hasEscapes` tells whether the raw text contains backslash escapes.
        case string(hasEscapes: Bool)
        /// The number's text is `source[range]`.
        case number
        case bool(Bool)
        case null
    }

    var range: Range<Int>
    var value: Value
}

/// One `"key": value` pair of a JSON object.
struct JSONMember: Sendable {
    /// The key, unescaped.
    var key: String
    /// The key's source range, quotes included.
    var keyRange: Range<Int>
    var node: JSONNode
}

/// Malformed JSON, at a byte offset of the input.
struct JSONSyntaxError: Error, Sendable {
    var offset: Int
    var message: String
}

/// A strict RFC 8259 parser (a leading UTF-8 byte order mark is skipped).
struct JSONParser {
    /// Arrays and objects nested deeper than this are rejected, so recursion stays bounded.
    static let maximumDepth = 512

    private let bytes: [UInt8]
    private var position = 0

    private init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Parses exactly one JSON value, surrounded by optional whitespace.
    static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONNode {
        var parser = JSONParser(bytes: bytes)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            parser.position = 3
        }
        parser.skipWhitespace()
        let node = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.count else {
            throw parser.error("unexpected \(parser.describeCurrentByte()) after the JSON value")
        }
        return node
    }

    // MARK: Values

    private mutating func parseValue(depth: Int) throws(JSONSyntaxError) -> JSONNode {
        guard position < bytes.count else { throw error("unexpected end of input, expected a value") }
        let start = position
        switch bytes[position] {
        case UInt8(ascii: "{"):
            return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["):
            return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""):
            let hasEscapes = try scanString()
            return JSONNode(range: start..<position, value: .string(hasEscapes: hasEscapes))
        case UInt8(ascii: "t"):
            try scanLiteral("true")
            return JSONNode(range: start..<position, value: .bool(true))
        case UInt8(ascii: "f"):
            try scanLiteral("false")
            return JSONNode(range: start..<position, value: .bool(false))
        case UInt8(ascii: "n"):
            try scanLiteral("null")
            return JSONNode(range: start..<position, value: .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try scanNumber()
            return JSONNode(range: start..<position, value: .number)
        default:
            throw error("unexpected \(describeCurrentByte()), expected a value")
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONSyntaxError) -> JSONNode {
        guard depth <= Self.maximumDepth else { throw error("nesting deeper than \(Self.maximumDepth) levels") }
        let start = position
        position += 1  // {
        var members: [JSONMember] = []
        skipWhitespace()
        if currentByte == UInt8(ascii: "}") {
            position += 1
            return JSONNode(range: start..<position, value: .object(members))
        }
        while true {
            skipWhitespace()
            guard currentByte == UInt8(ascii: "\"") else {
                throw error("unexpected \(describeCurrentByte()), expected a string key")
            }
            let keyStart = position
            let keyHasEscapes = try scanString()
            let keyRange = keyStart..<position
            skipWhitespace()
            guard currentByte == UInt8(ascii: ":") else {
                throw error("unexpected \(describeCurrentByte()), expected ':' after an object key")
            }
            position += 1
            skipWhitespace()
            let value = try parseValue(depth: depth)
            let key = JSONText.string(in: bytes, range: keyRange, hasEscapes: keyHasEscapes)
            members.append(JSONMember(key: key, keyRange: keyRange, node: value))
            skipWhitespace()
            switch currentByte {
            case UInt8(ascii: ","):
                position += 1
            case UInt8(ascii: "}"):
                position += 1
                return JSONNode(range: start..<position, value: .object(members))
            default:
                throw error("unexpected \(describeCurrentByte()), expected ',' or '}' in an object")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONSyntaxError) -> JSONNode {
        guard depth <= Self.maximumDepth else { throw error("nesting deeper than \(Self.maximumDepth) levels") }
        let start = position
        position += 1  // [
        var elements: [JSONNode] = []
        skipWhitespace()
        if currentByte == UInt8(ascii: "]") {
            position += 1
            return JSONNode(range: start..<position, value: .array(elements))
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            switch currentByte {
            case UInt8(ascii: ","):
                position += 1
            case UInt8(ascii: "]"):
                position += 1
                return JSONNode(range: start..<position, value: .array(elements))
            default:
                throw error("unexpected \(describeCurrentByte()), expected ',' or ']' in an array")
            }
        }
    }

    // MARK: Tokens

    /// Scans a string token starting at its opening quote; returns whether it contains escapes.
    private mutating func scanString() throws(JSONSyntaxError) -> Bool {
        position += 1  // opening quote
        var hasEscapes = false
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                return hasEscapes
            } else if byte == UInt8(ascii: "\\") {
                hasEscapes = true
                position += 1
                guard position < bytes.count else { break }
                switch bytes[position] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                    UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    position += 1
                case UInt8(ascii: "u"):
                    guard JSONText.hexQuad(in: bytes, at: position + 1) != nil else {
                        throw error("invalid \\u escape in a string")
                    }
                    position += 5
                default:
                    throw error("invalid escape sequence in a string")
                }
            } else if byte < 0x20 {
                throw error("unescaped control character in a string")
            } else {
                position += 1
            }
        }
        throw error("unterminated string")
    }

    private mutating func scanNumber() throws(JSONSyntaxError) {
        if currentByte == UInt8(ascii: "-") { position += 1 }
        guard isDigit(currentByte) else { throw error("invalid number") }
        if currentByte == UInt8(ascii: "0") {
            position += 1
        } else {
            while isDigit(currentByte) { position += 1 }
        }
        if currentByte == UInt8(ascii: ".") {
            position += 1
            guard isDigit(currentByte) else { throw error("invalid number: expected digits after '.'") }
            while isDigit(currentByte) { position += 1 }
        }
        if currentByte == UInt8(ascii: "e") || currentByte == UInt8(ascii: "E") {
            position += 1
            if currentByte == UInt8(ascii: "+") || currentByte == UInt8(ascii: "-") { position += 1 }
            guard isDigit(currentByte) else { throw error("invalid number: expected digits in the exponent") }
            while isDigit(currentByte) { position += 1 }
        }
    }

    private mutating func scanLiteral(_ literal: StaticString) throws(JSONSyntaxError) {
        let count = literal.utf8CodeUnitCount
        let matches = literal.withUTF8Buffer { expected in
            position + count <= bytes.count && bytes[position..<position + count].elementsEqual(expected)
        }
        guard matches else { throw error("unexpected \(describeCurrentByte()), expected a value") }
        position += count
    }

    // MARK: Helpers

    /// The byte at the current position, or 0 (never valid there) at the end of input.
    private var currentByte: UInt8 {
        position < bytes.count ? bytes[position] : 0
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                position += 1
            default:
                return
            }
        }
    }

    private func describeCurrentByte() -> String {
        guard position < bytes.count else { return "end of input" }
        let byte = bytes[position]
        if byte >= 0x21 && byte < 0x7F {
            return "character '\(Character(Unicode.Scalar(byte)))'"
        }
        return "byte 0x\(String(byte, radix: 16, uppercase: true))"
    }

    private func error(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError(offset: position, message: message)
    }
}

/// Helpers for the text of already-validated JSON tokens.
enum JSONText {
    /// The unescaped content of the string token at `range` (quotes included).
    static func string(in bytes: [UInt8], range: Range<Int>, hasEscapes: Bool) -> String {
        let content = (range.lowerBound + 1)..<(range.upperBound - 1)
        guard hasEscapes else { return String(decoding: bytes[content], as: UTF8.self) }
        return String(decoding: unescapedUTF8(in: bytes, content: content), as: UTF8.self)
    }

    /// The unescaped UTF-8 content of the string token at `range` (quotes included).
    static func utf8(in bytes: [UInt8], range: Range<Int>, hasEscapes: Bool) -> ArraySlice<UInt8> {
        let content = (range.lowerBound + 1)..<(range.upperBound - 1)
        guard hasEscapes else { return bytes[content] }
        return ArraySlice(unescapedUTF8(in: bytes, content: content))
    }

    /// Resolves the escapes in `bytes[content]`, which the parser has validated.
    private static func unescapedUTF8(in bytes: [UInt8], content: Range<Int>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(content.count)
        var index = content.lowerBound
        while index < content.upperBound {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "\\"), index + 1 < content.upperBound else {
                output.append(byte)
                index += 1
                continue
            }
            let escape = bytes[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "b"): output.append(0x08)
            case UInt8(ascii: "f"): output.append(0x0C)
            case UInt8(ascii: "n"): output.append(0x0A)
            case UInt8(ascii: "r"): output.append(0x0D)
            case UInt8(ascii: "t"): output.append(0x09)
            case UInt8(ascii: "u"):
                var scalarValue = hexQuad(in: bytes, at: index) ?? 0xFFFD
                index += 4
                if (0xD800..<0xDC00).contains(scalarValue), index + 6 <= content.upperBound,
                    bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u"),
                    let low = hexQuad(in: bytes, at: index + 2), (0xDC00..<0xE000).contains(low)
                {
                    scalarValue = 0x10000 + ((scalarValue - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                let scalar = Unicode.Scalar(scalarValue) ?? "\u{FFFD}"
                UTF8.encode(scalar) { output.append($0) }
            default:
                // \" \\ \/
                output.append(escape)
            }
        }
        return output
    }

    /// The value of four hex digits at `index`, or nil.
    static func hexQuad(in bytes: [UInt8], at index: Int) -> UInt32? {
        guard index >= 0, index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for offset in 0..<4 {
            guard let digit = hexDigitValue(bytes[index + offset]) else { return nil }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// The value of one hex digit (either case), or nil.
    static func hexDigitValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
