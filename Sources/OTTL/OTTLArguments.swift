import CollectorCore

/// A call's arguments matched to a function's parameters (positional first, then by name), with helpers that
/// read literal arguments and report what is wrong with the argument's column.
struct OTTLArguments {
    typealias Node = OTTLSyntax.Node

    struct Parameter {
        var name: String
        var optional = false
        init(_ name: String, optional: Bool = false) {
            self.name = name
            self.optional = optional
        }
    }

    let call: OTTLSyntax.Call
    let compiler: OTTLCompiler
    private var nodes: [String: Node] = [:]

    init(_ call: OTTLSyntax.Call, _ parameters: [Parameter], _ compiler: OTTLCompiler) throws(OTTLParseError) {
        self.call = call
        self.compiler = compiler
        let signature = "\(call.name)(\(parameters.map { $0.optional ? "Optional[\($0.name)]" : $0.name }.joined(separator: ", ")))"
        var position = 0
        for argument in call.arguments {
            if let name = argument.name {
                guard parameters.contains(where: { $0.name == name }) else {
                    throw compiler.fail(argument.value, "\(call.name) has no parameter named \(name): \(signature)")
                }
                guard nodes[name] == nil else { throw compiler.fail(argument.value, "\(name) is given twice") }
                nodes[name] = argument.value
            } else {
                guard position < parameters.count else {
                    throw compiler.fail(argument.value, "too many arguments: \(signature)")
                }
                nodes[parameters[position].name] = argument.value
                position += 1
            }
        }
        for p in parameters where !p.optional && nodes[p.name] == nil {
            throw compiler.fail(at: call.offset, "\(call.name) needs its \(p.name) argument: \(signature)")
        }
    }

    func node(_ name: String) -> Node? { nodes[name] }

    /// The node of a required parameter (checked in `init`).
    func required(_ name: String) throws(OTTLParseError) -> Node {
        guard let n = nodes[name] else { throw compiler.fail(at: call.offset, "\(call.name) needs its \(name) argument") }
        return n
    }

    func value(_ name: String) throws(OTTLParseError) -> OTTLAccess.Getter {
        try compiler.value(try required(name))
    }

    func access(_ name: String) throws(OTTLParseError) -> OTTLAccess {
        try compiler.access(try required(name))
    }

    /// A path that can be written.
    func settable(_ name: String) throws(OTTLParseError) -> (
        get: OTTLAccess.Getter, set: OTTLAccess.Setter, update: OTTLAccess.Updater,
        setStored: OTTLAccess.StoredSetter?
    ) {
        let node = try required(name)
        let a = try compiler.access(node)
        guard let set = a.set else { throw compiler.fail(node, "this path cannot be set") }
        let get = a.get
        return (
            get, set,
            a.update ?? { t, change in
                if let new = try change(try get(&t)) { try set(&t, new) }
            },
            a.setStored
        )
    }

    /// A path to a map, edited in place.
    func map(_ name: String) throws(OTTLParseError) -> OTTLAccess.MapEditor {
        let node = try required(name)
        guard let edit = try compiler.access(node).editMap else { throw compiler.fail(node, "\(call.name) needs a path to a map here") }
        return edit
    }

    func string(_ name: String, default value: String? = nil) throws(OTTLParseError) -> String {
        guard let node = nodes[name] else {
            if let value { return value }
            throw compiler.fail(at: call.offset, "\(call.name) needs its \(name) argument")
        }
        guard case .string(let s) = node.value else { throw compiler.fail(node, "\(name) must be a string literal") }
        return s
    }

    func int(_ name: String) throws(OTTLParseError) -> Int64 {
        let node = try required(name)
        guard case .int(let i) = node.value else { throw compiler.fail(node, "\(name) must be an integer literal") }
        return i
    }

    func bool(_ name: String, default value: Bool) throws(OTTLParseError) -> Bool {
        guard let node = nodes[name] else { return value }
        guard case .bool(let b) = node.value else { throw compiler.fail(node, "\(name) must be true or false") }
        return b
    }

    func strings(_ name: String) throws(OTTLParseError) -> [String] {
        let node = try required(name)
        guard case .list(let items) = node.value else { throw compiler.fail(node, "\(name) must be a list of strings, such as [\"a\", \"b\"]") }
        var out: [String] = []
        for item in items {
            guard case .string(let s) = item.value else { throw compiler.fail(item, "\(name) must be a list of string literals") }
            out.append(s)
        }
        return out
    }

    func regex(_ name: String) throws(OTTLParseError) -> OTTLRegex {
        let node = try required(name)
        guard case .string(let pattern) = node.value else { throw compiler.fail(node, "\(name) must be a string literal regular expression") }
        do {
            return try OTTLRegex(pattern)
        } catch {
            throw compiler.fail(node, "regular expression \"\(pattern)\": \(error)")
        }
    }

    func glob(_ name: String) throws(OTTLParseError) -> OTTLGlob {
        let node = try required(name)
        guard case .string(let pattern) = node.value else { throw compiler.fail(node, "\(name) must be a string literal pattern") }
        guard let g = OTTLGlob(pattern) else { throw compiler.fail(node, "\"\(pattern)\" is not a valid glob pattern") }
        return g
    }

    /// The optional `function` (a converter passed by name, applied to a replacement) and `replacementFormat`.
    func replacementTransform() throws(OTTLParseError) -> OTTLReplacementTransform? {
        guard let fnNode = nodes["function"] else {
            if let f = nodes["replacementFormat"] { throw compiler.fail(f, "replacementFormat is used only with a function") }
            return nil
        }
        guard case .name(let fnName) = fnNode.value, let fn = OTTLConverters.stringFunction(fnName) else {
            throw compiler.fail(fnNode, "function must be a converter that takes a string, such as SHA256")
        }
        var format: String?
        if let f = nodes["replacementFormat"] {
            guard case .string(let s) = f.value else { throw compiler.fail(f, "replacementFormat must be a string literal") }
            guard s.components(separatedBy: "%s").count == 2, !s.replacingOccurrences(of: "%s", with: "").contains("%") else {
                throw compiler.fail(f, "replacementFormat must contain exactly one %s and no other format specifier")
            }
            format = s
        }
        return OTTLReplacementTransform(function: fn, format: format)
    }
}

/// `function` and `replacementFormat` of the replace editors: the replacement is passed through the function,
/// then put in place of `%s` in the format.
struct OTTLReplacementTransform: Sendable {
    var function: @Sendable (String) -> String
    var format: String?

    func apply(_ replacement: String) -> String {
        let transformed = function(replacement)
        guard let format else { return transformed }
        return format.replacingOccurrences(of: "%s", with: transformed)
    }
}
