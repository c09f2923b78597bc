/// `name="value"`, `name!="value"`, `name=~"regex"` or `name!~"regex"`: a stream matcher in `{…}` or a string
/// label filter after `|`. Regexes match the whole value (Prometheus anchors them); a missing label is `""`.
public struct LabelMatcher: Sendable, Equatable, CustomStringConvertible {
    public enum Operator: String, Sendable, Equatable {
        case equal = "="
        case notEqual = "!="
        case matchesRegex = "=~"
        case notMatchesRegex = "!~"
    }

    public var name: String
    public var op: Operator
    public var value: String
    private let regex: LogQLRegex?

    /// Throws when a regex does not compile or is too long.
    public init(_ name: String, _ op: Operator, _ value: String) throws(LogQLError) {
        self.name = name
        self.op = op
        self.value = value
        switch op {
        case .equal, .notEqual: regex = nil
        case .matchesRegex, .notMatchesRegex:
            regex = try LogQLRegex(value, anchored: true, context: "label matcher \(name)\(op.rawValue)")
        }
    }

    public func matches(_ labelValue: String) -> Bool {
        switch op {
        case .equal: labelValue == value
        case .notEqual: labelValue != value
        case .matchesRegex: regex?.matches(labelValue) ?? false
        case .notMatchesRegex: !(regex?.matches(labelValue) ?? false)
        }
    }

    /// As LogQL writes it: `name="value"`.
    public var description: String { "\(name)\(op.rawValue)\(PrometheusDuration.goQuoted(value))" }

    public static func == (a: LabelMatcher, b: LabelMatcher) -> Bool {
        a.name == b.name && a.op == b.op && a.value == b.value
    }
}

/// `|= "text"`, `!= "text"`, `|~ "regex"` or `!~ "regex"`, with alternatives joined by `or` (`|= "a" or "b"`).
/// Text is matched case-sensitively anywhere in the line; regexes match anywhere (unanchored).
public struct LineFilter: Sendable, Equatable {
    public enum Operator: String, Sendable, Equatable {
        case contains = "|="
        case notContains = "!="
        case matchesRegex = "|~"
        case notMatchesRegex = "!~"

        /// Whether the filter keeps lines that match (`|=`, `|~`) rather than lines that do not.
        public var isPositive: Bool { self == .contains || self == .matchesRegex }
    }

    public var op: Operator
    /// The alternatives: a positive filter keeps a line matching any of them, a negative one a line matching none
    /// (Loki reads `!= "a" or "b"` as `!= "a" != "b"`).
    public var patterns: [String]
    private let regexes: [LogQLRegex]

    /// Throws when a regex does not compile or is too long.
    public init(_ op: Operator, _ patterns: [String]) throws(LogQLError) {
        self.op = op
        self.patterns = patterns
        switch op {
        case .contains, .notContains: regexes = []
        case .matchesRegex, .notMatchesRegex:
            var compiled: [LogQLRegex] = []
            for p in patterns { compiled.append(try LogQLRegex(p, anchored: false, context: "line filter \(op.rawValue)")) }
            regexes = compiled
        }
    }

    public func matches(_ line: String) -> Bool {
        let any: Bool =
            switch op {
            // Every line contains "" (Loki's filter for `|= ""` keeps every line, and `!= ""` none).
            case .contains, .notContains: patterns.contains { utf8Contains(line, $0) }
            case .matchesRegex, .notMatchesRegex: regexes.contains { $0.matches(line) }
            }
        return op.isPositive ? any : !any
    }

    public static func == (a: LineFilter, b: LineFilter) -> Bool {
        a.op == b.op && a.patterns == b.patterns
    }
}

/// Whether `needle` occurs in `haystack`, comparing UTF-8 bytes (as Go's `strings.Contains`, not Swift's
/// canonical equivalence).
func utf8Contains(_ haystack: String, _ needle: String) -> Bool {
    if needle.isEmpty { return true }
    func search(_ h: UnsafeBufferPointer<UInt8>, _ n: UnsafeBufferPointer<UInt8>) -> Bool {
        guard n.count <= h.count, let first = n.first else { return n.isEmpty }
        var i = 0
        let last = h.count - n.count
        while i <= last {
            if h[i] == first {
                var k = 1
                while k < n.count, h[i + k] == n[k] { k += 1 }
                if k == n.count { return true }
            }
            i += 1
        }
        return false
    }
    let found = haystack.utf8.withContiguousStorageIfAvailable { h in
        needle.utf8.withContiguousStorageIfAvailable { n in search(h, n) }
    }
    if let found, let found { return found }
    let h = Array(haystack.utf8)
    let n = Array(needle.utf8)
    return h.withUnsafeBufferPointer { hp in n.withUnsafeBufferPointer { np in search(hp, np) } }
}
