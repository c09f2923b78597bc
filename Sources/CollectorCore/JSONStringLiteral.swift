/// Text as a JSON string literal: quotes, backslashes and control characters escaped (`\n`, `\r`, `\t`, `\u00XX`),
/// everything else as it is. For small JSON written by hand (log lines, label values); documents go through an
/// encoder.
public enum JSONStringLiteral {
    /// Appends `text` quoted. `htmlSafe` also escapes `<`, `>`, `&`, U+2028 and U+2029 as `\u003c`… the way Go's
    /// encoding/json does by default (pdata's text for map and list values).
    public static func append(_ text: String, to out: inout String, htmlSafe: Bool = false) {
        out += "\""
        for c in text.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                if htmlSafe { appendEscaped(c, to: &out) } else { out.unicodeScalars.append(c) }
            case _ where c.value < 0x20: appendEscaped(c, to: &out)
            default: out.unicodeScalars.append(c)
            }
        }
        out += "\""
    }

    public static func quoted(_ text: String) -> String {
        var out = ""
        append(text, to: &out)
        return out
    }

    /// A `\u` escape: four lower-case hex digits.
    private static func appendEscaped(_ c: Unicode.Scalar, to out: inout String) {
        let hex = String(c.value, radix: 16)
        out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
