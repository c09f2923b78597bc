import Foundation

/// Reads one component's (or section's) settings from a ``ConfigNode`` mapping.
///
/// Each getter takes the key and its default, reports a wrong type or value with the key's full path, and
/// records the effective value so `print-config` can show defaults too. Call ``finish()`` when done: every
/// key that was never asked for is reported as unknown. Problems go to a shared ``ConfigProblems``.
public final class ConfigReader {
    public let path: [String]
    public let problems: ConfigProblems
    private let entries: [(key: String, value: ConfigNode)]
    private var read: Set<String> = []
    private var effective: [(key: String, value: ConfigNode)] = []
    private var children: [String: ConfigReader] = [:]
    private var listChildren: [String: [ConfigReader]] = [:]

    /// - Parameters:
    ///   - node: the mapping to read; `null` reads as an empty mapping (a component listed with no settings).
    public init(_ node: ConfigNode?, path: [String], problems: ConfigProblems) {
        self.path = path
        self.problems = problems
        switch node {
        case .mapping(let entries)?: self.entries = entries
        case .null?, nil: self.entries = []
        case let other?:
            self.entries = []
            problems.add(path: ConfigPath.render(path), "expected a mapping, got \(other.kindName)")
        }
    }

    /// The path of `key` in messages.
    public func pathString(_ key: String? = nil) -> String {
        ConfigPath.render(key.map { path + [$0] } ?? path)
    }

    /// Reports a problem with `key`.
    public func report(_ key: String?, _ message: String) {
        problems.add(path: pathString(key), message)
    }

    /// Whether the user wrote `key` here.
    public func contains(_ key: String) -> Bool { entries.contains { $0.key == key } }

    /// The keys the user wrote, in order.
    public var keys: [String] { entries.map(\.key) }

    /// The raw node at `key`, marking it read.
    public func raw(_ key: String) -> ConfigNode? {
        read.insert(key)
        return entries.first { $0.key == key }?.value
    }

    /// The raw node at `key`, marking it read and showing it as written in the effective settings; for settings a
    /// component reads itself (a list that mixes strings and mappings, such as the transform processor's).
    public func node(_ key: String) -> ConfigNode? {
        let n = raw(key)
        if let n { record(key, n) }
        return n
    }

    private func record(_ key: String, _ value: ConfigNode) {
        if let i = effective.firstIndex(where: { $0.key == key }) {
            effective[i].value = value
        } else {
            effective.append((key, value))
        }
    }

    private func scalar(_ key: String, expected: String) -> String? {
        switch raw(key) {
        case nil, .null?: return nil
        case .scalar(let s)?: return s
        case let other?:
            report(key, "expected \(expected), got \(other.kindName)")
            return nil
        }
    }

    public func string(_ key: String, default value: String) -> String {
        let v = scalar(key, expected: "a string") ?? value
        record(key, .scalar(v))
        return v
    }

    public func optionalString(_ key: String) -> String? {
        let v = scalar(key, expected: "a string")
        if let v { record(key, .scalar(v)) }
        return v
    }

    public func bool(_ key: String, default value: Bool) -> Bool {
        guard let s = scalar(key, expected: "true or false") else {
            record(key, .scalar(String(value)))
            return value
        }
        switch s.lowercased() {
        case "true":
            record(key, .scalar("true"))
            return true
        case "false":
            record(key, .scalar("false"))
            return false
        default:
            report(key, "expected true or false, got \"\(s)\"")
            return value
        }
    }

    public func int(_ key: String, default value: Int, range: ClosedRange<Int> = Int.min...Int.max) -> Int {
        guard let s = scalar(key, expected: "an integer") else {
            record(key, .scalar(String(value)))
            return value
        }
        guard let v = Int(s.replacingOccurrences(of: "_", with: "")) else {
            report(key, "expected an integer, got \"\(s)\"")
            return value
        }
        guard range.contains(v) else {
            report(key, "must be between \(range.lowerBound) and \(range.upperBound), got \(v)")
            return value
        }
        record(key, .scalar(String(v)))
        return v
    }

    public func double(
        _ key: String, default value: Double, range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
    ) -> Double {
        guard let s = scalar(key, expected: "a number") else {
            record(key, .scalar(String(value)))
            return value
        }
        guard let v = Double(s), v.isFinite else {
            report(key, "expected a number, got \"\(s)\"")
            return value
        }
        guard range.contains(v) else {
            report(key, "must be between \(range.lowerBound) and \(range.upperBound), got \(s)")
            return value
        }
        record(key, .scalar(s))
        return v
    }

    /// A Go-style duration (`200ms`, `1h30m`, `72h`).
    public func duration(_ key: String, default value: Duration, minimum: Duration = .zero) -> Duration {
        guard let s = scalar(key, expected: "a duration") else {
            record(key, .scalar(DurationText.format(value)))
            return value
        }
        guard let v = DurationText.parse(s) else {
            report(key, "expected a duration like \"\(DurationText.format(value == .zero ? .seconds(5) : value))\", got \"\(s)\"")
            return value
        }
        guard v >= minimum else {
            report(key, "must be at least \(DurationText.format(minimum)), got \"\(s)\"")
            return value
        }
        record(key, .scalar(s))
        return v
    }

    public func stringList(_ key: String, default value: [String] = []) -> [String] {
        switch raw(key) {
        case nil, .null?:
            record(key, .sequence(value.map { .scalar($0) }))
            return value
        case .sequence(let items)?:
            var out: [String] = []
            for (i, item) in items.enumerated() {
                if case .scalar(let s) = item {
                    out.append(s)
                } else {
                    problems.add(path: pathString(key) + "::\(i)", "expected a string, got \(item.kindName)")
                }
            }
            record(key, .sequence(out.map { .scalar($0) }))
            return out
        case let other?:
            report(key, "expected a list, got \(other.kindName)")
            return value
        }
    }

    /// The nested mapping at `key` (empty when absent). Its keys are checked when this reader finishes.
    public func child(_ key: String) -> ConfigReader {
        if let existing = children[key] { return existing }
        let reader = ConfigReader(raw(key), path: path + [key], problems: problems)
        children[key] = reader
        if !effective.contains(where: { $0.key == key }) { effective.append((key, .null)) }
        return reader
    }

    /// The list of mappings at `key` (e.g. an attributes processor's `actions`), one reader per item with the path
    /// `key::index`. Items that are not mappings are reported. Their keys are checked when this reader finishes.
    public func mappingList(_ key: String) -> [ConfigReader] {
        if let existing = listChildren[key] { return existing }
        var readers: [ConfigReader] = []
        switch raw(key) {
        case nil, .null?: break
        case .sequence(let items)?:
            for (i, item) in items.enumerated() {
                if case .mapping = item {
                    readers.append(ConfigReader(item, path: path + [key, String(i)], problems: problems))
                } else {
                    problems.add(path: pathString(key) + "::\(i)", "expected a mapping, got \(item.kindName)")
                }
            }
        case let other?:
            report(key, "expected a list, got \(other.kindName)")
        }
        listChildren[key] = readers
        if !effective.contains(where: { $0.key == key }) { effective.append((key, .null)) }
        return readers
    }

    /// Reports every key that was never read (here and in nested readers), then returns the effective
    /// settings, defaults included.
    @discardableResult
    public func finish() -> ConfigNode {
        reportUnknownKeys()
        return effectiveNode
    }

    private var checkedUnknown = false
    private func reportUnknownKeys() {
        guard !checkedUnknown else { return }
        checkedUnknown = true
        for (key, _) in entries where !read.contains(key) { report(key, "unknown key") }
        for child in children.values { child.reportUnknownKeys() }
        for list in listChildren.values { for child in list { child.reportUnknownKeys() } }
    }

    /// The settings as read, defaults included, in the order they were asked for.
    public var effectiveNode: ConfigNode {
        .mapping(
            effective.map { entry in
                if let child = children[entry.key] { return (entry.key, child.effectiveNode) }
                if let list = listChildren[entry.key] { return (entry.key, .sequence(list.map(\.effectiveNode))) }
                return entry
            })
    }
}

/// Go-style durations, as otelcol configs write them: a sequence of number+unit, units ns, us (µs), ms, s, m, h.
public enum DurationText {
    public static func parse(_ text: String) -> Duration? {
        let s = text.trimmingCharacters(in: .whitespaces)
        if s == "0" { return .zero }
        guard !s.isEmpty else { return nil }
        var total: Double = 0  // nanoseconds
        var rest = Substring(s)
        while !rest.isEmpty {
            let numberEnd = rest.firstIndex { !($0.isNumber || $0 == ".") } ?? rest.endIndex
            guard numberEnd > rest.startIndex, let number = Double(rest[..<numberEnd]) else { return nil }
            rest = rest[numberEnd...]
            let unitEnd = rest.firstIndex { $0.isNumber || $0 == "." } ?? rest.endIndex
            let unit = rest[..<unitEnd]
            rest = rest[unitEnd...]
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: return nil
            }
            total += number * scale
        }
        guard total.isFinite, total < 9.2e18 else { return nil }
        return .nanoseconds(Int64(total.rounded()))
    }

    /// Formats a duration the way it would be written in config (`72h`, `200ms`, `1m30s`).
    public static func format(_ d: Duration) -> String {
        let (seconds, attos) = d.components
        let ns = seconds * 1_000_000_000 + attos / 1_000_000_000
        if ns == 0 { return "0s" }
        if ns % 1_000_000_000 != 0 {
            if ns % 1_000_000 == 0 { return "\(ns / 1_000_000)ms" }
            if ns % 1_000 == 0 { return "\(ns / 1_000)us" }
            return "\(ns)ns"
        }
        var s = ns / 1_000_000_000
        var out = ""
        if s >= 3600 {
            out += "\(s / 3600)h"
            s %= 3600
        }
        if s >= 60 {
            out += "\(s / 60)m"
            s %= 60
        }
        if s > 0 { out += "\(s)s" }
        return out
    }
}
