import Foundation
import OTLP

/// Conversions between attribute values, config scalars and text, with otelcol's (pdata's) rules.
public enum AttributeValueText {
    // MARK: - Config scalars → values

    /// The value a YAML node stands for, typed as otelcol types it (yaml.v3 into `any`, then pdata's `FromRaw`):
    /// `true`/`false` → bool, integers (decimal, `0x`, `0o`, `0b`, `_` separators) → int, floats (incl. `.inf`,
    /// `.nan`) → double, anything else → string; lists → array, mappings → map. nil for `null`.
    ///
    /// otelsink's config tree keeps a scalar's text but not whether it was quoted, so `"123"` is read as the int
    /// 123 (otelcol would read a string); documented in docs/configuration.md.
    public static func value(from node: ConfigNode) -> AnyValue? {
        switch node {
        case .null: return nil
        case .scalar(let text): return scalar(text)
        case .sequence(let items):
            var array = Opentelemetry_Proto_Common_V1_ArrayValue()
            array.values = items.map { value(from: $0) ?? AnyValue() }
            var v = AnyValue()
            v.arrayValue = array
            return v
        case .mapping(let entries):
            var list = Opentelemetry_Proto_Common_V1_KeyValueList()
            list.values = entries.map { entry in
                var kv = KeyValue()
                kv.key = entry.key
                if let v = value(from: entry.value) { kv.value = v }
                return kv
            }
            var v = AnyValue()
            v.kvlistValue = list
            return v
        }
    }

    public static func scalar(_ text: String) -> AnyValue {
        var v = AnyValue()
        switch text {
        case "true", "True", "TRUE":
            v.boolValue = true
            return v
        case "false", "False", "FALSE":
            v.boolValue = false
            return v
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF":
            v.doubleValue = .infinity
            return v
        case "-.inf", "-.Inf", "-.INF":
            v.doubleValue = -.infinity
            return v
        case ".nan", ".NaN", ".NAN":
            v.doubleValue = .nan
            return v
        default: break
        }
        if let i = yamlInt(text) {
            v.intValue = i
            return v
        }
        if isYAMLFloat(text), let d = Double(text) {
            v.doubleValue = d
            return v
        }
        return .string(text)
    }

    private static func yamlInt(_ text: String) -> Int64? {
        var s = Substring(text.replacingOccurrences(of: "_", with: ""))
        var negative = false
        if s.first == "-" || s.first == "+" {
            negative = s.first == "-"
            s = s.dropFirst()
        }
        guard !s.isEmpty else { return nil }
        var radix = 10
        if s.count > 2, s.hasPrefix("0x") || s.hasPrefix("0X") {
            radix = 16
            s = s.dropFirst(2)
        } else if s.count > 2, s.hasPrefix("0o") || s.hasPrefix("0O") {
            radix = 8
            s = s.dropFirst(2)
        } else if s.count > 2, s.hasPrefix("0b") || s.hasPrefix("0B") {
            radix = 2
            s = s.dropFirst(2)
        }
        guard s.allSatisfy({ $0.isHexDigit }), let magnitude = UInt64(s, radix: radix) else { return nil }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// YAML 1.2 core schema float: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
    private static func isYAMLFloat(_ text: String) -> Bool {
        var u = Substring(text).utf8[...]
        if let f = u.first, f == UInt8(ascii: "-") || f == UInt8(ascii: "+") { u = u.dropFirst() }
        func digits() -> Int {
            var n = 0
            while let c = u.first, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
                u = u.dropFirst()
                n += 1
            }
            return n
        }
        let intDigits = digits()
        var fracDigits = 0
        if u.first == UInt8(ascii: ".") {
            u = u.dropFirst()
            fracDigits = digits()
        }
        guard intDigits > 0 || fracDigits > 0 else { return false }
        if let e = u.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            u = u.dropFirst()
            if let s = u.first, s == UInt8(ascii: "-") || s == UInt8(ascii: "+") { u = u.dropFirst() }
            guard digits() > 0 else { return false }
        }
        return u.isEmpty
    }

    // MARK: - Values → text

    /// pdata's `Value.AsString()`: strings as they are, bools `true`/`false`, ints in decimal, doubles as
    /// JavaScript prints numbers, bytes in base64, arrays and maps as JSON, an empty value as "".
    public static func asString(_ value: AnyValue) -> String {
        switch value.value {
        case .stringValue(let s)?: return s
        case .boolValue(let b)?: return b ? "true" : "false"
        case .intValue(let i)?: return String(i)
        case .doubleValue(let d)?:
            guard d.isFinite else { return "json: unsupported value: " + (d.isNaN ? "NaN" : d > 0 ? "+Inf" : "-Inf") }
            return jsonNumber(d)
        case .bytesValue(let b)?: return b.base64EncodedString()
        case .arrayValue?, .kvlistValue?:
            var out = ""
            appendJSON(value, to: &out)
            return out
        case nil, .stringValueStrindex?: return ""
        }
    }

    /// The text otelcol's attribute matcher compares a regexp against: strings, bools, ints, and doubles in Go's
    /// `%f`-style shortest form; nil for other types (they never match a regexp).
    public static func matchText(_ value: AnyValue) -> String? {
        switch value.value {
        case .stringValue(let s)?: return s
        case .boolValue(let b)?: return b ? "true" : "false"
        case .intValue(let i)?: return String(i)
        case .doubleValue(let d)?: return formatFixed(d)
        default: return nil
        }
    }

    /// The shortest decimal digits that round-trip `d` and the position of the decimal point (`0.d1d2… × 10^exp`).
    private static func shortestDigits(_ d: Double) -> (digits: [UInt8], pointPosition: Int) {
        // Swift's description is the shortest round-trip representation; take its digits and exponent apart.
        let text = "\(abs(d))"
        var mantissa = Substring(text)
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        let intPart = parts.first.map(String.init) ?? "0"
        let fracPart = parts.count > 1 ? String(parts[1]) : ""
        var digits = Array((intPart + fracPart).utf8).map { $0 - UInt8(ascii: "0") }
        var point = intPart.count + exponent
        while digits.count > 1, digits.first == 0 {
            digits.removeFirst()
            point -= 1
        }
        while digits.count > 1, digits.last == 0 { digits.removeLast() }
        if digits == [0] { point = 1 }
        return (digits, point)
    }

    /// Go's `strconv.FormatFloat(d, 'f', -1, 64)`.
    public static func formatFixed(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d > 0 ? "+Inf" : "-Inf" }
        let (digits, point) = shortestDigits(d)
        var out = d.sign == .minus ? "-" : ""
        let chars = digits.map { Character(UnicodeScalar($0 + UInt8(ascii: "0"))) }
        if point <= 0 {
            out += "0." + String(repeating: "0", count: -point) + String(chars)
        } else if point >= chars.count {
            out += String(chars) + String(repeating: "0", count: point - chars.count)
        } else {
            out += String(chars[..<point]) + "." + String(chars[point...])
        }
        return out
    }

    /// Numbers as Go's encoding/json (and pdata's `AsString`) print them: fixed notation, or exponent notation
    /// below 1e-6 and from 1e21 (`1e-7`, `1e+21`).
    public static func jsonNumber(_ d: Double) -> String {
        let a = abs(d)
        guard a != 0, a < 1e-6 || a >= 1e21 else { return formatFixed(d) }
        let (digits, point) = shortestDigits(d)
        let chars = digits.map { Character(UnicodeScalar($0 + UInt8(ascii: "0"))) }
        var out = d < 0 ? "-" : ""
        out.append(chars[0])
        if chars.count > 1 { out += "." + String(chars[1...]) }
        let exp = point - 1
        out += exp < 0 ? "e-\(-exp)" : "e+\(exp)"
        return out
    }

    private static func appendJSON(_ value: AnyValue, to out: inout String) {
        switch value.value {
        case .stringValue(let s)?: appendJSONString(s, to: &out)
        case .boolValue(let b)?: out += b ? "true" : "false"
        case .intValue(let i)?: out += String(i)
        case .doubleValue(let d)?: out += d.isFinite ? jsonNumber(d) : "null"
        case .bytesValue(let b)?: appendJSONString(b.base64EncodedString(), to: &out)
        case .arrayValue(let a)?:
            out += "["
            for (i, v) in a.values.enumerated() {
                if i > 0 { out += "," }
                appendJSON(v, to: &out)
            }
            out += "]"
        case .kvlistValue(let m)?:
            // Go marshals a map with its keys sorted; a repeated key keeps its last value.
            var byKey: [String: AnyValue] = [:]
            for kv in m.values { byKey[kv.key] = kv.value }
            out += "{"
            for (i, key) in byKey.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                appendJSONString(key, to: &out)
                out += ":"
                if let v = byKey[key] { appendJSON(v, to: &out) }
            }
            out += "}"
        case nil, .stringValueStrindex?: out += "null"
        }
    }

    /// A JSON string with Go's escaping (including `<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026`).
    private static func appendJSONString(_ s: String, to out: inout String) {
        JSONStringLiteral.append(s, to: &out, htmlSafe: true)
    }

    /// Go's `strconv.ParseInt(s, 10, 64)`: optional sign, decimal digits only.
    public static func goParseInt(_ s: String) -> Int64? {
        var body = Substring(s)
        if body.first == "+" || body.first == "-" { body = body.dropFirst() }
        guard !body.isEmpty, body.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int64(s.first == "+" ? String(s.dropFirst()) : s)
    }

    /// Go's `strconv.ParseFloat(s, 64)`, for the forms people send: decimal and exponent notation, `inf`,
    /// `infinity`, `nan` (any case), hex floats; `_` separators are not accepted.
    public static func goParseFloat(_ s: String) -> Double? {
        guard !s.isEmpty, !s.contains("_"), !s.contains(where: \.isWhitespace) else { return nil }
        var body = Substring(s.lowercased())
        if body.first == "+" || body.first == "-" { body = body.dropFirst() }
        switch body {
        case "inf", "infinity": return s.hasPrefix("-") ? -.infinity : .infinity
        case "nan": return .nan
        default: break
        }
        guard body.first?.isNumber == true || body.first == "." else { return nil }
        return Double(s)
    }
}
