import OTLP

/// A key after a path: `["name"]` into a map, `[0]` into a list.
enum OTTLKey: Sendable {
    case string(String)
    case int(Int64)

    init(_ value: OTTLValue) throws {
        switch value {
        case .string(let s): self = .string(s)
        case .int(let i): self = .int(i)
        default: throw OTTLRuntimeError("a key must be a string or an int, got \(value.typeName)")
        }
    }
}

/// Reads and writes below a map or a value through a chain of keys, as OTTL does: a missing map key reads as
/// nil, a key of the wrong kind or a list index out of range is an error, and writing through a missing map key
/// creates the map on the way.
enum OTTLKeyedAccess {
    static func index(of key: String, in map: [KeyValue]) -> Int? {
        map.firstIndex { $0.key == key }
    }

    static func get(_ map: [KeyValue], _ keys: ArraySlice<OTTLKey>) throws -> OTTLValue {
        guard let first = keys.first else { return .map(map) }
        guard case .string(let k) = first else { throw OTTLRuntimeError("a map is indexed by strings, not by ints") }
        guard let i = index(of: k, in: map) else { return .null }
        return try get(map[i].value, keys.dropFirst())
    }

    static func get(_ value: AnyValue, _ keys: ArraySlice<OTTLKey>) throws -> OTTLValue {
        guard let first = keys.first else { return OTTLValue(value) }
        switch (first, value.value) {
        case (.string, .kvlistValue(let m)?): return try get(m.values, keys)
        case (.int(let n), .arrayValue(let a)?):
            guard n >= 0, n < a.values.count else { throw OTTLRuntimeError("index \(n) is out of range for a list of \(a.values.count)") }
            return try get(a.values[Int(n)], keys.dropFirst())
        case (_, nil): return .null
        case (.string, _): throw OTTLRuntimeError("a \(OTTLValue(value).typeName) cannot be indexed by a string")
        case (.int, _): throw OTTLRuntimeError("a \(OTTLValue(value).typeName) cannot be indexed by an int")
        }
    }

    /// Sets the value at `keys` below `map` (which `keys` must not be empty for).
    static func set(_ map: inout [KeyValue], _ keys: ArraySlice<OTTLKey>, _ new: AnyValue) throws {
        guard let first = keys.first else { return }
        guard case .string(let k) = first else { throw OTTLRuntimeError("a map is indexed by strings, not by ints") }
        let rest = keys.dropFirst()
        if let i = index(of: k, in: map) {
            if rest.isEmpty {
                map[i].value = new
            } else {
                var inner = map[i].value
                map[i].value = AnyValue()
                defer { map[i].value = inner }
                try set(&inner, rest, new)
            }
            return
        }
        var kv = KeyValue()
        kv.key = k
        if !rest.isEmpty {
            guard case .string = rest.first else { throw OTTLRuntimeError("\"\(k)\" does not exist, so it cannot be indexed by an int") }
            var inner = AnyValue()
            inner.kvlistValue = .init()
            try set(&inner, rest, new)
            kv.value = inner
        } else {
            kv.value = new
        }
        map.append(kv)
    }

    static func set(_ value: inout AnyValue, _ keys: ArraySlice<OTTLKey>, _ new: AnyValue) throws {
        guard let first = keys.first else {
            value = new
            return
        }
        switch (first, value.value) {
        case (.string, .kvlistValue(var m)?):
            value = AnyValue()
            defer { value.kvlistValue = m }
            try set(&m.values, keys, new)
        case (.string, nil):
            var m = Opentelemetry_Proto_Common_V1_KeyValueList()
            try set(&m.values, keys, new)
            value.kvlistValue = m
        case (.int(let n), .arrayValue(var a)?):
            guard n >= 0, n < a.values.count else { throw OTTLRuntimeError("index \(n) is out of range for a list of \(a.values.count)") }
            value = AnyValue()
            defer { value.arrayValue = a }
            try set(&a.values[Int(n)], keys.dropFirst(), new)
        case (.string, _): throw OTTLRuntimeError("a \(OTTLValue(value).typeName) cannot be indexed by a string")
        case (.int, _): throw OTTLRuntimeError("a \(OTTLValue(value).typeName) cannot be indexed by an int")
        }
    }

    /// Edits the map at `keys` below `map` in place; an error when the value there is not a map.
    static func editMap(_ map: inout [KeyValue], _ keys: ArraySlice<OTTLKey>, _ body: (inout [KeyValue]) throws -> Void) throws {
        guard let first = keys.first else { return try body(&map) }
        guard case .string(let k) = first else { throw OTTLRuntimeError("a map is indexed by strings, not by ints") }
        guard let i = index(of: k, in: map) else { throw OTTLRuntimeError("\"\(k)\" is not set, so it is not a map") }
        var inner = map[i].value
        map[i].value = AnyValue()
        defer { map[i].value = inner }
        try editMap(&inner, keys.dropFirst(), body)
    }

    static func editMap(_ value: inout AnyValue, _ keys: ArraySlice<OTTLKey>, _ body: (inout [KeyValue]) throws -> Void) throws {
        if keys.isEmpty {
            guard case .kvlistValue(var m)? = value.value else { throw OTTLRuntimeError("expected a map, got \(OTTLValue(value).typeName)") }
            value = AnyValue()
            defer { value.kvlistValue = m }
            return try body(&m.values)
        }
        switch (keys.first, value.value) {
        case (.string?, .kvlistValue(var m)?):
            value = AnyValue()
            defer { value.kvlistValue = m }
            try editMap(&m.values, keys, body)
        case (.int(let n)?, .arrayValue(var a)?):
            guard n >= 0, n < a.values.count else { throw OTTLRuntimeError("index \(n) is out of range for a list of \(a.values.count)") }
            value = AnyValue()
            defer { value.arrayValue = a }
            try editMap(&a.values[Int(n)], keys.dropFirst(), body)
        default:
            throw OTTLRuntimeError("a \(OTTLValue(value).typeName) cannot be indexed here")
        }
    }
}
