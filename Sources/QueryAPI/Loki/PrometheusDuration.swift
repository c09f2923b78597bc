/// Durations as Prometheus writes them (`model.ParseDuration`, which LogQL ranges and Loki's `since` and `step`
/// use): whole numbers with units `y` (365d), `w`, `d`, `h`, `m`, `s`, `ms`, largest first, each at most once
/// (`1h30m`, `5m`, `500ms`, `1d`); `0` alone. No fractions, no sign.
public enum PrometheusDuration {
    /// Nanoseconds, or the reason in Prometheus's words (`not a valid duration string: "5x"`).
    public static func parse(_ text: String) -> Result<Int64, LogQLError> {
        if text == "0" { return .success(0) }
        if text.isEmpty { return .failure(LogQLError(.parse, "empty duration string")) }
        let invalid = LogQLError(.parse, "not a valid duration string: \(goQuoted(text))")
        var rest = Substring(text)
        var total: Int64 = 0
        var lastPosition = 0
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty else { return .failure(invalid) }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { !($0.isASCII && $0.isNumber) }
            guard !unit.isEmpty else { return .failure(invalid) }
            rest = rest.dropFirst(unit.count)
            guard let (position, nanos) = units[String(unit)] else {
                return .failure(LogQLError(.parse, "unknown unit \(goQuoted(String(unit))) in duration \(goQuoted(text))"))
            }
            guard position > lastPosition else { return .failure(invalid) }
            lastPosition = position
            guard let value = Int64(digits) else { return .failure(LogQLError(.parse, "duration out of range")) }
            let (scaled, o1) = value.multipliedReportingOverflow(by: nanos)
            let (sum, o2) = total.addingReportingOverflow(scaled)
            guard !o1, !o2 else { return .failure(LogQLError(.parse, "duration out of range")) }
            total = sum
        }
        return .success(total)
    }

    /// Unit → (order, nanoseconds).
    private static let units: [String: (Int, Int64)] = [
        "y": (1, 365 * 86_400_000_000_000), "w": (2, 7 * 86_400_000_000_000), "d": (3, 86_400_000_000_000),
        "h": (4, 3_600_000_000_000), "m": (5, 60_000_000_000), "s": (6, 1_000_000_000), "ms": (7, 1_000_000),
    ]

    /// The shortest text that parses back to `nanos` (`5m`, `1h30m`, `500ms`), for messages.
    public static func format(_ nanos: Int64) -> String {
        guard nanos > 0 else { return "0s" }
        var rest = nanos
        var out = ""
        for (unit, size) in [
            ("y", Int64(365 * 86_400_000_000_000)), ("w", 7 * 86_400_000_000_000), ("d", 86_400_000_000_000),
            ("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000),
        ] where rest >= size {
            out += "\(rest / size)\(unit)"
            rest %= size
        }
        if rest > 0 { out += "\(rest)ns" }
        return out
    }

    /// Go's `%q` for the ASCII texts these messages quote.
    static func goQuoted(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 || c.value == 0x7F {
                    out += "\\x" + String(c.value, radix: 16).leftPadded(to: 2)
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out + "\""
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
