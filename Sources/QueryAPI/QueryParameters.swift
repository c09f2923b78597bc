import Foundation
import SQLiteStore

/// A request's query string, decoded: every value of every name, in order.
public struct QueryParameters: Sendable {
    private var values: [(name: String, value: String)] = []

    public init(query: Substring?) {
        guard let query, !query.isEmpty else { return }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = Self.decode(parts[0])
            let value = parts.count > 1 ? Self.decode(parts[1]) : ""
            values.append((name, value))
        }
    }

    /// The first non-empty value of the first of `names` that has one (for parameters with aliases).
    public func first(_ names: String...) -> String? {
        for n in names {
            if let v = values.first(where: { $0.name == n && !$0.value.isEmpty })?.value { return v }
        }
        return nil
    }

    public func all(_ name: String) -> [String] { values.filter { $0.name == name }.map(\.value) }

    /// Percent-decoding with `+` as space (HTML form encoding, which browsers and Grafana use).
    static func decode(_ s: Substring) -> String {
        let plus = s.replacingOccurrences(of: "+", with: " ")
        return plus.removingPercentEncoding ?? plus
    }
}

/// A parameter that could not be parsed: answered with 400 and a message naming it.
public struct BadParameter: Error, Equatable, CustomStringConvertible {
    /// The parameter, as the request named it.
    public var name: String
    /// What was wrong with it.
    public var message: String
    /// The whole message (Jaeger's wording: `unable to parse param 'minDuration': …`).
    public var description: String

    public init(_ name: String, _ message: String) {
        self.name = name
        self.message = message
        description = "unable to parse param '\(name)': \(message)"
    }

    /// A required parameter that is missing.
    public static func required(_ name: String) -> BadParameter {
        var b = BadParameter(name, "is required")
        b.description = "parameter '\(name)' is required"
        return b
    }
}

/// Parsing of the values the query API and the CLI accept.
public enum QueryValues {
    /// A Go duration (`time.ParseDuration`): a sequence of decimal numbers with units `ns`, `us`/`µs`, `ms`, `s`,
    /// `m`, `h` (`1.5s`, `300ms`, `1h30m`). Returns nanoseconds; nil when malformed, negative or over ~292 years.
    public static func goDuration(_ text: String) -> Int64? {
        var s = Substring(text)
        guard !s.isEmpty else { return nil }
        if s == "0" { return 0 }
        var total: Double = 0
        while !s.isEmpty {
            let number = s.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number != ".", let value = Double(number) else { return nil }
            s = s.dropFirst(number.count)
            let unit = s.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            s = s.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs", "μs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: return nil
            }
            total += value * scale
        }
        guard total.isFinite, total < 9.2e18 else { return nil }
        return Int64(total)
    }

    /// A trace ID: 32 hex digits, or fewer (Jaeger's short IDs, left-padded with zeros); never all zero.
    public static func traceID(_ text: String) -> Data? { hexID(text, bytes: 16) }

    /// A span ID: 16 hex digits (or fewer, left-padded with zeros); never all zero.
    public static func spanID(_ text: String) -> Data? { hexID(text, bytes: 8) }

    /// An ID of `bytes` bytes in hex, left-padded with zeros when shorter; nil when malformed or all zero.
    static func hexID(_ text: String, bytes count: Int) -> Data? {
        guard !text.isEmpty, text.count <= 2 * count, text.allSatisfy(\.isHexDigit) else { return nil }
        let hex = String(repeating: "0", count: 2 * count - text.count) + text.lowercased()
        var bytes = Data(capacity: count)
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            guard let b = UInt8(hex[i..<j], radix: 16) else { return nil }
            bytes.append(b)
            i = j
        }
        guard bytes.contains(where: { $0 != 0 }) else { return nil }
        return bytes
    }

    /// Jaeger's `tags` parameter: a JSON object of string values (`{"http.status_code":"500"}`). Non-string
    /// scalar values are accepted and compared as text.
    public static func tagsJSON(_ text: String) throws(BadParameter) -> [TagFilter] {
        guard let map = try? JSONDecoder().decode([String: ScalarText].self, from: Data(text.utf8)) else {
            throw BadParameter("tags", "expected a JSON object of strings like {\"key\":\"value\"}, got \(quoted(text))")
        }
        return map.sorted { $0.key < $1.key }.map { TagFilter(key: $0.key, value: $0.value.text) }
    }

    /// `key:value` (Jaeger's repeated `tag=` parameter) or `key=value` (the CLI's `--tag`).
    public static func tagPair(_ text: String, separators: [Character], parameter: String) throws(BadParameter) -> TagFilter {
        guard let i = text.firstIndex(where: { separators.contains($0) }), i != text.startIndex else {
            throw BadParameter(parameter, "expected key\(separators[0])value, got \(quoted(text))")
        }
        return TagFilter(key: String(text[..<i]), value: String(text[text.index(after: i)...]))
    }

    /// An integer parameter in `range`.
    public static func int(_ text: String, name: String, range: ClosedRange<Int64>) throws(BadParameter) -> Int64 {
        guard let v = Int64(text), range.contains(v) else {
            throw BadParameter(name, "expected an integer from \(range.lowerBound) to \(range.upperBound), got \(quoted(text))")
        }
        return v
    }

    /// An RFC 3339 time (`2024-05-01T12:00:00.123456789Z`), as nanoseconds since the epoch.
    public static func rfc3339(_ text: String) -> Int64? {
        // Split off the fraction: ISO8601DateFormatter handles at most milliseconds reliably.
        var base = text
        var fractionNanos: Int64 = 0
        if let dot = text.firstIndex(of: ".") {
            let digits = text[text.index(after: dot)...].prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count <= 9, let f = Int64(digits) else { return nil }
            fractionNanos = f * Int64(pow(10.0, Double(9 - digits.count)))
            base = String(text[..<dot]) + String(text[text.index(dot, offsetBy: 1 + digits.count)...])
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        guard let date = formatter.date(from: base) else { return nil }
        let seconds = date.timeIntervalSince1970.rounded(.down)
        guard abs(seconds) < 9e9 else { return nil }
        return Int64(seconds) * 1_000_000_000 + fractionNanos
    }

    static func quoted(_ s: String) -> String {
        let shown = s.count > 80 ? String(s.prefix(80)) + "…" : s
        return "\"\(shown)\""
    }
}

/// A JSON scalar (string, bool or number) as text.
struct ScalarText: Decodable {
    var text: String
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) {
            text = s
        } else if let b = try? c.decode(Bool.self) {
            text = b ? "true" : "false"
        } else if let i = try? c.decode(Int64.self) {
            text = String(i)
        } else {
            text = String(try c.decode(Double.self))
        }
    }
}
