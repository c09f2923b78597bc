/// A LogQL token, with its 1-based line and column (in characters, as Go's `text/scanner` counts them).
struct LogQLToken: Sendable {
    enum Kind: Sendable, Equatable {
        case identifier, string, number, duration, bytes
        /// `[5m]`: `nanos` holds the duration.
        case range
        /// An operator or punctuation: `text` holds it.
        case symbol
        case end
        /// A lexical error (unterminated string, bad escape, bad range): `text` holds the message. The parser
        /// reports it when it gets there, so errors come out in the order of the text.
        case invalid
    }

    var kind: Kind
    /// The identifier, the string's value (unquoted), the number's text, the symbol.
    var text: String
    var nanos: Int64 = 0
    var line: Int
    var column: Int
    /// An identifier followed by `(`, or by `by (` / `without (`: a function name where Loki expects one.
    var isCall = false

    func isSymbol(_ s: String) -> Bool { kind == .symbol && text == s }

    /// An identifier equal to `word` ignoring case (Loki's keywords are case-insensitive).
    func isKeyword(_ word: String) -> Bool { kind == .identifier && text.lowercased() == word }

    /// The token's name in a syntax error, as Loki's yacc parser names it.
    var displayName: String {
        switch kind {
        case .identifier:
            let lower = text.lowercased()
            if LogQLLexer.keywords.contains(lower) { return lower }
            if isCall, let name = LogQLLexer.functionTokenNames[lower] { return name }
            return "IDENTIFIER"
        case .string: return "STRING"
        case .number: return "NUMBER"
        case .duration: return "DURATION"
        case .bytes: return "BYTES"
        case .range: return "RANGE"
        case .symbol: return text
        case .end: return "$end"
        case .invalid: return text
        }
    }
}

/// Splits LogQL text into tokens the way Loki's lexer does: `#` comments, Go string literals (double-quoted with
/// escapes, or backquoted raw), numbers with duration or byte units, `[range]` as one token.
struct LogQLLexer {
    /// Words that are keywords everywhere (Loki's `tokens`); a syntax error names them in lower case.
    static let keywords: Set<String> = [
        "by", "without", "bool", "label_replace", "offset", "on", "ignoring", "group_left", "group_right",
        "or", "and", "unless", "json", "regexp", "logfmt", "unpack", "pattern", "label_format", "line_format",
        "ip", "decolorize", "drop", "keep", "unwrap",
    ]

    /// Words that are function names when a call follows (Loki's `functionTokens`), with their yacc names.
    static let functionTokenNames: [String: String] = {
        var names: [String: String] = [:]
        for f in [
            "rate", "rate_counter", "count_over_time", "bytes_rate", "bytes_over_time", "avg_over_time", "sum_over_time",
            "min_over_time", "max_over_time", "stdvar_over_time", "stddev_over_time", "quantile_over_time",
            "first_over_time", "last_over_time", "absent_over_time", "vector", "sum", "avg", "max", "min", "count",
            "stddev", "stdvar", "bottomk", "topk", "sort", "sort_desc", "approx_topk",
        ] {
            names[f] = f.uppercased()
        }
        names["bytes"] = "BYTES_CONV"
        names["duration"] = "DURATION_CONV"
        names["duration_seconds"] = "DURATION_SECONDS_CONV"
        return names
    }()

    private let chars: [Unicode.Scalar]
    private var i = 0
    private var line = 1
    private var column = 1

    init(_ text: String) {
        chars = Array(text.unicodeScalars)
    }

    /// All tokens, ending with `.end` or, at the first lexical error, `.invalid`.
    static func tokenize(_ text: String) -> [LogQLToken] {
        var lexer = LogQLLexer(text)
        var tokens: [LogQLToken] = []
        while true {
            let t = lexer.next()
            tokens.append(t)
            if t.kind == .end || t.kind == .invalid { break }
        }
        // A function name is one where a call follows.
        for k in tokens.indices where tokens[k].kind == .identifier {
            let after = k + 1 < tokens.count ? tokens[k + 1] : nil
            if after?.isSymbol("(") == true {
                tokens[k].isCall = true
            } else if let after, after.isKeyword("by") || after.isKeyword("without"), k + 2 < tokens.count, tokens[k + 2].isSymbol("(") {
                tokens[k].isCall = true
            }
        }
        return tokens
    }

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        i + offset < chars.count ? chars[i + offset] : nil
    }

    private mutating func advance() {
        guard i < chars.count else { return }
        if chars[i] == "\n" {
            line += 1
            column = 1
        } else {
            column += 1
        }
        i += 1
    }

    private mutating func next() -> LogQLToken {
        // Whitespace and comments.
        while let c = peek() {
            if c.properties.isWhitespace {
                advance()
            } else if c == "#" {
                while let d = peek(), d != "\n" { advance() }
            } else {
                break
            }
        }
        let startLine = line
        let startColumn = column
        func token(_ kind: LogQLToken.Kind, _ text: String, nanos: Int64 = 0) -> LogQLToken {
            LogQLToken(kind: kind, text: text, nanos: nanos, line: startLine, column: startColumn)
        }
        func invalid(_ message: String) -> LogQLToken { token(.invalid, message) }
        guard let c = peek() else { return token(.end, "") }

        if Self.isIdentifierStart(c) {
            var name = ""
            while let d = peek(), Self.isIdentifierStart(d) || Self.isDigit(d) {
                name.unicodeScalars.append(d)
                advance()
            }
            return token(.identifier, name)
        }
        if Self.isDigit(c) || (c == "." && peek(1).map(Self.isDigit) == true) {
            return lexNumber(token)
        }
        switch c {
        case "\"":
            switch lexQuoted() {
            case .success(let s): return token(.string, s)
            case .failure(let e): return invalidAt(e)
            }
        case "`":
            advance()
            var s = ""
            while true {
                guard let d = peek() else { return invalid("literal not terminated") }
                advance()
                if d == "`" { break }
                if d != "\r" { s.unicodeScalars.append(d) }  // Go drops carriage returns from raw strings
            }
            return token(.string, s)
        case "[":
            advance()
            var body = ""
            while true {
                guard let d = peek() else { return invalid("missing closing ']' in duration") }
                advance()
                if d == "]" { break }
                body.unicodeScalars.append(d)
            }
            switch PrometheusDuration.parse(body) {
            case .success(let n): return token(.range, "[\(body)]", nanos: n)
            case .failure(let e): return invalid(e.description)
            }
        default:
            break
        }
        let two = peek(1).map { String(c) + String($0) }
        if let two, Self.twoCharSymbols.contains(two) {
            advance()
            advance()
            return token(.symbol, two)
        }
        if Self.oneCharSymbols.contains(c) {
            advance()
            return token(.symbol, String(c))
        }
        return invalid("syntax error: unexpected character \(PrometheusDuration.goQuoted(String(c)))")
    }

    static let twoCharSymbols: Set<String> = ["!=", "=~", "!~", "!>", "|=", "|~", "|>", "==", ">=", "<="]
    static let oneCharSymbols: Set<Unicode.Scalar> = [",", ".", "{", "}", "=", "|", "(", ")", "[", "]", "+", "-", "*", "/", "%", "^", ">", "<"]

    static func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_"
    }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }

    /// A number, or a duration (`5m`, `1.5h`) or byte size (`10KiB`) when units follow it directly.
    private mutating func lexNumber(_ token: (LogQLToken.Kind, String, Int64) -> LogQLToken) -> LogQLToken {
        var text = ""
        func take(_ p: (Unicode.Scalar) -> Bool) {
            while let d = peek(), p(d) {
                text.unicodeScalars.append(d)
                advance()
            }
        }
        if peek() == "0", let x = peek(1), x == "x" || x == "X" {
            text = "0x"
            advance()
            advance()
            take { $0.properties.isASCIIHexDigit }
            return token(.number, text, 0)
        }
        take(Self.isDigit)
        if peek() == "." {
            text += "."
            advance()
            take(Self.isDigit)
        }
        if let e = peek(), e == "e" || e == "E", let after = peek(1),
            Self.isDigit(after) || ((after == "+" || after == "-") && peek(2).map(Self.isDigit) == true)
        {
            text.unicodeScalars.append(e)
            advance()
            if peek() == "+" || peek() == "-" {
                text.unicodeScalars.append(peek() ?? "+")
                advance()
            }
            take(Self.isDigit)
        }
        // Units directly after the number (Loki's tryScanDuration / tryScanBytes).
        let durationRunes: Set<Unicode.Scalar> = ["n", "u", "µ", "m", "s", "h", "d", "w", "y", "."]
        var unit = ""
        var k = 0
        while let d = peek(k), Self.isDigit(d) || durationRunes.contains(d) {
            unit.unicodeScalars.append(d)
            k += 1
        }
        if !unit.isEmpty {
            let whole = text + unit
            let nanos: Int64? =
                switch PrometheusDuration.parse(whole) {
                case .success(let n): n
                case .failure: QueryValues.goDuration(whole)
                }
            if let nanos {
                for _ in 0..<k { advance() }
                return token(.duration, whole, nanos)
            }
        }
        let byteRunes: Set<Unicode.Scalar> = ["B", "i", "k", "K", "M", "G", "T", "P", "."]
        unit = ""
        k = 0
        while let d = peek(k), Self.isDigit(d) || byteRunes.contains(d) {
            unit.unicodeScalars.append(d)
            k += 1
        }
        if !unit.isEmpty, Self.byteUnits.contains(String(String.UnicodeScalarView(unit.unicodeScalars.drop { Self.isDigit($0) || $0 == "." }))) {
            for _ in 0..<k { advance() }
            return token(.bytes, text + unit, 0)
        }
        return token(.number, text, 0)
    }

    static let byteUnits: Set<String> = [
        "B", "kB", "KB", "KiB", "MB", "MiB", "GB", "GiB", "TB", "TiB", "PB", "PiB",
        "k", "K", "Ki", "M", "Mi", "G", "Gi", "T", "Ti", "P", "Pi",
    ]

    private var errorLine = 0, errorColumn = 0

    private func invalidAt(_ e: LogQLError) -> LogQLToken {
        LogQLToken(kind: .invalid, text: e.description, line: errorLine, column: errorColumn)
    }

    /// A double-quoted Go string literal, unquoted. Errors carry the position of the problem.
    private mutating func lexQuoted() -> Result<String, LogQLError> {
        let openLine = line
        let openColumn = column
        advance()
        var bytes: [UInt8] = []
        func fail(_ message: String, _ l: Int, _ c: Int) -> Result<String, LogQLError> {
            errorLine = l
            errorColumn = c
            return .failure(LogQLError(.parse, message))
        }
        while true {
            guard let c = peek(), c != "\n" else { return fail("literal not terminated", openLine, openColumn) }
            if c == "\"" {
                advance()
                break
            }
            if c != "\\" {
                bytes.append(contentsOf: Array(String(c).utf8))
                advance()
                continue
            }
            let escLine = line
            let escColumn = column
            advance()
            guard let e = peek() else { return fail("literal not terminated", openLine, openColumn) }
            advance()
            switch e {
            case "a": bytes.append(7)
            case "b": bytes.append(8)
            case "f": bytes.append(12)
            case "n": bytes.append(10)
            case "r": bytes.append(13)
            case "t": bytes.append(9)
            case "v": bytes.append(11)
            case "\\": bytes.append(0x5C)
            case "\"": bytes.append(0x22)
            case "0"..."7":
                var value = e.value - 48
                for _ in 0..<2 {
                    guard let d = peek(), d >= "0", d <= "7" else { return fail("invalid char escape", escLine, escColumn) }
                    value = value * 8 + (d.value - 48)
                    advance()
                }
                guard value <= 255 else { return fail("octal escape value > 255", escLine, escColumn) }
                bytes.append(UInt8(value))
            case "x", "u", "U":
                let width = e == "x" ? 2 : e == "u" ? 4 : 8
                var value: UInt32 = 0
                for _ in 0..<width {
                    guard let d = peek(), let h = d.properties.isASCIIHexDigit ? UInt32(String(d), radix: 16) : nil else {
                        return fail("invalid char escape", escLine, escColumn)
                    }
                    value = value &* 16 &+ h
                    advance()
                }
                if e == "x" {
                    bytes.append(UInt8(truncatingIfNeeded: value))
                } else {
                    guard let scalar = Unicode.Scalar(value) else {
                        return fail("escape sequence is invalid Unicode code point", escLine, escColumn)
                    }
                    bytes.append(contentsOf: Array(String(scalar).utf8))
                }
            default:
                return fail("invalid char escape", escLine, escColumn)
            }
        }
        guard let s = String(validating: bytes, as: UTF8.self) else {
            return fail("invalid UTF-8 encoding", openLine, openColumn)
        }
        return .success(s)
    }
}
