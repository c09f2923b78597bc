/// The kind of a component, as in the config's top-level sections.
public enum ComponentKind: String, Sendable, CaseIterable, CustomStringConvertible {
    case receiver
    case processor
    case exporter
    case `extension`
    case connector

    /// The config section that declares components of this kind (`receivers`, ...).
    public var section: String { rawValue + "s" }
    public var description: String { rawValue }
}

/// A component's identity in config: `type` or `type/name` (e.g. `otlp`, `sqlite/archive`).
public struct ComponentID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var type: String
    public var name: String?

    public init(type: String, name: String? = nil) {
        self.type = type
        self.name = name
    }

    /// Parses `type` or `type/name`. Types are lower-case letters, digits and `_`, starting with a letter;
    /// names are non-empty and may not contain `/` or whitespace.
    public init(parsing text: String) throws(ConfigProblem) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let type = parts[0]
        guard let first = type.unicodeScalars.first, ("a"..."z").contains(first),
            type.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })
        else {
            throw ConfigProblem("invalid component id \"\(text)\": the type must be lower-case letters, digits or \"_\", starting with a letter")
        }
        var name: String?
        if parts.count == 2 {
            let n = parts[1]
            guard !n.isEmpty, !n.contains("/"), !n.contains(where: { $0.isWhitespace }) else {
                throw ConfigProblem("invalid component id \"\(text)\": the name after \"/\" must be non-empty, without \"/\" or spaces")
            }
            name = n
        }
        self.init(type: type, name: name)
    }

    public var description: String { name.map { "\(type)/\($0)" } ?? type }

    public static func < (a: ComponentID, b: ComponentID) -> Bool { a.description < b.description }
}

/// A pipeline's identity: its signal plus an optional name (`traces`, `traces/2`).
public struct PipelineID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var signal: Signal
    public var name: String?

    public init(signal: Signal, name: String? = nil) {
        self.signal = signal
        self.name = name
    }

    public init(parsing text: String) throws(ConfigProblem) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let signal = Signal(rawValue: parts[0]) else {
            throw ConfigProblem("unknown signal \"\(parts[0])\": pipelines are named traces, metrics or logs, optionally followed by /name")
        }
        if parts.count == 2, parts[1].isEmpty {
            throw ConfigProblem("pipeline name after \"/\" must not be empty")
        }
        self.init(signal: signal, name: parts.count == 2 ? parts[1] : nil)
    }

    public var description: String { name.map { "\(signal)/\($0)" } ?? signal.rawValue }
    public static func < (a: PipelineID, b: PipelineID) -> Bool { a.description < b.description }
}
