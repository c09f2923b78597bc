import OTLP

/// Binds parsed OTTL to one context: paths become accessors of ``OTTLTarget``, values and conditions become
/// closures. Everything that can be checked before data arrives is checked here and reported with its column.
struct OTTLCompiler {
    typealias Node = OTTLSyntax.Node
    typealias Getter = OTTLAccess.Getter
    typealias Predicate = @Sendable (inout OTTLTarget) throws -> Bool

    let text: String
    let context: OTTLContext

    func fail(_ node: Node, _ message: String) -> OTTLParseError {
        OTTLParseError(text: text, offset: node.offset, message: message)
    }

    func fail(at offset: Int, _ message: String) -> OTTLParseError {
        OTTLParseError(text: text, offset: offset, message: message)
    }

    // MARK: - Paths

    /// The accessor for a path node; an error for anything else.
    func access(_ node: Node) throws(OTTLParseError) -> OTTLAccess {
        guard case .path(let path) = node.value else { throw fail(node, "expected a path such as attributes[\"key\"]") }
        var names = path.names
        var level = context
        if let named = OTTLContext.named(names[0]), names.count > 1 {
            guard context.reachable.contains(named) else {
                throw fail(node, "\(names[0]) paths cannot be used in the \(context.rawValue) context")
            }
            level = named
            names.removeFirst()
        }
        if names == ["cache"] { throw fail(node, "the cache path is not supported by otelsink") }
        guard let field = OTTLPaths.field(level, names) else {
            let known = OTTLPaths.names(level).joined(separator: ", ")
            throw fail(node, "unknown path \(names.joined(separator: ".")) in \(level.rawValue) (known: \(known))")
        }
        let keys = try path.keys.map { (k: Node) throws(OTTLParseError) -> KeyGetter in try key(k) }
        switch field {
        case .scalar(let get, let set):
            guard keys.isEmpty else { throw fail(node, "\(names.joined(separator: ".")) cannot be indexed") }
            return OTTLAccess(get: get, set: set, editMap: nil)
        case .map(let read, let edit):
            return mapAccess(read: read, edit: edit, keys: keys)
        case .any(let read, let write):
            return anyAccess(read: read, write: write, keys: keys)
        }
    }

    /// A key: a constant, or evaluated each time.
    enum KeyGetter: Sendable {
        case constant(OTTLKey)
        case computed(Getter)
    }

    private func key(_ node: Node) throws(OTTLParseError) -> KeyGetter {
        switch node.value {
        case .string(let s): return .constant(.string(s))
        case .int(let i): return .constant(.int(i))
        case .path, .call: return .computed(try value(node))
        default: throw fail(node, "a key must be a string, an int, a path or a converter")
        }
    }

    private static func resolve(_ keys: [KeyGetter], _ t: inout OTTLTarget) throws -> [OTTLKey] {
        var out: [OTTLKey] = []
        out.reserveCapacity(keys.count)
        for k in keys {
            switch k {
            case .constant(let c): out.append(c)
            case .computed(let g): out.append(try OTTLKey(g(&t)))
            }
        }
        return out
    }

    private func mapAccess(
        read: @escaping @Sendable (inout OTTLTarget) -> [KeyValue], edit: @escaping OTTLAccess.MapEditor,
        keys: [KeyGetter]
    ) -> OTTLAccess {
        if keys.isEmpty {
            return OTTLAccess(
                get: { .map(read(&$0)) },
                set: { t, v in
                    guard case .map(let m) = v else { throw OTTLRuntimeError("a map is expected, got \(v.typeName)") }
                    try edit(&t) { $0 = m }
                },
                editMap: edit)
        }
        // The common case, `attributes["k"]`, without building key arrays.
        if keys.count == 1, case .constant(.string(let k)) = keys[0] {
            let match = OTTLKeyMatch(k)
            let put: OTTLAccess.StoredSetter = { t, new in
                try edit(&t) { list in
                    if let i = match.index(in: list) {
                        list[i].value = new
                    } else {
                        var kv = KeyValue()
                        kv.key = k
                        kv.value = new
                        list.append(kv)
                    }
                }
            }
            return OTTLAccess(
                get: { t in
                    let list = read(&t)
                    guard let i = match.index(in: list) else { return .null }
                    return OTTLValue(list[i].value)
                },
                set: { t, v in try put(&t, try Self.storable(v)) },
                editMap: { t, body in try edit(&t) { try OTTLKeyedAccess.editMap(&$0, [.string(k)], body) } },
                update: { t, change in
                    try edit(&t) { list in
                        if let i = match.index(in: list) {
                            if let new = try change(OTTLValue(list[i].value)) { list[i].value = try Self.storable(new) }
                        } else if let new = try change(.null) {
                            var kv = KeyValue()
                            kv.key = k
                            kv.value = try Self.storable(new)
                            list.append(kv)
                        }
                    }
                },
                setStored: put)
        }
        return OTTLAccess(
            get: { t in try OTTLKeyedAccess.get(read(&t), Self.resolve(keys, &t)[...]) },
            set: { t, v in
                let new = try Self.storable(v)
                let resolved = try Self.resolve(keys, &t)
                try edit(&t) { try OTTLKeyedAccess.set(&$0, resolved[...], new) }
            },
            editMap: { t, body in
                let resolved = try Self.resolve(keys, &t)
                try edit(&t) { try OTTLKeyedAccess.editMap(&$0, resolved[...], body) }
            })
    }

    private func anyAccess(
        read: @escaping @Sendable (inout OTTLTarget) -> AnyValue, write: @escaping @Sendable (inout OTTLTarget, AnyValue) -> Void,
        keys: [KeyGetter]
    ) -> OTTLAccess {
        OTTLAccess(
            get: { t in try OTTLKeyedAccess.get(read(&t), Self.resolve(keys, &t)[...]) },
            set: { t, v in
                let new = try Self.storable(v)
                let resolved = try Self.resolve(keys, &t)
                var value = read(&t)
                write(&t, AnyValue())
                defer { write(&t, value) }
                try OTTLKeyedAccess.set(&value, resolved[...], new)
            },
            editMap: { t, body in
                let resolved = try Self.resolve(keys, &t)
                var value = read(&t)
                write(&t, AnyValue())
                defer { write(&t, value) }
                try OTTLKeyedAccess.editMap(&value, resolved[...], body)
            })
    }

    /// The attribute value to store for `v`; times and durations cannot be stored.
    /// The value of a literal argument (a string, number, boolean, bytes or enum name); nil for anything else,
    /// `nil` included.
    func literal(_ node: Node?) -> OTTLValue? {
        switch node?.value {
        case .string(let s)?: .string(s)
        case .int(let i)?: .int(i)
        case .double(let d)?: .double(d)
        case .bool(let b)?: .bool(b)
        case .bytes(let b)?: .bytes(b)
        case .name(let n)?: OTTLEnums.value(n).map(OTTLValue.int)
        default: nil
        }
    }

    static func storable(_ v: OTTLValue) throws -> AnyValue {
        guard let a = v.anyValue else { throw OTTLRuntimeError("a \(v.typeName) cannot be stored in an attribute") }
        return a
    }

    // MARK: - Values

    func value(_ node: Node) throws(OTTLParseError) -> Getter {
        switch node.value {
        case .string(let s): return { _ in .string(s) }
        case .int(let i): return { _ in .int(i) }
        case .double(let d): return { _ in .double(d) }
        case .bool(let b): return { _ in .bool(b) }
        case .null: return { _ in .null }
        case .bytes(let b): return { _ in .bytes(b) }
        case .name(let n):
            guard let v = OTTLEnums.value(n) else { throw fail(node, "unknown enum \(n)") }
            return { _ in .int(v) }
        case .path: return try access(node).get
        case .call(let call):
            let converter = try OTTLConverters.compile(call, self)
            guard !call.keys.isEmpty else { return converter }
            let keys = try call.keys.map { (k: Node) throws(OTTLParseError) -> KeyGetter in try key(k) }
            return { t in
                let result = try converter(&t)
                let resolved = try Self.resolve(keys, &t)
                switch result {
                case .map(let m): return try OTTLKeyedAccess.get(m, resolved[...])
                case .list(let l):
                    var v = AnyValue()
                    v.arrayValue.values = l
                    return try OTTLKeyedAccess.get(v, resolved[...])
                case .null: return .null
                default: throw OTTLRuntimeError("a \(result.typeName) cannot be indexed")
                }
            }
        case .list(let items):
            let getters = try items.map { (n: Node) throws(OTTLParseError) -> Getter in try value(n) }
            return { t in
                var out: [AnyValue] = []
                out.reserveCapacity(getters.count)
                for g in getters { out.append(try g(&t).anyValue ?? AnyValue()) }
                return .list(out)
            }
        case .map(let entries):
            let getters = try entries.map { (e: (key: String, value: Node)) throws(OTTLParseError) -> (String, Getter) in (e.key, try value(e.value))
            }
            return { t in
                var out: [KeyValue] = []
                for (k, g) in getters {
                    var kv = KeyValue()
                    kv.key = k
                    kv.value = try g(&t).anyValue ?? AnyValue()
                    out.append(kv)
                }
                return .map(out)
            }
        case .math(let l, let op, let r):
            let lhs = try value(l)
            let rhs = try value(r)
            return { t in try OTTLMath.apply(try lhs(&t), op, try rhs(&t)) }
        }
    }

    // MARK: - Conditions

    func condition(_ c: OTTLSyntax.Condition) throws(OTTLParseError) -> Predicate {
        switch c {
        case .or(let terms):
            let ps = try terms.map { (x: OTTLSyntax.Condition) throws(OTTLParseError) -> Predicate in try condition(x) }
            return { t in
                for p in ps where try p(&t) { return true }
                return false
            }
        case .and(let terms):
            let ps = try terms.map { (x: OTTLSyntax.Condition) throws(OTTLParseError) -> Predicate in try condition(x) }
            return { t in
                for p in ps where try !p(&t) { return false }
                return true
            }
        case .not(let inner):
            let p = try condition(inner)
            return { t in try !p(&t) }
        case .compare(let l, let op, let r):
            let lhs = try value(l)
            let rhs = try value(r)
            return { t in OTTLValue.compare(try lhs(&t), op, try rhs(&t)) }
        case .value(let node):
            switch node.value {
            case .bool(let b): return { _ in b }
            case .string, .int, .double, .bytes, .null, .list, .map, .name, .math:
                throw fail(node, "a condition must be a comparison, true/false or a converter that returns a bool")
            case .path, .call:
                let g = try value(node)
                return { t in
                    let v = try g(&t)
                    guard case .bool(let b) = v else { throw OTTLRuntimeError("a condition must be a bool, got \(v.typeName)") }
                    return b
                }
            }
        }
    }
}

/// Arithmetic between values: ints and doubles (an int with a double gives a double), times and durations.
enum OTTLMath {
    static func apply(_ a: OTTLValue, _ op: Character, _ b: OTTLValue) throws -> OTTLValue {
        switch (a, b) {
        case (.int(let x), .int(let y)):
            switch op {
            case "+": return .int(x &+ y)
            case "-": return .int(x &- y)
            case "*": return .int(x &* y)
            default:
                guard y != 0 else { throw OTTLRuntimeError("division by zero") }
                return .int(x.dividedReportingOverflow(by: y).partialValue)
            }
        case (.int, .double), (.double, .int), (.double, .double):
            let x = number(a)
            let y = number(b)
            switch op {
            case "+": return .double(x + y)
            case "-": return .double(x - y)
            case "*": return .double(x * y)
            default:
                guard y != 0 else { throw OTTLRuntimeError("division by zero") }
                return .double(x / y)
            }
        case (.time(let x), .time(let y)) where op == "-": return .duration(x &- y)
        case (.time(let x), .duration(let y)) where op == "+": return .time(x &+ y)
        case (.time(let x), .duration(let y)) where op == "-": return .time(x &- y)
        case (.duration(let x), .duration(let y)) where op == "+": return .duration(x &+ y)
        case (.duration(let x), .duration(let y)) where op == "-": return .duration(x &- y)
        default:
            throw OTTLRuntimeError("cannot apply \(op) to \(a.typeName) and \(b.typeName)")
        }
    }

    private static func number(_ v: OTTLValue) -> Double {
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return 0
        }
    }
}

/// OTTL's enum names and their values.
enum OTTLEnums {
    static func value(_ name: String) -> Int64? { table[name] }

    private static let table: [String: Int64] = {
        var t: [String: Int64] = [
            "SPAN_KIND_UNSPECIFIED": 0, "SPAN_KIND_INTERNAL": 1, "SPAN_KIND_SERVER": 2, "SPAN_KIND_CLIENT": 3,
            "SPAN_KIND_PRODUCER": 4, "SPAN_KIND_CONSUMER": 5,
            "STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2,
            "METRIC_DATA_TYPE_NONE": 0, "METRIC_DATA_TYPE_GAUGE": 1, "METRIC_DATA_TYPE_SUM": 2,
            "METRIC_DATA_TYPE_HISTOGRAM": 3, "METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM": 4, "METRIC_DATA_TYPE_SUMMARY": 5,
            "AGGREGATION_TEMPORALITY_UNSPECIFIED": 0, "AGGREGATION_TEMPORALITY_DELTA": 1, "AGGREGATION_TEMPORALITY_CUMULATIVE": 2,
            "SEVERITY_NUMBER_UNSPECIFIED": 0,
        ]
        for (i, level) in ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"].enumerated() {
            let base = Int64(i * 4 + 1)
            t["SEVERITY_NUMBER_\(level)"] = base
            for n in 2...4 { t["SEVERITY_NUMBER_\(level)\(n)"] = base + Int64(n - 1) }
        }
        return t
    }()
}
