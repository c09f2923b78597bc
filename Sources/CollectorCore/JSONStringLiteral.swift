/// Text as a JSON string literal: quotes, backslashes and control characters escaped (`\n`, `\r`, `\t`, `\u00XX`),
/// everything else as it is. For small JSON written by hand (log lines, label values); documents go through an
/// encoder.
public enum JSONStringLiteral {
    public static func append(_ text: String, to out: inout String) {
        out += "\""
        for c in text.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
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
}
