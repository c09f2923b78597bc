/// Recursive-descent parser for OTTL statements (`editor(args) where condition`) and conditions.
struct OTTLParser {
    typealias Node = OTTLSyntax.Node
    private let text: String
    private let tokens: [OTTLLexer.Token]
    private var index = 0
    /// Nesting depth, bounded so that hostile config cannot exhaust the stack.
    private var depth = 0
    private static let maxDepth = 64

    init(_ text: String) throws(OTTLParseError) {
        self.text = text
        self.tokens = try OTTLLexer.tokens(text)
    }

    static func statement(_ text: String) throws(OTTLParseError) -> OTTLSyntax.Statement {
        var p = try OTTLParser(text)
        guard case .identifier(let name) = p.current.kind, let first = name.first, first.isLowercase || first == "_",
            p.peek(1).kind == .punctuation("(")
        else {
            throw p.fail("a statement starts with an editor call, such as set(...)")
        }
        let editor = try p.call()
        var condition: OTTLSyntax.Condition?
        if p.current.kind == .identifier("where") {
            p.index += 1
            condition = try p.condition()
        }
        guard p.current.kind == .end else { throw p.fail("unexpected \(p.describe(p.current)) after the statement") }
        return OTTLSyntax.Statement(editor: editor, condition: condition)
    }

    static func condition(_ text: String) throws(OTTLParseError) -> OTTLSyntax.Condition {
        var p = try OTTLParser(text)
        let c = try p.condition()
        guard p.current.kind == .end else { throw p.fail("unexpected \(p.describe(p.current)) after the condition") }
        return c
    }

    // MARK: - Tokens

    private var current: OTTLLexer.Token { tokens[index] }
    private func peek(_ n: Int) -> OTTLLexer.Token { tokens[min(index + n, tokens.count - 1)] }

    private func fail(_ message: String, at offset: Int? = nil) -> OTTLParseError {
        OTTLParseError(text: text, offset: offset ?? current.offset, message: message)
    }

    private func describe(_ t: OTTLLexer.Token) -> String {
        switch t.kind {
        case .identifier(let s): return "'\(s)'"
        case .string: return "a string"
        case .int, .double: return "a number"
        case .bytes: return "a bytes literal"
        case .punctuation(let p): return "'\(p)'"
        case .end: return "the end of the text"
        }
    }

    private mutating func expect(_ p: String) throws(OTTLParseError) {
        guard current.kind == .punctuation(p) else { throw fail("expected '\(p)', found \(describe(current))") }
        index += 1
    }

    private mutating func enter() throws(OTTLParseError) {
        depth += 1
        if depth > Self.maxDepth { throw fail("expression nested more than \(Self.maxDepth) levels deep") }
    }

    // MARK: - Conditions

    private mutating func condition() throws(OTTLParseError) -> OTTLSyntax.Condition {
        try enter()
        defer { depth -= 1 }
        var terms = [try andCondition()]
        while current.kind == .identifier("or") {
            index += 1
            terms.append(try andCondition())
        }
        return terms.count == 1 ? terms[0] : .or(terms)
    }

    private mutating func andCondition() throws(OTTLParseError) -> OTTLSyntax.Condition {
        var terms = [try notCondition()]
        while current.kind == .identifier("and") {
            index += 1
            terms.append(try notCondition())
        }
        return terms.count == 1 ? terms[0] : .and(terms)
    }

    private mutating func notCondition() throws(OTTLParseError) -> OTTLSyntax.Condition {
        if current.kind == .identifier("not") {
            index += 1
            try enter()
            defer { depth -= 1 }
            return .not(try notCondition())
        }
        // "(" may open a condition group or a math expression: try the group, and fall back when a comparison or
        // an arithmetic operator follows its ")".
        if current.kind == .punctuation("(") {
            let saved = index
            index += 1
            if let inner = try? condition(), current.kind == .punctuation(")") {
                index += 1
                if !isComparison(current.kind) && !isMath(current.kind) { return inner }
            }
            index = saved
        }
        let lhs = try value()
        if case .punctuation(let p) = current.kind, let op = OTTLComparison(rawValue: p) {
            index += 1
            let rhs = try value()
            return .compare(lhs, op, rhs)
        }
        return .value(lhs)
    }

    private func isComparison(_ k: OTTLLexer.Kind) -> Bool {
        if case .punctuation(let p) = k { return OTTLComparison(rawValue: p) != nil }
        return false
    }

    private func isMath(_ k: OTTLLexer.Kind) -> Bool {
        if case .punctuation(let p) = k { return ["+", "-", "*", "/"].contains(p) }
        return false
    }

    // MARK: - Values

    /// A value, with `+ - * /` (usual precedence) between terms.
    private mutating func value() throws(OTTLParseError) -> Node {
        try enter()
        defer { depth -= 1 }
        var lhs = try term()
        while case .punctuation(let p) = current.kind, p == "+" || p == "-" {
            let at = current.offset
            index += 1
            let rhs = try term()
            lhs = Node(value: .math(lhs, Character(p), rhs), offset: at)
        }
        return lhs
    }

    private mutating func term() throws(OTTLParseError) -> Node {
        var lhs = try factor()
        while case .punctuation(let p) = current.kind, p == "*" || p == "/" {
            let at = current.offset
            index += 1
            let rhs = try factor()
            lhs = Node(value: .math(lhs, Character(p), rhs), offset: at)
        }
        return lhs
    }

    private mutating func factor() throws(OTTLParseError) -> Node {
        let t = current
        switch t.kind {
        case .punctuation("("):
            index += 1
            let inner = try value()
            try expect(")")
            return inner
        case .string(let s):
            index += 1
            return Node(value: .string(s), offset: t.offset)
        case .int(let v):
            index += 1
            return Node(value: .int(v), offset: t.offset)
        case .double(let v):
            index += 1
            return Node(value: .double(v), offset: t.offset)
        case .bytes(let v):
            index += 1
            return Node(value: .bytes(v), offset: t.offset)
        case .punctuation("["):
            index += 1
            var items: [Node] = []
            if current.kind != .punctuation("]") {
                items.append(try value())
                while current.kind == .punctuation(",") {
                    index += 1
                    items.append(try value())
                }
            }
            try expect("]")
            return Node(value: .list(items), offset: t.offset)
        case .punctuation("{"):
            index += 1
            var entries: [(key: String, value: Node)] = []
            if current.kind != .punctuation("}") {
                repeat {
                    if current.kind == .punctuation(",") { index += 1 }
                    guard case .string(let key) = current.kind else { throw fail("map keys are strings") }
                    index += 1
                    try expect(":")
                    entries.append((key, try value()))
                } while current.kind == .punctuation(",")
            }
            try expect("}")
            return Node(value: .map(entries), offset: t.offset)
        case .identifier(let name):
            switch name {
            case "true":
                index += 1
                return Node(value: .bool(true), offset: t.offset)
            case "false":
                index += 1
                return Node(value: .bool(false), offset: t.offset)
            case "nil":
                index += 1
                return Node(value: .null, offset: t.offset)
            case "where", "and", "or", "not": throw fail("expected a value, found '\(name)'")
            default: break
            }
            if peek(1).kind == .punctuation("(") {
                guard name.first?.isUppercase == true else {
                    throw fail("\(name) is an editor; only converters (names starting with an upper-case letter) give values")
                }
                return Node(value: .call(try call()), offset: t.offset)
            }
            if name.first?.isUppercase == true {
                index += 1
                return Node(value: .name(name), offset: t.offset)
            }
            return Node(value: .path(try path()), offset: t.offset)
        default:
            throw fail("expected a value, found \(describe(t))")
        }
    }

    private mutating func path() throws(OTTLParseError) -> OTTLSyntax.Path {
        guard case .identifier(let first) = current.kind else { throw fail("expected a path") }
        index += 1
        var names = [first]
        while current.kind == .punctuation(".") {
            index += 1
            guard case .identifier(let next) = current.kind else { throw fail("expected a name after '.'") }
            names.append(next)
            index += 1
        }
        return OTTLSyntax.Path(names: names, keys: try keys())
    }

    private mutating func keys() throws(OTTLParseError) -> [Node] {
        var keys: [Node] = []
        while current.kind == .punctuation("[") {
            index += 1
            keys.append(try value())
            try expect("]")
        }
        return keys
    }

    private mutating func call() throws(OTTLParseError) -> OTTLSyntax.Call {
        guard case .identifier(let name) = current.kind else { throw fail("expected a function name") }
        let at = current.offset
        index += 1
        try expect("(")
        try enter()
        defer { depth -= 1 }
        var arguments: [OTTLSyntax.Argument] = []
        if current.kind != .punctuation(")") {
            repeat {
                if current.kind == .punctuation(",") { index += 1 }
                if case .identifier(let argName) = current.kind, peek(1).kind == .punctuation("=") {
                    index += 2
                    arguments.append(OTTLSyntax.Argument(name: argName, value: try value()))
                } else {
                    if arguments.contains(where: { $0.name != nil }) {
                        throw fail("positional arguments must come before named ones")
                    }
                    arguments.append(OTTLSyntax.Argument(name: nil, value: try value()))
                }
            } while current.kind == .punctuation(",")
        }
        try expect(")")
        return OTTLSyntax.Call(name: name, arguments: arguments, keys: try keys(), offset: at)
    }
}
