/// Label names and values as the Prometheus exposition needs them (otelcol-contrib `normalize_label.go`).
public enum PrometheusLabels {
    /// A label name from an attribute key: characters other than ASCII letters and digits become `_`; a name that
    /// starts with a digit gets `key_`, one that starts with a single `_` gets `key` (`__` names are kept, except
    /// `__name__`, which would replace the metric name, and becomes `key__name__`).
    public static func sanitize(_ key: String) -> String {
        guard !key.isEmpty else { return key }
        // Fast path: already a plain name (letters, digits, `_` inside), the common case for attribute keys.
        if let first = key.utf8.first, PrometheusNaming.isLetter(first),
            key.utf8.allSatisfy({ PrometheusNaming.isLetter($0) || PrometheusNaming.isDigit($0) || $0 == UInt8(ascii: "_") })
        {
            return key
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(key.utf8.count)
        var changed = false
        for scalar in key.unicodeScalars {
            if scalar.isASCII, let b = UInt8(exactly: scalar.value), PrometheusNaming.isLetter(b) || PrometheusNaming.isDigit(b) {
                bytes.append(b)
            } else {
                bytes.append(UInt8(ascii: "_"))
                if scalar != "_" { changed = true }
            }
        }
        var out = changed ? String(decoding: bytes, as: UTF8.self) : key
        if let first = bytes.first, PrometheusNaming.isDigit(first) {
            out = "key_" + out
        } else if bytes.first == UInt8(ascii: "_") && !(bytes.count > 1 && bytes[1] == UInt8(ascii: "_")) {
            out = "key" + out
        } else if out == "__name__" {
            out = "key" + out  // the metric name itself: an attribute may not replace it
        }
        return out
    }

    /// `value` escaped for a label value in the text formats: `\` → `\\`, `"` → `\"`, newline → `\n`.
    public static func escapeValue(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == 92 || $0 == 34 || $0 == 10 }) else { return value }
        var out = ""
        out.reserveCapacity(value.utf8.count + 8)
        for c in value.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// `help` escaped for a `# HELP` line: `\` → `\\`, newline → `\n`.
    public static func escapeHelp(_ help: String) -> String {
        guard help.utf8.contains(where: { $0 == 92 || $0 == 10 }) else { return help }
        var out = ""
        for c in help.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A label set from attributes (in any order, keys unsanitized), as otelcol builds it: keys are sanitized, and
    /// values of keys that collide after sanitizing are joined with `;` in the order of their original keys. The
    /// result is sorted by label name.
    public static func build(_ pairs: [(key: String, value: String)]) -> [(name: String, value: String)] {
        var byName: [String: [(key: String, value: String)]] = [:]
        for p in pairs {
            byName[sanitize(p.key), default: []].append(p)
        }
        var out: [(name: String, value: String)] = []
        out.reserveCapacity(byName.count)
        for (name, list) in byName {
            if list.count == 1 {
                out.append((name, list[0].value))
            } else {
                out.append((name, list.sorted { $0.key < $1.key }.map(\.value).joined(separator: ";")))
            }
        }
        out.sort { $0.name < $1.name }
        return out
    }

    /// One label candidate: its (sanitized) name, the original key (for ordering joined values), its value, and
    /// whether it is a fixed label that overrides attributes of the same name.
    public struct Entry: Sendable {
        public var name: String
        public var key: String
        public var value: String
        public var fixed: Bool

        public init(name: String, key: String, value: String, fixed: Bool) {
            self.name = name
            self.key = key
            self.value = value
            self.fixed = fixed
        }

        /// An attribute: its key is sanitized into the label name.
        public static func attribute(_ key: String, _ value: String) -> Entry { Entry(name: sanitize(key), key: key, value: value, fixed: false) }
        /// A fixed label (`job`, `instance`, `otel_scope_*`, const labels): already a valid name.
        public static func fixed(_ name: String, _ value: String) -> Entry { Entry(name: name, key: "", value: value, fixed: true) }
    }

    /// The rendered label set (see ``render(_:)``) of `entries`: attribute values whose names collide are joined
    /// with `;` in the order of their original keys, and a fixed label overrides attributes of the same name.
    /// `nil` when a non-empty label named `reserved` would result. One sort of a small array and one string: this
    /// runs for every data point.
    public static func labelSet(_ entries: inout [Entry], reserving reserved: String? = nil) -> String? {
        entries.sort { a, b in
            if a.name != b.name { return a.name < b.name }
            if a.fixed != b.fixed { return a.fixed }
            return a.key < b.key
        }
        var out = ""
        out.reserveCapacity(entries.count * 24)
        var i = 0
        while i < entries.count {
            let name = entries[i].name
            var j = i + 1
            while j < entries.count && entries[j].name == name { j += 1 }
            var value = entries[i].value
            if !entries[i].fixed && j > i + 1 {
                for k in (i + 1)..<j { value += ";" + entries[k].value }
            }
            if !value.isEmpty && !name.isEmpty {
                if name == reserved { return nil }
                if !out.isEmpty { out += "," }
                out += name
                out += "=\""
                out += escapeValue(value)
                out += "\""
            }
            i = j
        }
        return out
    }

    /// The inside of `{…}` for a sorted label set: `a="x",b="y"`; labels with empty values are left out (in
    /// Prometheus an empty label is the same as no label).
    public static func render(_ labels: [(name: String, value: String)]) -> String {
        var out = ""
        for l in labels where !l.value.isEmpty {
            if !out.isEmpty { out += "," }
            out += l.name
            out += "=\""
            out += escapeValue(l.value)
            out += "\""
        }
        return out
    }
}
