import QueryAPI

/// Durations on the command line: Go's syntax (`200ms`, `1.5s`, `1h30m`), and days (`2d`, `7d`, `0.5d`), which
/// Go's syntax lacks and people reach for with `--since`.
enum CLIDuration {
    static func nanos(_ text: String) -> Int64? {
        if text.hasSuffix("d") {
            guard let days = Double(text.dropLast()), days >= 0, days.isFinite, days * 86_400e9 < 9.2e18 else { return nil }
            return Int64(days * 86_400e9)
        }
        return QueryValues.goDuration(text)
    }
}
