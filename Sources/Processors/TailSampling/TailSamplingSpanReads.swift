import Foundation
import OTLP

// What tail sampling reads from spans and resources as they arrive: the first attribute with a key, its value as
// the policies look at it, and each span's estimated size for `max_buffered_bytes`. Attribute values are read
// through `KeyValue.storedValue` (in place) rather than the generated `value` getter, which copies each value and
// retains its string: on this path, for every attribute of every span, that was most of the processor's cost.

/// A string from the configuration (an attribute key, an exact value), compared with span text as UTF-8 bytes, as
/// otelcol (Go) compares strings, not by Swift's canonical equivalence.
struct TailUTF8String: Sendable {
    private let bytes: [UInt8]

    init(_ text: String) { bytes = Array(text.utf8) }

    @inline(__always)
    func matches(_ key: String) -> Bool {
        let utf8 = key.utf8
        guard utf8.count == bytes.count else { return false }
        let same = utf8.withContiguousStorageIfAvailable { k in
            bytes.withUnsafeBufferPointer { b in
                guard let kb = k.baseAddress, let bb = b.baseAddress else { return true }  // both empty
                return memcmp(kb, bb, b.count) == 0
            }
        }
        return same ?? utf8.elementsEqual(bytes)
    }
}

/// The exact values of a `string_attribute` policy, compared with an attribute's string as UTF-8 bytes.
struct TailExactValues: Sendable {
    /// The values grouped by Swift string equality (canonically equivalent spellings share an entry); a lookup
    /// hashes once and then compares bytes within the group.
    private let groups: [String: [TailUTF8String]]

    init(_ values: [String]) {
        var groups: [String: [TailUTF8String]] = [:]
        for v in values where !(groups[v]?.contains { $0.matches(v) } ?? false) {
            groups[v, default: []].append(TailUTF8String(v))
        }
        self.groups = groups
    }

    static let none = TailExactValues([])

    func contains(_ text: String) -> Bool {
        guard let group = groups[text] else { return false }
        return group.contains { $0.matches(text) }
    }
}

/// What the first attribute with a given key holds, as the policies need it.
enum TailAttributeProbe: Equatable {
    case absent
    /// A string value: whether it is empty, and whether it is one of the values it was compared with.
    case string(isEmpty: Bool, listed: Bool)
    case int(Int64)
    case bool(Bool)
    /// Any other kind of value.
    case other
}

extension Array where Element == KeyValue {
    /// The first attribute named `key`; a string value is looked up in `listed`.
    func tailProbe(_ key: TailUTF8String, listed: TailExactValues) -> TailAttributeProbe {
        guard let i = firstIndex(where: { key.matches($0.key) }) else { return .absent }
        switch self[i].storedValue?.value {
        case .stringValue(let s)?: return .string(isEmpty: s.isEmpty, listed: listed.contains(s))
        case .intValue(let n)?: return .int(n)
        case .boolValue(let b)?: return .bool(b)
        default: return .other
        }
    }

    /// The string value of the first attribute named `key`: nil when absent, "" when it holds anything but a
    /// string (Go's `Value.Str()`).
    func tailString(_ key: TailUTF8String) -> String? {
        guard let i = firstIndex(where: { key.matches($0.key) }) else { return nil }
        if case .stringValue(let s)? = self[i].storedValue?.value { return s }
        return ""
    }
}

/// A cheap estimate of the memory a decoded span or resource holds, for `max_buffered_bytes`: fixed overheads plus
/// the bytes of strings, attributes, events and links.
enum TailSamplingSizeEstimate {
    static let spanOverhead = 256
    static let attributeOverhead = 48

    /// One span: its fixed overhead, name, trace state, status message, attributes, events and links.
    static func of(_ span: Span) -> Int {
        var n = spanOverhead + span.name.utf8.count + span.traceState.utf8.count + span.status.message.utf8.count
        n += of(span.attributes)
        for e in span.events { n += 64 + e.name.utf8.count + of(e.attributes) }
        for l in span.links { n += 96 + l.traceState.utf8.count + of(l.attributes) }
        return n
    }

    /// A resource's share of a fragment: fixed overhead, schema URL and attributes (not its scopes and spans).
    static func of(_ resource: ResourceSpans) -> Int {
        128 + resource.schemaURL.utf8.count + of(resource.resource.attributes)
    }

    /// Per attribute: a fixed overhead, the key's bytes and the value's (8 for numbers and booleans; arrays: 16,
    /// plus 16 and the element's bytes per element; key-value lists: 16 plus their attributes as here).
    static func of(_ attributes: [KeyValue]) -> Int {
        var n = attributes.count * attributeOverhead
        for i in attributes.indices {
            n += attributes[i].key.utf8.count
            // Switched on in place: passing the value to `of(_:)` would copy it (and retain a string).
            switch attributes[i].storedValue?.value {
            case .stringValue(let s)?: n += s.utf8.count
            case .bytesValue(let b)?: n += b.count
            case .arrayValue?, .kvlistValue?: n += of(attributes[i].storedValue?.value)
            default: n += 8
            }
        }
        return n
    }

    static func of(_ value: AnyValue.OneOf_Value?) -> Int {
        switch value {
        case .stringValue(let s)?: s.utf8.count
        case .bytesValue(let b)?: b.count
        case .arrayValue(let a)?: a.values.reduce(16) { $0 + 16 + of($1.value) }
        case .kvlistValue(let l)?: 16 + of(l.values)
        default: 8
        }
    }
}
