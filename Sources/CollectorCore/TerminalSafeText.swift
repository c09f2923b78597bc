/// Makes untrusted text (span names, service names, attribute keys and values: anything that came from the
/// network) safe to print on a terminal or in a log line: characters that could send terminal escape sequences,
/// forge or overwrite lines, or reorder what is shown become visible escapes.
///
/// Escaped by ``escape(_:)``:
/// - C0 controls: `\n`, `\r`, `\t`, the others as `\x1b` style (NUL is `\x00`), and DEL as `\x7f`;
/// - C1 controls (U+0080–U+009F) as `\u0085` style;
/// - bidirectional and line formatting controls: U+061C, U+200E, U+200F, U+2028, U+2029, U+202A–U+202E,
///   U+2066–U+2069, as `\u202e` style;
/// - the backslash itself, as `\\`, so every escape reads back unambiguously.
///
/// Everything else (printable ASCII, accented letters, CJK, emoji) is kept as it is. Text that needs no escaping
/// is returned without building a new string.
public enum TerminalSafeText {
    /// `text` with every unsafe character, and the backslash, replaced by a visible escape.
    public static func escape(_ text: String) -> String {
        guard needsEscaping(text, backslash: true) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x5C: out.append(contentsOf: #"\\"#.unicodeScalars)
            case 0x0A: out.append(contentsOf: #"\n"#.unicodeScalars)
            case 0x0D: out.append(contentsOf: #"\r"#.unicodeScalars)
            case 0x09: out.append(contentsOf: #"\t"#.unicodeScalars)
            case let v where v < 0x20 || v == 0x7F: appendEscape(#"\x"#, v, digits: 2, to: &out)
            case let v where isUnsafe(v): appendEscape(#"\u"#, v, digits: 4, to: &out)
            default: out.append(scalar)
            }
        }
        return String(out)
    }

    /// JSON text made safe the same way, but still JSON that decodes to the same values: every unsafe character
    /// becomes a `\u001b` style JSON escape and backslashes are kept (they already start the text's own escapes).
    /// For JSON from an encoder, which escapes C0 controls in strings but may pass DEL, C1 and bidi controls through.
    public static func escapeJSON(_ text: String) -> String {
        guard needsEscaping(text, backslash: false) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isUnsafe(scalar.value) {
                appendEscape(#"\u"#, scalar.value, digits: 4, to: &out)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// Whether ``escape(_:)`` would change `text`.
    public static func needsEscaping(_ text: String) -> Bool { needsEscaping(text, backslash: true) }

    /// Whether a scalar is a control or bidi/line formatting character (the backslash is not).
    static func isUnsafe(_ v: UInt32) -> Bool {
        switch v {
        case 0x00...0x1F, 0x7F...0x9F, 0x061C, 0x200E, 0x200F, 0x2028...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    /// A scan of the UTF-8 bytes (no decoding): unsafe characters are ASCII bytes below 0x20 or 0x7F, or one of a
    /// few two- and three-byte sequences (C2 80–9F; D8 9C; E2 80 8E/8F/A8–AE; E2 81 A6–A9).
    private static func needsEscaping(_ text: String, backslash: Bool) -> Bool {
        let scanned = text.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
            let n = bytes.count
            var i = 0
            while i < n {
                let b = bytes[i]
                if b < 0x80 {
                    if b < 0x20 || b == 0x7F || (backslash && b == 0x5C) { return true }
                } else if i + 1 < n {
                    let next = bytes[i + 1]
                    switch b {
                    case 0xC2 where next <= 0x9F: return true  // valid UTF-8: next is a continuation byte (≥ 0x80)
                    case 0xD8 where next == 0x9C: return true
                    case 0xE2 where i + 2 < n:
                        let last = bytes[i + 2]
                        if next == 0x80, last == 0x8E || last == 0x8F || (0xA8...0xAE).contains(last) { return true }
                        if next == 0x81, (0xA6...0xA9).contains(last) { return true }
                    default: break
                    }
                }
                i += 1
            }
            return false
        }
        if let scanned { return scanned }
        return text.unicodeScalars.contains { isUnsafe($0.value) || (backslash && $0 == "\\") }
    }

    private static func appendEscape(_ prefix: String, _ value: UInt32, digits: Int, to out: inout String.UnicodeScalarView) {
        out.append(contentsOf: prefix.unicodeScalars)
        let hex = String(value, radix: 16)
        out.append(contentsOf: String(repeating: "0", count: max(0, digits - hex.count)).unicodeScalars)
        out.append(contentsOf: hex.unicodeScalars)
    }
}
