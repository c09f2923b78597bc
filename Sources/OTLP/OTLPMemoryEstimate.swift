// A cheap estimate of the memory a decoded span or resource holds, for buffers bounded in bytes (tail sampling's
// `max_buffered_bytes`). It lives in this module, next to the generated types, because the getters of those
// types (`Span.attributes`, `Span.status`, ...) return copies when called from another module; here the optimizer
// inlines them and reads the fields in place. Attribute values are read through `KeyValueStorage`
// (TailSamplingReaders.swift): even here, `KeyValue.value` copies the value (retaining its string) on every read.

/// Fixed overheads plus the bytes of strings, attributes, events and links.
public enum OTLPMemoryEstimate {
    public static let spanOverhead = 256
    public static let attributeOverhead = 48

    /// One span: its fixed overhead, name, trace state, status message, attributes, events and links.
    ///
    /// Attribute values are read in place, and nothing called in the loops can release anything (array and
    /// key-value list values, rare, send the whole span to ``throughGetters(_:)`` instead), so the span's lists are
    /// read without being retained.
    public static func of(_ span: Span) -> Int { Self.span(span, offset: KeyValueStorage.valueOffset) }

    /// `offset` is ``KeyValueStorage/valueOffset``, read by the caller before the span: reading a lazy global
    /// calls its initializer check, across which a span read from memory would have to be retained.
    @inline(__always)
    static func span(_ span: Span, offset: Int?) -> Int {
        guard let offset else { return throughGetters(span) }
        var nested = false
        var n = spanOverhead + span.name.utf8.count + span.traceState.utf8.count + span.status.message.utf8.count
        n += attributes(span.attributes, offset, &nested)
        let events = span.events
        for e in events.indices { n += 64 + events[e].name.utf8.count + attributes(events[e].attributes, offset, &nested) }
        let links = span.links
        for l in links.indices { n += 96 + links[l].traceState.utf8.count + attributes(links[l].attributes, offset, &nested) }
        return nested ? throughGetters(span) : n
    }

    /// A resource's share of a fragment: fixed overhead, schema URL and attributes (not its scopes and spans).
    public static func of(_ resource: ResourceSpans) -> Int {
        128 + resource.schemaURL.utf8.count + of(resource.resource.attributes)
    }

    /// Per attribute: a fixed overhead, the key's bytes and the value's (8 for numbers and booleans; arrays: 16,
    /// plus 16 and the element's bytes per element; key-value lists: 16 plus their attributes as here).
    public static func of(_ attributes: [KeyValue]) -> Int {
        guard let offset = KeyValueStorage.valueOffset else { return throughGetters(attributes) }
        var nested = false
        let n = Self.attributes(attributes, offset, &nested)
        return nested ? throughGetters(attributes) : n
    }

    public static func of(_ value: AnyValue) -> Int { of(value.value) }

    /// ``of(_:)-([KeyValue])`` reading values in place; sets `nested` (and leaves their share out) when a value is
    /// an array or a key-value list.
    @inline(__always)
    static func attributes(_ attributes: [KeyValue], _ offset: Int, _ nested: inout Bool) -> Int {
        attributes.withUnsafeBufferPointer { elements -> Int in
            guard let base = elements.baseAddress else { return 0 }
            var n = elements.count * attributeOverhead
            for i in elements.indices {
                n += elements[i].key.utf8.count
                let stored = (UnsafeRawPointer(base + i) + offset).assumingMemoryBound(to: KeyValueStorage.Stored.self)
                switch stored.pointee?.value {
                case .stringValue(let s)?: n += s.utf8.count
                case .bytesValue(let b)?: n += b.count
                case .arrayValue?, .kvlistValue?: nested = true
                default: n += 8
                }
            }
            return n
        }
    }

    /// The same estimates through the getters (each value read is a copy): when the layout of `KeyValue` was not
    /// located, and for nested values.
    @inline(never)
    static func throughGetters(_ span: Span) -> Int {
        var n = spanOverhead + span.name.utf8.count + span.traceState.utf8.count + span.status.message.utf8.count
        n += throughGetters(span.attributes)
        for e in span.events { n += 64 + e.name.utf8.count + throughGetters(e.attributes) }
        for l in span.links { n += 96 + l.traceState.utf8.count + throughGetters(l.attributes) }
        return n
    }

    @inline(never)
    static func throughGetters(_ attributes: [KeyValue]) -> Int {
        var n = attributes.count * attributeOverhead
        for kv in attributes { n += kv.key.utf8.count + of(kv.value.value) }
        return n
    }

    static func of(_ value: Opentelemetry_Proto_Common_V1_AnyValue.OneOf_Value?) -> Int {
        switch value {
        case .stringValue(let s)?: s.utf8.count
        case .bytesValue(let b)?: b.count
        case .arrayValue(let a)?: a.values.reduce(16) { $0 + 16 + of($1.value) }
        case .kvlistValue(let l)?: 16 + throughGetters(l.values)
        default: 8
        }
    }
}
