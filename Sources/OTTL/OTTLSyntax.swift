/// The parsed form of an OTTL statement or condition, before it is bound to a context. Offsets are byte offsets
/// into the text, for error messages.
enum OTTLSyntax {
    struct Node: Sendable {
        var value: Value
        var offset: Int
    }

    indirect enum Value: Sendable {
        case string(String)
        case int(Int64)
        case double(Double)
        case bool(Bool)
        case null
        case bytes([UInt8])
        /// An upper-case name that is not called: an enum (`SPAN_KIND_SERVER`) or a function passed by name
        /// (`SHA256` as `replace_pattern`'s `function`).
        case name(String)
        case path(Path)
        case call(Call)
        case list([Node])
        case map([(key: String, value: Node)])
        case math(Node, Character, Node)
    }

    /// `resource.attributes["k"]["nested"]`: dotted names, then bracketed keys.
    struct Path: Sendable {
        var names: [String]
        var keys: [Node]
    }

    /// An editor (`set(...)`) or a converter (`Concat(...)`, possibly followed by keys: `ParseJSON(body)["k"]`).
    struct Call: Sendable {
        var name: String
        var arguments: [Argument]
        var keys: [Node]
        var offset: Int
    }

    struct Argument: Sendable {
        var name: String?
        var value: Node
    }

    indirect enum Condition: Sendable {
        case or([Condition])
        case and([Condition])
        case not(Condition)
        case compare(Node, OTTLComparison, Node)
        /// A value that must be a bool: `true`, `false`, a converter such as `IsMatch(...)`, or a path.
        case value(Node)
    }

    struct Statement: Sendable {
        var editor: Call
        var condition: Condition?
    }
}

/// A statement or condition that does not parse or bind: the text, the 1-based column and what is wrong.
public struct OTTLParseError: Error, CustomStringConvertible, Sendable {
    public var text: String
    /// 1-based column (byte offset + 1) where the problem is.
    public var column: Int
    public var message: String

    public init(text: String, offset: Int, message: String) {
        self.text = text
        self.column = offset + 1
        self.message = message
    }

    public var description: String { "\"\(text)\": column \(column): \(message)" }
}
