/// A parsed YAML document: the config tree before any component reads it.
///
/// Scalars keep their text; components ask for the type they need through ``ConfigReader``, which reports
/// a mismatch with the key's path. Mappings keep their key order so `print-config` shows keys as written.
public indirect enum ConfigNode: Sendable, Equatable {
    case null
    case scalar(String)
    case sequence([ConfigNode])
    case mapping([(key: String, value: ConfigNode)])

    public static func == (a: ConfigNode, b: ConfigNode) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.scalar(let x), .scalar(let y)): x == y
        case (.sequence(let x), .sequence(let y)): x == y
        case (.mapping(let x), .mapping(let y)):
            x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    /// The value at `key` when this is a mapping.
    public subscript(key: String) -> ConfigNode? {
        guard case .mapping(let entries) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }

    /// A short name for the node's shape, used in error messages.
    public var kindName: String {
        switch self {
        case .null: "nothing"
        case .scalar: "a scalar"
        case .sequence: "a list"
        case .mapping: "a mapping"
        }
    }
}

/// One problem found in a config, with the path of the key it concerns (`exporters::sqlite::retention`).
public struct ConfigProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(path: String = "", _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Every problem found while loading a config; loading reports them all at once.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public var problems: [ConfigProblem]

    public init(_ problems: [ConfigProblem]) { self.problems = problems }

    public var description: String {
        let noun = problems.count == 1 ? "problem" : "problems"
        return "invalid configuration (\(problems.count) \(noun)):\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// Collects problems while a config is read. Not shared across tasks: one load, one collector.
public final class ConfigProblems {
    public private(set) var all: [ConfigProblem] = []
    /// Extensions that settings refer to (`auth: {authenticator: ID}`, `sending_queue: {storage: ID}`), with the
    /// path of the reference and the role the extension must play: checked once every section has been read.
    public private(set) var extensionReferences: [(path: String, id: String, role: ExtensionRole)] = []
    public init() {}
    public func addExtensionReference(path: String, id: String, role: ExtensionRole) { extensionReferences.append((path, id, role)) }
    public func add(_ problem: ConfigProblem) { all.append(problem) }
    public func add(path: String, _ message: String) { all.append(ConfigProblem(path: path, message)) }
    public var isEmpty: Bool { all.isEmpty }
}

extension ConfigNode {
    /// The node as YAML text (block style, keys in order).
    public func yaml() -> String {
        var out = ""
        emit(into: &out, indent: 0, inList: false)
        return out
    }

    private func emit(into out: inout String, indent: Int, inList: Bool) {
        let pad = String(repeating: "  ", count: indent)
        switch self {
        case .mapping(let entries):
            if entries.isEmpty {
                out += " {}\n"
                return
            }
            if inList == false && indent > 0 { out += "\n" }
            for (i, (key, value)) in entries.enumerated() {
                out += (inList && i == 0 ? "" : pad) + Self.quoted(key) + ":"
                switch value {
                case .mapping(let e) where !e.isEmpty:
                    value.emit(into: &out, indent: indent + 1, inList: false)
                case .sequence(let items) where !items.isEmpty:
                    out += "\n"
                    value.emit(into: &out, indent: indent + 1, inList: false)
                default:
                    value.emit(into: &out, indent: indent + 1, inList: false)
                }
            }
        case .sequence(let items):
            if items.isEmpty {
                out += " []\n"
                return
            }
            for item in items {
                out += pad + "- "
                switch item {
                case .mapping(let e) where !e.isEmpty: item.emit(into: &out, indent: indent + 1, inList: true)
                default:
                    var line = ""
                    item.emit(into: &line, indent: indent + 1, inList: true)
                    out += line.hasPrefix(" ") ? String(line.dropFirst()) : line
                }
            }
        case .scalar(let s):
            out += " " + Self.quoted(s) + "\n"
        case .null:
            out += "\n"
        }
    }

    /// Quotes a scalar when plain YAML would read it differently.
    static func quoted(_ s: String) -> String {
        let plainSafe =
            !s.isEmpty
            && s.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "._-/:".unicodeScalars.contains($0)
            } && !s.hasPrefix("-") && !s.hasSuffix(":") && !s.contains(": ")
            && !["null", "~", "true", "false", "yes", "no", "on", "off", "y", "n"].contains(s.lowercased())
        if plainSafe { return s }
        var escaped = "\""
        for c in s.unicodeScalars {
            switch c {
            case "$": escaped += "$$"  // read back through env substitution, $$ is a literal $
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            default: escaped.unicodeScalars.append(c)
            }
        }
        return escaped + "\""
    }
}
