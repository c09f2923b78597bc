import CollectorCore
import OTLP

#if canImport(Glibc)
    import Glibc
#endif

/// One step of the action list shared by the `attributes` and `resource` processors (otelcol's `attraction`).
///
/// Everything is decided when the config is read: values are typed, regexes compiled, names of extract groups
/// listed, so applying an action is comparisons and in-place edits of the attribute list.
public enum AttributeAction: Sendable {
    /// Where insert/update/upsert take their value from.
    public enum Source: Sendable {
        /// A value written in config (its type inferred from the YAML scalar).
        case value(AnyValue)
        /// The value of another attribute of the same item; when that attribute is absent the action does nothing.
        case fromAttribute(String)
    }

    /// Adds `key` when it is absent.
    case insert(key: String, source: Source)
    /// Replaces the value of `key` when it is present.
    case update(key: String, source: Source)
    /// Inserts or updates `key`.
    case upsert(key: String, source: Source)
    /// Removes `key` and every key `pattern` matches.
    case delete(key: String?, pattern: AttributeRegex?)
    /// Replaces the value of `key` and of every key `pattern` matches with its SHA-256 hex digest.
    case hash(key: String?, pattern: AttributeRegex?)
    /// Matches `pattern` against the string value of `key`; each named group becomes (or overwrites) an attribute.
    case extract(key: String, pattern: AttributeRegex, names: [String])
    /// Converts the value of `key` to `int`, `double` or `string` when it can be converted.
    case convert(key: String, to: AttributeConversionTarget)

    /// The action names, in otelcol's order (also the order error messages list them).
    public static let names = ["insert", "update", "upsert", "delete", "hash", "extract", "convert"]
}

/// The `convert` action's target types.
public enum AttributeConversionTarget: String, Sendable, CaseIterable {
    case int, double, string
}

/// A compiled action list; `apply` runs it over one attribute list, in order.
public struct AttributeActions: Sendable {
    public let actions: [AttributeAction]

    /// Most attributes one pass can add (inserts, upserts, extract groups): the list is grown once, up front.
    private let maxAdded: Int
    /// Set when every action is an insert, update or upsert of a config value or a delete by key: then one scan
    /// of the list finds every key the actions name (see ``apply(to:)``).
    private let keyed: KeyedActions?

    public init(_ actions: [AttributeAction]) {
        self.actions = actions
        self.keyed = KeyedActions(actions)
        self.maxAdded = actions.reduce(0) { n, action in
            switch action {
            case .insert, .upsert: n + 1
            case .extract(_, _, let names): n + names.count
            default: n
            }
        }
    }

    public var isEmpty: Bool { actions.isEmpty }

    /// Reads the action list at `key` (`actions` for the attributes processor, `attributes` for resource),
    /// reporting every problem with its path (`processors::attributes/x::actions::2::action: …`).
    public init(reading r: ConfigReader, key: String) {
        var out: [AttributeAction] = []
        for item in r.mappingList(key) {
            if let action = Self.readAction(item) { out.append(action) }
        }
        self.init(out)
    }

    private static func readAction(_ a: ConfigReader) -> AttributeAction? {
        let key = a.optionalString("key").flatMap { $0.isEmpty ? nil : $0 }
        let actionText = a.optionalString("action")
        let fromAttribute = a.optionalString("from_attribute").flatMap { $0.isEmpty ? nil : $0 }
        let patternText = a.optionalString("pattern").flatMap { $0.isEmpty ? nil : $0 }
        let convertedType = a.optionalString("converted_type").flatMap { $0.isEmpty ? nil : $0 }
        var value: AnyValue?
        if let node = a.raw("value") {
            value = AttributeValueText.value(from: node)
            if case .scalar = node { _ = a.optionalString("value") }  // records it for print-config
        }
        if let context = a.optionalString("from_context"), !context.isEmpty {
            a.report(
                "from_context",
                "not supported by otelsink: request metadata (client address, headers, auth) does not reach processors; use value or from_attribute")
        }

        guard let actionText else {
            a.report("action", "required; expected one of \(AttributeAction.names.joined(separator: ", "))")
            return nil
        }
        let action = actionText.lowercased()
        guard AttributeAction.names.contains(action) else {
            a.report("action", "unknown action \"\(actionText)\"; expected one of \(AttributeAction.names.joined(separator: ", "))")
            return nil
        }

        var ok = true
        func reject(_ field: String, _ present: Bool) {
            if present {
                a.report(field, "not used by action \(action); remove it")
                ok = false
            }
        }
        func compile(_ text: String) -> AttributeRegex? {
            do { return try AttributeRegex(text) } catch {
                a.report("pattern", "regex \"\(text)\" \(error.reason)")
                ok = false
                return nil
            }
        }

        switch action {
        case "insert", "update", "upsert":
            if key == nil {
                a.report("key", "required for action \(action)")
                ok = false
            }
            reject("pattern", patternText != nil)
            reject("converted_type", convertedType != nil)
            let source: AttributeAction.Source
            switch (value, fromAttribute) {
            case (let v?, nil): source = .value(v)
            case (nil, let f?): source = .fromAttribute(f)
            case (_?, _?):
                a.report("value", "value and from_attribute are mutually exclusive; set one")
                return nil
            case (nil, nil):
                a.report(nil, "action \(action) needs value or from_attribute")
                return nil
            }
            guard ok, let key else { return nil }
            switch action {
            case "insert": return .insert(key: key, source: source)
            case "update": return .update(key: key, source: source)
            default: return .upsert(key: key, source: source)
            }

        case "delete", "hash":
            if key == nil && patternText == nil {
                a.report(nil, "action \(action) needs key or pattern (or both)")
                ok = false
            }
            reject("value", value != nil)
            reject("from_attribute", fromAttribute != nil)
            reject("converted_type", convertedType != nil)
            let pattern = patternText.flatMap(compile)
            guard ok else { return nil }
            return action == "delete" ? .delete(key: key, pattern: pattern) : .hash(key: key, pattern: pattern)

        case "extract":
            if key == nil {
                a.report("key", "required for action extract")
                ok = false
            }
            reject("value", value != nil)
            reject("from_attribute", fromAttribute != nil)
            reject("converted_type", convertedType != nil)
            guard let patternText else {
                a.report("pattern", "required for action extract: a regex with named groups, e.g. ^/api/(?P<version>v[0-9]+)/")
                return nil
            }
            guard let regex = compile(patternText) else { return nil }
            if regex.groupNames.isEmpty {
                a.report("pattern", "regex \"\(patternText)\" has no named groups; extract creates one attribute per (?P<name>…) group")
                return nil
            }
            if regex.groupNames.contains(where: { $0 == nil }) {
                a.report("pattern", "regex \"\(patternText)\" has an unnamed group; every group must be named (use (?:…) for grouping)")
                return nil
            }
            guard ok, let key else { return nil }
            return .extract(key: key, pattern: regex, names: regex.groupNames.compactMap { $0 })

        default:  // convert
            if key == nil {
                a.report("key", "required for action convert")
                ok = false
            }
            reject("value", value != nil)
            reject("from_attribute", fromAttribute != nil)
            reject("pattern", patternText != nil)
            let targets = AttributeConversionTarget.allCases.map(\.rawValue).joined(separator: ", ")
            guard let convertedType else {
                a.report("converted_type", "required for action convert; expected one of \(targets)")
                return nil
            }
            guard let target = AttributeConversionTarget(rawValue: convertedType) else {
                a.report("converted_type", "unknown type \"\(convertedType)\"; expected one of \(targets)")
                return nil
            }
            guard ok, let key else { return nil }
            return .convert(key: key, to: target)
        }
    }

    // MARK: - Applying

    /// Runs every action over `attributes`, in place.
    public func apply(to attributes: inout [KeyValue]) {
        // One allocation instead of a copy (the list is usually shared with the caller's batch) and a regrowth.
        if maxAdded > 0 { attributes.reserveCapacity(attributes.count + maxAdded) }
        if let keyed, keyed.apply(to: &attributes) { return }
        applyOneByOne(to: &attributes)
    }

    /// Runs the actions one after the other, each looking up its own key (the general path; internal for tests,
    /// which check that ``apply(to:)`` gives the same result).
    func applyOneByOne(to attributes: inout [KeyValue]) {
        for action in actions {
            switch action {
            case .insert(let key, let source):
                guard Self.index(of: key, in: attributes) == nil, let v = Self.resolve(source, in: attributes) else { continue }
                attributes.append(Self.pair(key, v))
            case .update(let key, let source):
                guard let i = Self.index(of: key, in: attributes), let v = Self.resolve(source, in: attributes) else { continue }
                attributes[i].value = v
            case .upsert(let key, let source):
                guard let v = Self.resolve(source, in: attributes) else { continue }
                if let i = Self.index(of: key, in: attributes) {
                    attributes[i].value = v
                } else {
                    attributes.append(Self.pair(key, v))
                }
            case .delete(let key, let pattern):
                if let key, let i = Self.index(of: key, in: attributes) { attributes.remove(at: i) }
                if let pattern { attributes.removeAll { pattern.matches($0.key) } }
            case .hash(let key, let pattern):
                // As otelcol: the key first, then every key the pattern matches (a key matched by both is hashed
                // twice, as there).
                if let key, let i = Self.index(of: key, in: attributes) {
                    attributes[i].value = AttributeHashing.hashed(attributes[i].value)
                }
                if let pattern {
                    for i in attributes.indices where pattern.matches(attributes[i].key) {
                        attributes[i].value = AttributeHashing.hashed(attributes[i].value)
                    }
                }
            case .extract(let key, let pattern, let names):
                guard let i = Self.index(of: key, in: attributes), case .stringValue(let text)? = attributes[i].value.value,
                    let groups = pattern.captures(in: text)
                else { continue }
                for (name, captured) in zip(names, groups) {
                    if let j = Self.index(of: name, in: attributes) {
                        attributes[j].value = .string(captured)
                    } else {
                        attributes.append(Self.pair(name, .string(captured)))
                    }
                }
            case .convert(let key, let target):
                guard let i = Self.index(of: key, in: attributes) else { continue }
                AttributeValueText.convert(&attributes[i].value, to: target)
            }
        }
    }

    /// The first attribute named `key`. Compares UTF-8 bytes (lengths first), which is what `==` decides for the
    /// keys met in practice, without its general comparison path; any string without contiguous UTF-8 falls back
    /// to `==`.
    @inline(__always)
    static func index(of key: String, in attributes: [KeyValue]) -> Int? {
        let found: Int?? = key.utf8.withContiguousStorageIfAvailable { target -> Int? in
            for i in attributes.indices {
                let candidate = attributes[i].key.utf8
                guard candidate.count == target.count else { continue }
                let same =
                    candidate.withContiguousStorageIfAvailable { bytes -> Bool in
                        guard let a = bytes.baseAddress, let b = target.baseAddress else { return true }  // both empty
                        return memcmp(a, b, target.count) == 0
                    } ?? (attributes[i].key == key)
                if same { return i }
            }
            return nil
        }
        if let found { return found }
        for i in attributes.indices where attributes[i].key == key { return i }
        return nil
    }

    @inline(__always)
    private static func resolve(_ source: AttributeAction.Source, in attributes: [KeyValue]) -> AnyValue? {
        switch source {
        case .value(let v): return v
        case .fromAttribute(let other):
            guard let i = index(of: other, in: attributes) else { return nil }
            return attributes[i].value
        }
    }

    @inline(__always)
    static func pair(_ key: String, _ value: AnyValue) -> KeyValue {
        var kv = KeyValue()
        kv.key = key
        kv.value = value
        return kv
    }
}

/// An action list of inserts, updates and upserts of config values and deletes by key, run with one scan.
///
/// The scan records where each named key first occurs. When no key occurs twice, the actions then run on those
/// positions (kept current as attributes are appended and removed), which is what running them one by one gives;
/// with a repeated key, or a key whose bytes cannot be read in place, ``apply(to:)`` returns false and leaves the
/// list to the one-by-one path.
struct KeyedActions: Sendable {
    enum Step: Sendable {
        case insert(slot: Int, value: AnyValue)
        case update(slot: Int, value: AnyValue)
        case upsert(slot: Int, value: AnyValue)
        case delete(slot: Int)
    }

    let keys: [String]
    let keyBytes: [[UInt8]]
    let steps: [Step]

    init?(_ actions: [AttributeAction]) {
        var keys: [String] = []
        var steps: [Step] = []
        func slot(_ key: String) -> Int {
            if let i = keys.firstIndex(where: { $0.utf8.elementsEqual(key.utf8) }) { return i }
            keys.append(key)
            return keys.count - 1
        }
        for action in actions {
            switch action {
            case .insert(let key, .value(let v)): steps.append(.insert(slot: slot(key), value: v))
            case .update(let key, .value(let v)): steps.append(.update(slot: slot(key), value: v))
            case .upsert(let key, .value(let v)): steps.append(.upsert(slot: slot(key), value: v))
            case .delete(let key?, nil): steps.append(.delete(slot: slot(key)))
            default: return nil
            }
        }
        guard !keys.isEmpty, keys.count <= 16 else { return nil }
        self.keys = keys
        self.keyBytes = keys.map { Array($0.utf8) }
        self.steps = steps
    }

    /// Applies the steps; false (nothing changed) when the list must go the one-by-one way.
    func apply(to attributes: inout [KeyValue]) -> Bool {
        withUnsafeTemporaryAllocation(of: Int.self, capacity: keys.count) { position -> Bool in
            position.initialize(repeating: -1)
            for i in attributes.indices {
                let found: Bool? = attributes[i].key.utf8.withContiguousStorageIfAvailable { bytes -> Bool in
                    for s in keyBytes.indices where keyBytes[s].count == bytes.count {
                        let same = keyBytes[s].withUnsafeBufferPointer { key -> Bool in
                            guard let a = key.baseAddress, let b = bytes.baseAddress else { return true }  // both empty
                            return memcmp(a, b, bytes.count) == 0
                        }
                        if same {
                            if position[s] != -1 { return false }  // a repeated key
                            position[s] = i
                        }
                    }
                    return true
                }
                guard found == true else { return false }
            }
            for step in steps {
                switch step {
                case .insert(let s, let value):
                    if position[s] == -1 {
                        attributes.append(AttributeActions.pair(keys[s], value))
                        position[s] = attributes.count - 1
                    }
                case .update(let s, let value):
                    if position[s] != -1 { attributes[position[s]].value = value }
                case .upsert(let s, let value):
                    if position[s] != -1 {
                        attributes[position[s]].value = value
                    } else {
                        attributes.append(AttributeActions.pair(keys[s], value))
                        position[s] = attributes.count - 1
                    }
                case .delete(let s):
                    let p = position[s]
                    guard p != -1 else { continue }
                    attributes.remove(at: p)
                    position[s] = -1
                    for t in position.indices where position[t] > p { position[t] -= 1 }
                }
            }
            return true
        }
    }
}

extension AttributeValueText {
    /// Converts as otelcol's attraction does; a value that cannot be converted (a string that does not parse,
    /// an array or map to a number) is left as it was.
    static func convert(_ value: inout AnyValue, to target: AttributeConversionTarget) {
        switch target {
        case .string:
            if case .stringValue? = value.value { return }
            value = .string(asString(value))
        case .int:
            switch value.value {
            case .doubleValue(let d)?:
                // Go's int64(float64) truncates toward zero; out-of-range results are unspecified there,
                // here they saturate.
                if d.isNaN {
                    value.intValue = Int64.min
                } else if d >= 9.223372036854775807e18 {
                    value.intValue = Int64.max
                } else if d < -9.223372036854775807e18 {
                    value.intValue = Int64.min
                } else {
                    value.intValue = Int64(d)
                }
            case .boolValue(let b)?: value.intValue = b ? 1 : 0
            case .stringValue(let s)?: if let i = goParseInt(s) { value.intValue = i }
            default: break
            }
        case .double:
            switch value.value {
            case .intValue(let i)?: value.doubleValue = Double(i)
            case .boolValue(let b)?: value.doubleValue = b ? 1 : 0
            case .stringValue(let s)?: if let d = goParseFloat(s) { value.doubleValue = d }
            default: break
            }
        }
    }

}
