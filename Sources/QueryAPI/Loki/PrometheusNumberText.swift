/// Numbers as Prometheus and Loki write them in JSON answers.
public enum PrometheusNumberText {
    /// A sample value as Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest digits that read back as `v`,
    /// never in exponent form (`1`, `0.5`, `1000000`, `0.00001`), and `NaN`, `+Inf`, `-Inf`.
    public static func value(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v < 0 ? "-Inf" : "+Inf" }
        let sign = v.sign == .minus ? "-" : ""
        // Swift's description is the shortest round-trip text, possibly with an exponent ("1e-05", "1.5e+20").
        let text = "\(v.magnitude)"
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...].drop { $0 == "+" }) ?? 0
        }
        let point = mantissa.firstIndex(of: ".")
        let integerDigits = point.map { mantissa[..<$0] } ?? mantissa
        let fractionDigits = point.map { mantissa[mantissa.index(after: $0)...] } ?? ""
        var digits = Array(integerDigits + fractionDigits)
        var pointPosition = integerDigits.count + exponent
        // Leading zeros ("0.5" → digits "05", point 1) do not change the value.
        while digits.count > 1, digits.first == "0" {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.count > 1, digits.last == "0", digits.count > max(pointPosition, 1) { digits.removeLast() }
        var out: String
        if pointPosition <= 0 {
            out = "0." + String(repeating: "0", count: -pointPosition) + String(digits)
        } else if pointPosition >= digits.count {
            out = String(digits) + String(repeating: "0", count: pointPosition - digits.count)
        } else {
            out = String(digits[..<pointPosition]) + "." + String(digits[pointPosition...])
        }
        if out.contains("."), out.hasSuffix("0") {
            while out.hasSuffix("0") { out.removeLast() }
            if out.hasSuffix(".") { out.removeLast() }
        }
        if out == "0" || out.isEmpty { return sign + "0" }
        return sign + out
    }

    /// A step time as Loki writes it: milliseconds (nanoseconds truncated, as Loki's evaluator does) as seconds,
    /// a JSON number like `1588889221` or `1588889221.5` (Prometheus's `model.Time`).
    public static func seconds(fromNanos nanos: Int64) -> JSON {
        let ms = nanos / 1_000_000
        return .double(Double(ms) / 1000)
    }
}
