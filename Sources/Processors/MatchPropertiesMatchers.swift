import CollectorCore
import OTLP

/// How match properties compare strings (otelcol's `filterset`): `strict` is equality with one of the listed
/// strings; `regexp` is an unanchored search with any of the listed regexes (anchor with `^…$` for a whole match).
public enum MatchType: String, Sendable, CaseIterable {
    case strict, regexp
}

/// A list of strings or regexes that a string matches when it matches any of them.
public struct StringMatcher: Sendable {
    enum Storage: Sendable {
        /// Few strings: a linear scan beats hashing.
        case strictList([String])
        case strictSet(Set<String>)
        case regexp([AttributeRegex])
    }

    let storage: Storage

    /// Compiles `items`; a regex that does not compile is reported at `path::index`.
    init(_ items: [String], matchType: MatchType, reader: ConfigReader, key: String) {
        switch matchType {
        case .strict:
            storage = items.count <= 8 ? .strictList(items) : .strictSet(Set(items))
        case .regexp:
            var regexes: [AttributeRegex] = []
            var seen = Set<String>()
            for (i, item) in items.enumerated() where seen.insert(item).inserted {
                do { regexes.append(try AttributeRegex(item)) } catch {
                    reader.problems.add(path: reader.pathString(key) + "::\(i)", "regex \"\(item)\" \(error.reason)")
                }
            }
            storage = .regexp(regexes)
        }
    }

    init(_ storage: Storage) { self.storage = storage }

    @inline(__always)
    public func matches(_ text: String) -> Bool {
        switch storage {
        case .strictList(let list):
            for s in list where s == text { return true }
            return false
        case .strictSet(let set): return set.contains(text)
        case .regexp(let regexes):
            for r in regexes where r.matches(text) { return true }
            return false
        }
    }
}

/// One `attributes`/`resources` entry: the key must be present and, when a value is given, equal it (`strict`,
/// same type and value) or match it as a regex (`regexp`, against the text of a string, bool, int or double).
public struct AttributeMatcher: Sendable {
    public enum Expectation: Sendable {
        case present
        case equals(AnyValue)
        case matches(AttributeRegex)
    }

    public let key: String
    public let expectation: Expectation

    @inline(__always)
    func matches(_ value: AnyValue) -> Bool {
        switch expectation {
        case .present: return true
        case .equals(let expected):
            switch (expected.value, value.value) {
            case (.stringValue(let a)?, .stringValue(let b)?): return a == b
            case (.intValue(let a)?, .intValue(let b)?): return a == b
            case (.boolValue(let a)?, .boolValue(let b)?): return a == b
            case (.doubleValue(let a)?, .doubleValue(let b)?): return a == b
            case (.stringValue?, _), (.intValue?, _), (.boolValue?, _), (.doubleValue?, _): return false
            default: return expected == value
            }
        case .matches(let regex):
            guard let text = AttributeValueText.matchText(value) else { return false }
            return regex.matches(text)
        }
    }
}

/// A list of ``AttributeMatcher``s that all have to match (otelcol's `AttributesMatcher`).
public struct AttributesMatcher: Sendable {
    public let entries: [AttributeMatcher]

    /// Reads a list of `{key, value?}` at `key`; nil when the list is absent or empty.
    static func read(_ r: ConfigReader, key: String, matchType: MatchType) -> AttributesMatcher? {
        var entries: [AttributeMatcher] = []
        for item in r.mappingList(key) {
            let name = item.optionalString("key") ?? ""
            var value: AnyValue?
            if let node = item.raw("value") {
                value = AttributeValueText.value(from: node)
                if case .scalar = node { _ = item.optionalString("value") }
            }
            guard !name.isEmpty else {
                item.report("key", "required (an attribute name)")
                continue
            }
            guard let value else {
                entries.append(AttributeMatcher(key: name, expectation: .present))
                continue
            }
            switch matchType {
            case .strict:
                entries.append(AttributeMatcher(key: name, expectation: .equals(value)))
            case .regexp:
                guard case .stringValue(let pattern)? = value.value else {
                    item.report("value", "match_type regexp needs a string (a regex) as the value of \"\(name)\"")
                    continue
                }
                do { entries.append(AttributeMatcher(key: name, expectation: .matches(try AttributeRegex(pattern)))) } catch {
                    item.report("value", "regex \"\(pattern)\" \(error.reason)")
                }
            }
        }
        return entries.isEmpty ? nil : AttributesMatcher(entries: entries)
    }

    @inline(__always)
    public func matches(_ attributes: [KeyValue]) -> Bool {
        if attributes.isEmpty { return false }
        for entry in entries {
            guard let i = AttributeActions.index(of: entry.key, in: attributes), entry.matches(attributes[i].value) else { return false }
        }
        return true
    }
}

/// One `libraries` entry: the scope name and, when given, its version (an empty version matches only an empty one).
public struct LibraryMatcher: Sendable {
    let name: StringMatcher
    let version: StringMatcher?

    func matches(_ scope: InstrumentationScope) -> Bool {
        guard name.matches(scope.name) else { return false }
        if let version, !version.matches(scope.version) { return false }
        return true
    }
}

/// `log_severity_number`/`severity_number`: a record matches when its severity number is at least `min`; a record
/// without a severity number matches only with `match_undefined: true`.
public struct SeverityNumberMatcher: Sendable {
    public let minimum: Int
    public let matchUndefined: Bool

    func matches(_ severity: Int) -> Bool {
        severity == 0 ? matchUndefined : severity >= minimum
    }

    /// Severity names as the OpenTelemetry log data model and otelcol accept them (any case), or 1–24.
    static func parse(_ text: String) -> Int? {
        if let n = Int(text), (1...24).contains(n) { return n }
        let bases = ["TRACE": 1, "DEBUG": 5, "INFO": 9, "WARN": 13, "ERROR": 17, "FATAL": 21]
        let upper = text.uppercased()
        for (name, base) in bases where upper.hasPrefix(name) {
            let suffix = upper.dropFirst(name.count)
            if suffix.isEmpty { return base }
            if let k = Int(suffix), (2...4).contains(k) { return base + k - 1 }
        }
        return nil
    }
}
