import CollectorCore

/// A compiled OTTL statement (`editor(...) where condition`) bound to the context it runs in. A class: a
/// processor runs each statement on every item, and one reference is cheaper to hold than the text and closures.
public final class OTTLStatement: Sendable {
    public let text: String
    public let context: OTTLContext
    private let editor: @Sendable (inout OTTLTarget) throws -> Void
    private let condition: (@Sendable (inout OTTLTarget) throws -> Bool)?

    /// Parses and binds `text`. With `context` nil, the context is the innermost one its paths name
    /// (`span.attributes[...]` → span), as otelcol infers it for the flat form of `trace_statements`.
    public init(_ text: String, context: OTTLContext?, signal: Signal) throws(OTTLParseError) {
        let syntax = try OTTLParser.statement(text)
        let bound = try OTTLInference.context(
            given: context, signal: signal, text: text,
            paths: OTTLInference.paths(in: syntax))
        let compiler = OTTLCompiler(text: text, context: bound)
        self.text = text
        self.context = bound
        self.editor = try OTTLEditors.compile(syntax.editor, compiler)
        self.condition = try syntax.condition.map { (c: OTTLSyntax.Condition) throws(OTTLParseError) in try compiler.condition(c) }
    }

    /// Runs the statement on one item: checks the `where` clause, then calls the editor.
    public func execute(_ target: inout OTTLTarget) throws {
        // Called through the optional, not bound to a local: binding copied (and retained) the closure per item.
        if try condition?(&target) == false { return }
        try editor(&target)
    }
}

/// A compiled OTTL condition (the part after `where`), as the routing connector's `condition` uses it.
public final class OTTLCondition: Sendable {
    public let text: String
    public let context: OTTLContext
    private let test: @Sendable (inout OTTLTarget) throws -> Bool

    public init(_ text: String, context: OTTLContext?, signal: Signal) throws(OTTLParseError) {
        let syntax = try OTTLParser.condition(text)
        var paths: [(names: [String], offset: Int)] = []
        OTTLInference.collect(syntax, into: &paths)
        let bound = try OTTLInference.context(given: context, signal: signal, text: text, paths: paths)
        self.text = text
        self.context = bound
        self.test = try OTTLCompiler(text: text, context: bound).condition(syntax)
    }

    public func evaluate(_ target: inout OTTLTarget) throws -> Bool { try test(&target) }
}

/// Which context a statement runs in when the config does not say.
enum OTTLInference {
    static func context(
        given: OTTLContext?, signal: Signal, text: String,
        paths: [(names: [String], offset: Int)]
    ) throws(OTTLParseError) -> OTTLContext {
        let allowed = OTTLContext.contexts(for: signal)
        if let given {
            guard allowed.contains(given) else {
                throw OTTLParseError(
                    text: text, offset: 0,
                    message: "the \(given.rawValue) context is not available for \(signal)"
                        + " (use \(allowed.map(\.rawValue).joined(separator: ", ")))")
            }
            return given
        }
        var named: [(OTTLContext, Int)] = []
        for p in paths where p.names.count > 1 {
            guard let c = OTTLContext.named(p.names[0]) else { continue }
            guard allowed.contains(c) else {
                throw OTTLParseError(text: text, offset: p.offset, message: "\(p.names[0]) paths cannot be used in \(signal) statements")
            }
            named.append((c, p.offset))
        }
        guard let deepest = named.max(by: { allowed.firstIndex(of: $0.0) ?? 0 < allowed.firstIndex(of: $1.0) ?? 0 }) else {
            if let stray = paths.first(where: { $0.names.count > 1 && OTTLContext.named($0.names[0]) == nil }) {
                throw OTTLParseError(
                    text: text, offset: stray.offset,
                    message: "\(stray.names[0]) is not a context: prefix paths with "
                        + allowed.map { "\($0.rawValue)." }.joined(separator: ", "))
            }
            throw OTTLParseError(
                text: text, offset: 0,
                message: "cannot tell which context this is for: prefix its paths with "
                    + allowed.map { "\($0.rawValue)." }.joined(separator: ", ") + " (or give the context explicitly)")
        }
        for (c, offset) in named where !deepest.0.reachable.contains(c) {
            throw OTTLParseError(text: text, offset: offset, message: "\(c.rawValue) and \(deepest.0.rawValue) paths cannot be mixed")
        }
        return deepest.0
    }

    static func paths(in statement: OTTLSyntax.Statement) -> [(names: [String], offset: Int)] {
        var out: [(names: [String], offset: Int)] = []
        collect(statement.editor, into: &out)
        if let c = statement.condition { collect(c, into: &out) }
        return out
    }

    static func collect(_ c: OTTLSyntax.Condition, into out: inout [(names: [String], offset: Int)]) {
        switch c {
        case .or(let terms), .and(let terms): for t in terms { collect(t, into: &out) }
        case .not(let inner): collect(inner, into: &out)
        case .compare(let l, _, let r):
            collect(l, into: &out)
            collect(r, into: &out)
        case .value(let n): collect(n, into: &out)
        }
    }

    static func collect(_ call: OTTLSyntax.Call, into out: inout [(names: [String], offset: Int)]) {
        for a in call.arguments { collect(a.value, into: &out) }
        for k in call.keys { collect(k, into: &out) }
    }

    static func collect(_ node: OTTLSyntax.Node, into out: inout [(names: [String], offset: Int)]) {
        switch node.value {
        case .path(let p):
            out.append((p.names, node.offset))
            for k in p.keys { collect(k, into: &out) }
        case .call(let call): collect(call, into: &out)
        case .list(let items): for i in items { collect(i, into: &out) }
        case .map(let entries): for e in entries { collect(e.value, into: &out) }
        case .math(let l, _, let r):
            collect(l, into: &out)
            collect(r, into: &out)
        case .string, .int, .double, .bool, .null, .bytes, .name: break
        }
    }
}
