import Foundation
import OTLP

/// The labels of a log stream, as Loki's API shows them: `service_name`, `level`, `scope_name` and every resource
/// attribute, with names made valid label names (dots and other characters turned into underscores).
public enum LogStreamLabels {
    /// A valid Loki/Prometheus label name for an attribute key: `[a-zA-Z_][a-zA-Z0-9_]*`.
    public static func labelName(_ key: String) -> String {
        var out = ""
        out.reserveCapacity(key.utf8.count)
        for (i, scalar) in key.unicodeScalars.enumerated() {
            let isLetter = (scalar >= "a" && scalar <= "z") || (scalar >= "A" && scalar <= "Z") || scalar == "_"
            let isDigit = scalar >= "0" && scalar <= "9"
            if isLetter || (isDigit && i > 0) {
                out.unicodeScalars.append(scalar)
            } else {
                if isDigit { out.append("_") }
                out.append(isDigit ? Character(scalar) : "_")
            }
        }
        return out.isEmpty ? "_" : out
    }

    /// The `level` label: the severity text as sent, or, when there is none, the severity number's range in
    /// lower case (`trace` … `fatal`), `unknown` when unset.
    public static func level(severityText: String, severityNumber: Int32) -> String {
        if !severityText.isEmpty { return severityText }
        return levelName(severityNumber)
    }

    /// The name of a severity number's range (1–4 trace, 5–8 debug, 9–12 info, 13–16 warn, 17–20 error,
    /// 21–24 fatal).
    public static func levelName(_ number: Int32) -> String {
        switch number {
        case 1...4: "trace"
        case 5...8: "debug"
        case 9...12: "info"
        case 13...16: "warn"
        case 17...20: "error"
        case 21...24: "fatal"
        default: "unknown"
        }
    }

    /// The lowest severity number of a level name (`warn`, `WARNING`, `error`, a number …); nil when unknown.
    public static func minimumSeverity(_ text: String) -> Int32? {
        if let n = Int32(text), (0...24).contains(n) { return n }
        switch text.lowercased() {
        case "trace": return 1
        case "debug": return 5
        case "info": return 9
        case "warn", "warning": return 13
        case "error": return 17
        case "fatal", "critical": return 21
        default: return nil
        }
    }

    /// The labels of the stream of `resource`, `scopeName` and `level`, in name order.
    public static func labels(resource: Resource, service: String, scopeName: String, level: String) -> [(name: String, value: String)] {
        var labels: [String: String] = [:]
        for attribute in resource.attributes {
            labels[labelName(attribute.key)] = AttributeText.text(attribute.value)
        }
        labels["service_name"] = service
        if !scopeName.isEmpty { labels["scope_name"] = scopeName }
        labels["level"] = level
        return labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    /// Labels as the JSON object stored in `log_streams.labels`.
    static func json(_ labels: [(name: String, value: String)]) -> String {
        let object = Dictionary(labels.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// The labels stored by ``json(_:)``.
    static func parse(_ json: String) -> [String: String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String] else { return [:] }
        return object
    }
}
