import CollectorCore
import Foundation
import OTLP
import SQLiteStore

/// How durations, ratios, times and attributes read in what otelsink prints for people: the CLI's output and the
/// query API's warnings and summaries.
public enum ReadableText {
    /// `6.1×`, `12×`: one decimal below 10.
    public static func ratio(_ r: Double) -> String {
        r < 10 ? "\((r * 10).rounded(.down) / 10)×" : "\(Int(min(r, 1e9)))×"
    }

    /// Three significant digits, trailing zeros dropped, in the largest unit below the value: `850ns`, `12.3µs`,
    /// `250µs`, `1.5ms`, `80ms`, `1.23s`; from a minute on `2m3.4s`, from an hour as Go prints it, `3h0m1s`.
    public static func duration(_ nanos: UInt64) -> String {
        if nanos < 1_000 { return "\(nanos)ns" }
        for (unit, scale) in [("µs", 1e3), ("ms", 1e6), ("s", 1e9)] {
            let value = Double(nanos) / scale
            // What rounds up to 1000 belongs to the next unit ("1ms", not "1000µs"); from 59.95 s on, minutes.
            if unit == "s" ? nanos < 59_950_000_000 : value < 999.5 { return significant(value) + unit }
        }
        let tenths = (nanos / 50_000_000 + 1) / 2  // whole tenths of a second, rounded half up
        if tenths < 36_000 {
            let rest = tenths % 600
            return "\(tenths / 600)m\(rest / 10)" + (rest % 10 == 0 ? "" : ".\(rest % 10)") + "s"
        }
        // Hours as Go prints them: 3h0m1s.
        let seconds = nanos / 1_000_000_000
        return "\(seconds / 3600)h\(seconds / 60 % 60)m\(seconds % 60)s"
    }

    /// `v` (1 ≤ v < 1000) with three significant digits, trailing zeros dropped.
    private static func significant(_ v: Double) -> String {
        trimmed(String(format: v < 9.995 ? "%.2f" : v < 99.95 ? "%.1f" : "%.0f", v))
    }

    private static func trimmed(_ text: String) -> String {
        guard text.contains(".") else { return text }
        var t = Substring(text)
        while t.hasSuffix("0") { t = t.dropLast() }
        if t.hasSuffix(".") { t = t.dropLast() }
        return String(t)
    }

    /// UTC, millisecond precision: `2024-05-01T12:00:00.123Z`.
    public static func timestamp(_ nanos: UInt64) -> String {
        let seconds = Int(nanos / 1_000_000_000)
        let millis = Int(nanos / 1_000_000 % 1000)
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), millis)
    }

    /// `key=value`, both escaped; arrays and key-value lists stay readable JSON.
    public static func attribute(_ attribute: KeyValue) -> String {
        let text = AttributeText.text(attribute.value)
        let value: String =
            switch attribute.value.value {
            case .arrayValue?, .kvlistValue?: TerminalSafeText.escapeJSON(text)
            default: TerminalSafeText.escape(text)
            }
        return TerminalSafeText.escape(attribute.key) + "=" + value
    }
}
