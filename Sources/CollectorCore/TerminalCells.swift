/// How many terminal cells text takes, and text fitted into a number of cells, for columns that line up whatever
/// the script: East Asian wide and fullwidth characters (CJK, Hangul, fullwidth forms) and emoji take two cells,
/// combining marks and zero-width characters none, everything else one — per grapheme cluster, as terminals draw
/// them (an emoji ZWJ sequence or a flag is one two-cell picture). Meant for text already made safe with
/// ``TerminalSafeText`` (no control characters).
public enum TerminalCells {
    /// The cells `text` takes.
    public static func width(_ text: String) -> Int {
        var total = 0
        for c in text { total += width(c) }
        return total
    }

    /// The cells one grapheme cluster takes: 0, 1 or 2.
    public static func width(_ c: Character) -> Int {
        if c.isASCII { return c.asciiValue.map { $0 >= 0x20 && $0 != 0x7F ? 1 : 0 } ?? 1 }  // "\r\n" is one Character
        let scalars = c.unicodeScalars
        guard let first = scalars.first else { return 0 }
        let props = first.properties
        // Emoji drawn as pictures: emoji presentation by default, or asked for with VS16, and keycap/flag sequences.
        if props.isEmojiPresentation || (props.isEmoji && scalars.contains(where: { $0.value == 0xFE0F })) { return 2 }
        if (0x1F1E6...0x1F1FF).contains(first.value) { return scalars.count >= 2 ? 2 : 1 }
        switch props.generalCategory {
        case .nonspacingMark, .enclosingMark, .format, .control, .lineSeparator, .paragraphSeparator:
            // A cluster that starts with a mark (a mark with no base) or a zero-width character.
            return 0
        default:
            return isWide(first.value) ? 2 : 1
        }
    }

    /// East Asian Wide (W) and Fullwidth (F) ranges of Unicode's EastAsianWidth.txt (the blocks text uses;
    /// emoji are decided by their presentation property above).
    static func isWide(_ v: UInt32) -> Bool {
        switch v {
        case 0x1100...0x115F, 0x231A...0x231B, 0x2329...0x232A, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF,
            0x4E00...0x9FFF, 0xA000...0xA4CF, 0xA960...0xA97F, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19,
            0xFE30...0xFE6F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x16FE0...0x16FE4, 0x17000...0x18CFF, 0x1AFF0...0x1B2FF,
            0x1F200...0x1F2FF, 0x20000...0x2FFFD, 0x30000...0x3FFFD:
            return true
        default:
            return false
        }
    }

    /// `text` in at most `cells` cells: as it is when it fits, else shortened in the middle with `…` (the start and
    /// the end usually say most: `checkout: GET /api/…/items/{id}`).
    public static func fit(_ text: String, _ cells: Int) -> String {
        guard cells > 0 else { return "" }
        let w = width(text)
        guard w > cells else { return text }
        guard cells > 1 else { return "…" }
        let budget = cells - 1
        let headCells = (budget + 1) / 2
        let tailCells = budget - headCells
        var head = ""
        var used = 0
        for c in text {
            let cw = width(c)
            if used + cw > headCells { break }
            head.append(c)
            used += cw
        }
        var tail: [Character] = []
        used = 0
        for c in text.reversed() {
            let cw = width(c)
            if used + cw > tailCells { break }
            tail.append(c)
            used += cw
        }
        return head + "…" + String(tail.reversed())
    }

    /// `text` in at most `cells` cells, cut at the end with `…` when it does not fit (for free text such as a log
    /// line, whose start matters most).
    public static func prefix(_ text: String, _ cells: Int) -> String {
        guard cells > 0 else { return "" }
        guard width(text) > cells else { return text }
        var out = ""
        var used = 0
        for c in text {
            let cw = width(c)
            if used + cw > cells - 1 { break }
            out.append(c)
            used += cw
        }
        return out + "…"
    }

    /// `text` followed by spaces up to `cells` cells (as it is when it is already that wide).
    public static func padded(_ text: String, _ cells: Int) -> String {
        text + String(repeating: " ", count: max(0, cells - width(text)))
    }

    /// Spaces, then `text`, up to `cells` cells.
    public static func leftPadded(_ text: String, _ cells: Int) -> String {
        String(repeating: " ", count: max(0, cells - width(text))) + text
    }
}
