/// OTLP metric names and units to Prometheus metric names, as otelcol-contrib's `pkg/translator/prometheus`
/// (`normalize_name.go`) builds them with suffixes on (the `prometheus` exporter's default).
///
/// The name is split into words at every character that is not a letter or digit; the unit's main part and its
/// `per` part (after `/`) become words unless they are annotations (`{packets}`) or already in the name; monotonic
/// sums end in `total`, gauges with unit `1` in `ratio`; words are joined with `_`, and a name starting with a digit
/// gets a `_` prefix. Only ASCII letters and digits count as such (Prometheus' classic name charset), so a name
/// stays valid for every scraper; otelcol keeps non-ASCII letters.
public enum PrometheusNaming {
    /// What kind of Prometheus metric an OTLP metric becomes; it decides the type suffixes.
    public enum Kind: Sendable {
        case gauge, counter, nonMonotonicSum, histogram, summary
    }

    /// UCUM units to the words Prometheus uses.
    static let unitWords: [String: String] = [
        "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds", "us": "microseconds",
        "ns": "nanoseconds",
        "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes", "TiBy": "tebibytes",
        "KBy": "kilobytes", "kBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes",
        "m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams",
        "Cel": "celsius", "Hz": "hertz", "1": "", "%": "percent", "$": "dollars",
    ]

    /// UCUM units after `/` to singular words (`m/s` → `meters_per_second`).
    static let perUnitWords: [String: String] = [
        "s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year",
    ]

    /// The Prometheus name of an OTLP metric, with unit and type suffixes (`system.io` [By], counter →
    /// `system_io_bytes_total`). `namespace` (already valid) is prepended with `_`.
    public static func metricName(_ name: String, unit: String, kind: Kind, namespace: String = "", addSuffixes: Bool = true) -> String {
        guard addSuffixes else { return simpleName(name, namespace: namespace) }
        var words = self.words(name)
        let unitParts = unit.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map { String($0) }
        if let main = unitParts.first.map(trimmed), !main.isEmpty, !main.contains("{"), !main.contains("}") {
            let word = cleanUp(unitWords[main] ?? main)
            if !word.isEmpty && !words.contains(word) { words.append(word) }
        }
        if unitParts.count > 1 {
            let per = trimmed(unitParts[1])
            if !per.isEmpty, !per.contains("{"), !per.contains("}") {
                let word = cleanUp(perUnitWords[per] ?? per)
                if !word.isEmpty && !words.contains(word) { words += ["per", word] }
            }
        }
        if kind == .counter { words = words.filter { $0 != "total" } + ["total"] }
        if unit == "1" && kind == .gauge { words = words.filter { $0 != "ratio" } + ["ratio"] }
        if !namespace.isEmpty { words.insert(namespace, at: 0) }
        var out = words.joined(separator: "_")
        if let first = out.utf8.first, isDigit(first) { out = "_" + out }
        return out
    }

    /// The name with characters outside `[a-zA-Z0-9_:]` replaced, for `add_metric_suffixes: false`.
    static func simpleName(_ name: String, namespace: String) -> String {
        var out = runs(name) { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ":") }.joined(separator: "_")
        if !namespace.isEmpty { return namespace + "_" + out }
        if let first = out.utf8.first, isDigit(first) { out = "_" + out }
        return out
    }

    /// The words of `text`: runs of ASCII letters and digits.
    static func words(_ text: String) -> [String] {
        runs(text) { isLetter($0) || isDigit($0) }
    }

    /// Maximal runs of bytes satisfying `keep` (multi-byte UTF-8 characters never satisfy it).
    private static func runs(_ text: String, _ keep: (UInt8) -> Bool) -> [String] {
        var out: [String] = []
        let bytes = Array(text.utf8)
        var start: Int? = nil
        for i in 0...bytes.count {
            if i < bytes.count && keep(bytes[i]) {
                if start == nil { start = i }
            } else if let s = start {
                out.append(String(decoding: bytes[s..<i], as: UTF8.self))
                start = nil
            }
        }
        return out
    }

    /// `text` as words joined with `_` (`hello, world!` → `hello_world`).
    static func cleanUp(_ text: String) -> String { words(text).joined(separator: "_") }

    static func trimmed(_ s: String) -> String {
        var sub = Substring(s)
        while let c = sub.first, c.isWhitespace { sub = sub.dropFirst() }
        while let c = sub.last, c.isWhitespace { sub = sub.dropLast() }
        return String(sub)
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }

    /// Whether `name` is a valid classic Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
    public static func isValidMetricName(_ name: String) -> Bool {
        guard let first = name.utf8.first else { return false }
        guard isLetter(first) || first == UInt8(ascii: "_") || first == UInt8(ascii: ":") else { return false }
        // Checked for every metric of every request: over the contiguous bytes when the string has them.
        func valid(_ b: UInt8) -> Bool { isLetter(b) || isDigit(b) || b == UInt8(ascii: "_") || b == UInt8(ascii: ":") }
        if let result = name.utf8.withContiguousStorageIfAvailable({ bytes in
            for b in bytes where !valid(b) { return false }
            return true
        }) {
            return result
        }
        return name.utf8.allSatisfy(valid)
    }

    static func isLetter(_ b: UInt8) -> Bool { (b >= 65 && b <= 90) || (b >= 97 && b <= 122) }
}
