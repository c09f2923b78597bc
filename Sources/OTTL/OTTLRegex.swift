import CollectorCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A regular expression of an OTTL function: matched as Go's `regexp.MatchString` (``AttributeRegex``, with its
/// plain-text fast paths) and replaced as `ReplaceAllString` with Go's template syntax (`$1`, `${1}`, `${name}`,
/// `$$`).
struct OTTLRegex: @unchecked Sendable {
    // @unchecked: NSRegularExpression is immutable once built and safe to use from any thread.
    let matcher: AttributeRegex
    private let icu: NSRegularExpression
    private let groupNames: [String?]
    /// The pattern's bytes when it is plain text (no regex syntax), so replacing can skip ICU.
    private let literal: [UInt8]?

    init(_ pattern: String) throws {
        matcher = try AttributeRegex(pattern)
        let scanned = try AttributeRegex.scan(pattern)
        groupNames = scanned.groupNames
        icu = try NSRegularExpression(pattern: scanned.icuPattern)
        let syntax = Set("\\.+*?()|[]{}^$".utf8)
        literal = !pattern.isEmpty && !pattern.utf8.contains(where: syntax.contains) ? Array(pattern.utf8) : nil
    }

    func matches(_ text: String) -> Bool { matcher.matches(text) }

    /// Each match: the whole match's range first, then each group's (nil when the group took no part).
    func allMatches(in text: String) -> [[Range<String.Index>?]] {
        icu.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { m in
            (0..<m.numberOfRanges).map { Range(m.range(at: $0), in: text) }
        }
    }

    /// Every match replaced by `template` expanded with that match's groups.
    func replaceAll(in text: String, template: String) -> String {
        replacingAll(in: text, template: template) ?? text
    }

    /// Every match replaced by `template` expanded with that match's groups; nil when nothing matches, so that a
    /// caller can leave the value as it is without scanning it a second time.
    /// ``replacingAll(in:template:)`` with `template` fixed, decided once: nil unless the pattern is plain text and
    /// the template has no `$` (then every match becomes the template, found with `memchr` / `memcmp`).
    func literalReplacer(template: String) -> (@Sendable (String) -> String?)? {
        guard let literal, !template.utf8.contains(UInt8(ascii: "$")) else { return nil }
        return { Self.replace(literal, with: template, in: $0) }
    }

    func replacingAll(in text: String, template: String) -> String? {
        if let literal, !template.utf8.contains(UInt8(ascii: "$")) { return Self.replace(literal, with: template, in: text) }
        let matches = allMatches(in: text)
        guard !matches.isEmpty else { return nil }
        var out = ""
        var last = text.startIndex
        for m in matches {
            guard let whole = m[0] else { continue }
            out += text[last..<whole.lowerBound]
            out += expand(template, match: m, in: text)
            last = whole.upperBound
        }
        out += text[last...]
        return out
    }

    /// Every non-overlapping occurrence of `needle` (from the left) replaced, byte for byte as Go's
    /// `strings.ReplaceAll` does, without Foundation (whose bridging costs microseconds per call); nil when there
    /// is none. Occurrences are found with `memchr` and `memcmp`; the result is written once, at its final size.
    static func replace(_ needle: [UInt8], with replacement: String, in text: String) -> String? {
        guard !needle.isEmpty else { return nil }
        var text = text
        text.makeContiguousUTF8()
        var replacement = replacement
        replacement.makeContiguousUTF8()
        let result: String?? = text.utf8.withContiguousStorageIfAvailable { t -> String? in
            needle.withUnsafeBufferPointer { n -> String? in
                guard let tb = t.baseAddress, let nb = n.baseAddress, t.count >= n.count else { return nil }
                // Where the next occurrence at or after `from` starts, if any.
                func next(_ from: Int) -> Int? {
                    var at = from
                    while t.count - at >= n.count {
                        // The needle's first byte with `memchr`, then the rest with `memcmp`.
                        guard let hit = memchr(tb + at, Int32(nb[0]), t.count - at - n.count + 1) else { return nil }
                        let i = tb.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                        if memcmp(tb + i, nb, n.count) == 0 { return i }
                        at = i + 1
                    }
                    return nil
                }
                guard let first = next(0) else { return nil }
                var hits = 1
                var at = first + n.count
                while let h = next(at) {
                    hits += 1
                    at = h + n.count
                }
                return replacement.utf8.withContiguousStorageIfAvailable { r -> String in
                    let size = t.count + hits * (r.count - n.count)
                    return String(unsafeUninitializedCapacity: size) { out in
                        var written = 0
                        var copied = 0
                        var hit: Int? = first
                        while let h = hit {
                            written += UnsafeMutableBufferPointer(rebasing: out[written...]).initialize(fromContentsOf: t[copied..<h])
                            written += UnsafeMutableBufferPointer(rebasing: out[written...]).initialize(fromContentsOf: r)
                            copied = h + n.count
                            hit = next(copied)
                        }
                        written += UnsafeMutableBufferPointer(rebasing: out[written...]).initialize(fromContentsOf: t[copied...])
                        return written
                    }
                }
            }
        }
        return result ?? nil
    }

    /// Go's `Regexp.Expand`: `$name` / `${name}` take the longest run of letters, digits and `_` as the name; a
    /// number is a group index; an unknown name or index gives ""; `$$` is a `$`.
    func expand(_ template: String, match: [Range<String.Index>?], in text: String) -> String {
        var out = ""
        let chars = Array(template.unicodeScalars)
        var i = 0
        func isNameChar(_ c: Unicode.Scalar) -> Bool { c == "_" || CharacterSet.alphanumerics.contains(c) && c.isASCII }
        while i < chars.count {
            let c = chars[i]
            guard c == "$", i + 1 < chars.count else {
                out.unicodeScalars.append(c)
                i += 1
                continue
            }
            if chars[i + 1] == "$" {
                out += "$"
                i += 2
                continue
            }
            var name = ""
            var j = i + 1
            if chars[j] == "{" {
                j += 1
                while j < chars.count, isNameChar(chars[j]) {
                    name.unicodeScalars.append(chars[j])
                    j += 1
                }
                guard j < chars.count, chars[j] == "}", !name.isEmpty else {
                    out += "$"
                    i += 1
                    continue
                }
                j += 1
            } else {
                while j < chars.count, isNameChar(chars[j]) {
                    name.unicodeScalars.append(chars[j])
                    j += 1
                }
                guard !name.isEmpty else {
                    out += "$"
                    i += 1
                    continue
                }
            }
            i = j
            let index: Int?
            if let n = Int(name) {
                index = n
            } else {
                index = groupNames.firstIndex(of: name).map { $0 + 1 }
            }
            if let index, index < match.count, let r = match[index] { out += text[r] }
        }
        return out
    }
}

/// A glob pattern as gobwas/glob (which OTTL's `replace_match` uses) reads it without separators: `*` any run of
/// characters, `?` one character, `[abc]`, `[a-z]`, `[!abc]`, `{a,b}` alternatives, `\` escapes. Alternatives are
/// expanded when the pattern is read (at most 256 forms); each form matches in O(text × pattern) time.
struct OTTLGlob: Sendable {
    private enum Piece: Sendable {
        case literal(Character)
        case any
        case one
        case set([ClosedRange<Character>], negated: Bool)
    }

    private let forms: [[Piece]]
    private static let maxForms = 256

    init?(_ pattern: String) {
        var chars = Array(pattern)[...]
        guard let f = Self.parse(&chars, inAlternative: false), chars.isEmpty, f.count <= Self.maxForms else { return nil }
        forms = f
    }

    /// Every form the pattern (or the alternative being read) stands for.
    private static func parse(_ chars: inout ArraySlice<Character>, inAlternative: Bool) -> [[Piece]]? {
        var forms: [[Piece]] = [[]]
        func append(_ p: Piece) { for i in forms.indices { forms[i].append(p) } }
        while let c = chars.first {
            if inAlternative && (c == "," || c == "}") { return forms }
            chars.removeFirst()
            switch c {
            case "*": append(.any)
            case "?": append(.one)
            case "\\":
                guard let e = chars.popFirst() else { return nil }
                append(.literal(e))
            case "[":
                var negated = false
                if chars.first == "!" {
                    negated = true
                    chars.removeFirst()
                }
                var ranges: [ClosedRange<Character>] = []
                var closed = false
                while let m = chars.popFirst() {
                    if m == "]" {
                        closed = true
                        break
                    }
                    if chars.first == "-", chars.count >= 2, chars[chars.startIndex + 1] != "]" {
                        chars.removeFirst()
                        guard let hi = chars.popFirst(), m <= hi else { return nil }
                        ranges.append(m...hi)
                    } else {
                        ranges.append(m...m)
                    }
                }
                guard closed, !ranges.isEmpty else { return nil }
                append(.set(ranges, negated: negated))
            case "{":
                var options: [[Piece]] = []
                while true {
                    guard let option = parse(&chars, inAlternative: true) else { return nil }
                    options += option
                    guard let sep = chars.popFirst() else { return nil }
                    if sep == "}" { break }
                }
                guard forms.count * options.count <= maxForms else { return nil }
                forms = forms.flatMap { f in options.map { f + $0 } }
            default: append(.literal(c))
            }
        }
        return inAlternative ? nil : forms
    }

    func matches(_ text: String) -> Bool {
        let s = Array(text)
        return forms.contains { Self.match($0, s) }
    }

    private static func accepts(_ p: Piece, _ c: Character) -> Bool {
        switch p {
        case .literal(let l): return l == c
        case .one: return true
        case .set(let ranges, let negated): return ranges.contains { $0.contains(c) } != negated
        case .any: return false
        }
    }

    /// Wildcard matching that backtracks only to the last `*`.
    private static func match(_ p: [Piece], _ s: [Character]) -> Bool {
        var i = 0
        var j = 0
        var star = -1
        var resume = 0
        while i < s.count {
            if j < p.count, case .any = p[j] {
                star = j
                resume = i
                j += 1
            } else if j < p.count, accepts(p[j], s[i]) {
                i += 1
                j += 1
            } else if star >= 0 {
                j = star + 1
                resume += 1
                i = resume
            } else {
                return false
            }
        }
        while j < p.count, case .any = p[j] { j += 1 }
        return j == p.count
    }
}
