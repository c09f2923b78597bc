// A cheap estimate of the memory a decoded span or resource holds, for buffers bounded in bytes (tail sampling's
// `max_buffered_bytes`). It lives in this module, next to the generated types, because the getters of those
// types (`KeyValue.value`, `Span.status`, ...) return copies when called from another module; here the optimizer
// inlines them and reads the fields in place, which made the estimate several times cheaper per span.

/// Fixed overheads plus the bytes of strings, attributes, events and links.
public enum OTLPMemoryEstimate {
    public static let spanOverhead = 256
    public static let attributeOverhead = 48

    /// One span: its fixed overhead, name, trace state, status message, attributes, events and links.
    public static func of(_ span: Span) -> Int {
        var n = spanOverhead + span.name.utf8.count + span.traceState.utf8.count + span.status.message.utf8.count
        n += of(span.attributes)
        for e in span.events { n += 64 + e.name.utf8.count + of(e.attributes) }
        for l in span.links { n += 96 + l.traceState.utf8.count + of(l.attributes) }
        return n
    }

    /// A resource's share of a fragment: fixed overhead, schema URL and attributes (not its scopes and spans).
    public static func of(_ resource: ResourceSpans) -> Int {
        128 + resource.schemaURL.utf8.count + of(resource.resource.attributes)
    }

    public static func of(_ attributes: [KeyValue]) -> Int {
        var n = attributes.count * attributeOverhead
        for i in attributes.indices {
            n += attributes[i].key.utf8.count
            switch attributes[i].value.value {
            case .stringValue(let s)?: n += s.utf8.count
            case .bytesValue(let b)?: n += b.count
            case .arrayValue(let a)?: n += a.values.reduce(16) { $0 + 16 + of($1) }
            case .kvlistValue(let l)?: n += 16 + of(l.values)
            default: n += 8
            }
        }
        return n
    }

    public static func of(_ value: AnyValue) -> Int {
        switch value.value {
        case .stringValue(let s)?: s.utf8.count
        case .bytesValue(let b)?: b.count
        case .arrayValue(let a)?: a.values.reduce(16) { $0 + 16 + of($1) }
        case .kvlistValue(let l)?: 16 + of(l.values)
        default: 8
        }
    }
}
