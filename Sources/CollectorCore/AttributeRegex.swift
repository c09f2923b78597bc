import Foundation

/// A regular expression from config, compiled once, matched the way otelcol's Go `regexp` matches: unanchored
/// search (`MatchString`), leftmost-first submatches (`FindStringSubmatch`).
///
/// The engine is ICU (`NSRegularExpression`), whose syntax covers RE2's for the patterns people write; named
/// groups are written `(?P<name>…)` (Go) or `(?<name>…)`, with names of letters, digits and `_`. Patterns that are plain text, or plain
/// text anchored with `^` and/or `$`, never reach ICU: they are matched as substring, prefix, suffix or equality
/// on UTF-8 bytes, which is what an RE2 match of such a pattern means.
public struct AttributeRegex: @unchecked Sendable {
    // @unchecked: NSRegularExpression is immutable once built and documented as safe to use from any thread.

    /// The pattern as written in config.
    public let pattern: String
    /// One entry per capturing group, in group order: its name, or nil for an unnamed group.
    public let groupNames: [String?]
    private let engine: Engine

    private enum Engine {
        case contains([UInt8])
        case prefix([UInt8])
        case suffix([UInt8])
        case equals([UInt8])
        case icu(NSRegularExpression)
    }

    /// A pattern that does not compile; `reason` is ICU's or the scanner's explanation.
    public struct CompileError: Error, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    public init(_ pattern: String) throws(CompileError) {
        self.pattern = pattern
        let scanned = try Self.scan(pattern)
        self.groupNames = scanned.groupNames
        if scanned.groupNames.isEmpty, let literal = Self.literalShape(pattern) {
            self.engine = literal
            return
        }
        do {
            self.engine = .icu(try NSRegularExpression(pattern: scanned.icuPattern))
        } catch {
            throw CompileError(reason: "does not compile")
        }
    }

    /// Whether the pattern matches anywhere in `text` (Go's `MatchString`).
    public func matches(_ text: String) -> Bool {
        switch engine {
        case .contains(let needle): return Self.utf8(text) { Self.contains($0, needle) }
        case .prefix(let p): return Self.utf8(text) { $0.count >= p.count && $0.prefix(p.count).elementsEqual(p) }
        case .suffix(let s): return Self.utf8(text) { $0.count >= s.count && $0.suffix(s.count).elementsEqual(s) }
        case .equals(let e): return Self.utf8(text) { $0.elementsEqual(e) }
        case .icu(let regex):
            return regex.firstMatch(in: text, range: NSRange(location: 0, length: text.utf16.count)) != nil
        }
    }

    /// The text of each capturing group of the leftmost match (Go's `FindStringSubmatch` without the whole match),
    /// "" for a group that did not take part; nil when there is no match.
    public func captures(in text: String) -> [String]? {
        guard case .icu(let regex) = engine else { return matches(text) ? [] : nil }
        let ns = text as NSString
        guard let match = regex.firstMatch(in: text, range: NSRange(location: 0, length: ns.length)) else { return nil }
        var out: [String] = []
        out.reserveCapacity(groupNames.count)
        for i in 0..<groupNames.count {
            let range = i + 1 < match.numberOfRanges ? match.range(at: i + 1) : NSRange(location: NSNotFound, length: 0)
            out.append(range.location == NSNotFound ? "" : ns.substring(with: range))
        }
        return out
    }

    // MARK: - Literal fast paths

    private static let metacharacters = Set("\\.+*?()|[]{}^$".utf8)

    /// `lit`, `^lit`, `lit$`, `^lit$` where `lit` has no regex syntax at all.
    private static func literalShape(_ pattern: String) -> Engine? {
        var bytes = Array(pattern.utf8)
        let anchoredStart = bytes.first == UInt8(ascii: "^")
        if anchoredStart { bytes.removeFirst() }
        let anchoredEnd = bytes.last == UInt8(ascii: "$")
        if anchoredEnd { bytes.removeLast() }
        guard !bytes.contains(where: { metacharacters.contains($0) }) else { return nil }
        switch (anchoredStart, anchoredEnd) {
        case (false, false): return .contains(bytes)
        case (true, false): return .prefix(bytes)
        case (false, true): return .suffix(bytes)
        case (true, true): return .equals(bytes)
        }
    }

    @inline(__always)
    private static func utf8(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> Bool) -> Bool {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
        var copy = text
        copy.makeContiguousUTF8()
        return copy.utf8.withContiguousStorageIfAvailable(body) ?? false
    }

    private static func contains(_ haystack: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Bool {
        let n = needle.count
        if n == 0 { return true }
        if haystack.count < n { return false }
        let first = needle[0]
        var i = 0
        let last = haystack.count - n
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < n && haystack[i + j] == needle[j] { j += 1 }
                if j == n { return true }
            }
            i += 1
        }
        return false
    }

    // MARK: - Group scanner

    /// Walks the pattern once: lists its capturing groups (named or not) and rewrites named groups as plain ones.
    /// Escapes and character classes are skipped so that a `(` inside them is not taken for a group.
    public static func scan(_ pattern: String) throws(CompileError) -> (groupNames: [String?], icuPattern: String) {
        let chars = Array(pattern.unicodeScalars)
        var out = String.UnicodeScalarView()
        var names: [String?] = []
        var i = 0
        var inClass = false
        while i < chars.count {
            let c = chars[i]
            if c == "\\" {
                out.append(c)
                if i + 1 < chars.count { out.append(chars[i + 1]) }
                // \Q…\E quotes everything up to \E.
                if i + 1 < chars.count, chars[i + 1] == "Q" {
                    i += 2
                    while i < chars.count, !(chars[i] == "\\" && i + 1 < chars.count && chars[i + 1] == "E") {
                        out.append(chars[i])
                        i += 1
                    }
                    continue
                }
                i += 2
                continue
            }
            if inClass {
                if c == "]" { inClass = false }
                out.append(c)
                i += 1
                continue
            }
            if c == "[" {
                inClass = true
                out.append(c)
                i += 1
                // A `]` right after `[` or `[^` is a literal member.
                if i < chars.count, chars[i] == "^" {
                    out.append(chars[i])
                    i += 1
                }
                if i < chars.count, chars[i] == "]" {
                    out.append(chars[i])
                    i += 1
                }
                continue
            }
            if c == "(" {
                if i + 1 < chars.count, chars[i + 1] == "?" {
                    var nameStart: Int?
                    if i + 2 < chars.count, chars[i + 2] == "P", i + 3 < chars.count, chars[i + 3] == "<" {
                        nameStart = i + 4
                    } else if i + 2 < chars.count, chars[i + 2] == "<", i + 3 < chars.count, chars[i + 3] != "=", chars[i + 3] != "!" {
                        nameStart = i + 3
                    }
                    if let start = nameStart {
                        guard let end = chars[start...].firstIndex(of: ">") else {
                            throw CompileError(reason: "unterminated group name")
                        }
                        let name = String(String.UnicodeScalarView(chars[start..<end]))
                        guard !name.isEmpty,
                            name.unicodeScalars.allSatisfy({
                                $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                            }),
                            let first = name.unicodeScalars.first, !("0"..."9").contains(first)
                        else {
                            throw CompileError(reason: "invalid group name \"\(name)\"")
                        }
                        names.append(name)
                        // ICU allows only letters and digits in group names; groups are read by number, so a
                        // named group becomes a plain capturing group.
                        out.append("(")
                        i = end + 1
                        continue
                    }
                    // Non-capturing group, flags or lookaround: not a capture.
                } else {
                    names.append(nil)
                }
            }
            out.append(c)
            i += 1
        }
        return (names, String(out))
    }
}
