import Foundation
import OTLP

/// The attributes the `servicegraph` connector reads, and how it reads them: peer names (span attributes of client
/// spans, for virtual nodes), database names (resource then span, client spans) and dimensions (resource then
/// span, both sides). Built once from the config; each span's attribute list is scanned once.
struct ServiceGraphAttributes: Sendable {
    let peerNames: [String]
    let databaseNames: [String]
    let dimensionNames: [String]
    /// Every name wanted, with the slot its value goes to: peers first, then database names, then dimensions.
    private let wanted: [(name: [UInt8], slot: Int)]
    /// Bit n set when some wanted name is n bytes long (n < 64), or bit 63 for longer names: most attributes are
    /// passed over on their key's length alone.
    private let lengths: UInt64
    var slotCount: Int { peerNames.count + databaseNames.count + dimensionNames.count }

    init(peers: [String], databases: [String], dimensions: [String]) {
        peerNames = peers
        databaseNames = databases
        dimensionNames = dimensions
        var wanted: [(name: [UInt8], slot: Int)] = []
        for (i, n) in (peers + databases + dimensions).enumerated() { wanted.append((Array(n.utf8), i)) }
        self.wanted = wanted
        lengths = wanted.reduce(0) { $0 | Self.lengthBit($1.name.count) }
    }

    @inline(__always)
    static func lengthBit(_ n: Int) -> UInt64 { n < 63 ? 1 << UInt64(n) : 1 << 63 }

    /// Whether a key of `count` bytes could be wanted.
    @inline(__always)
    func mayWant(length count: Int) -> Bool { lengths & Self.lengthBit(count) != 0 }

    /// Calls `found` with the slot of every wanted name equal to `key`.
    @inline(__always)
    func forEachSlot(matching key: UnsafeRawBufferPointer, _ found: (Int) -> Void) {
        for w in wanted where w.name.count == key.count {
            let equal = w.name.withUnsafeBytes { name in
                name.count == 0 || memcmpEqual(name, key)
            }
            if equal { found(w.slot) }
        }
    }

    /// The wanted values in `attributes` (first occurrence of each name), one per slot; nil when none is present,
    /// which is the common case and allocates nothing.
    func values(_ attributes: [KeyValue], onlyDimensions: Bool = false) -> [String?]? {
        var out: [String?]?
        let firstSlot = onlyDimensions ? peerNames.count + databaseNames.count : 0
        // Keys are looked at in place (their UTF-8 count first: most are passed over on it), values read only when
        // wanted, through `storedValue`: copying each attribute retained its key and value.
        for i in attributes.indices where mayWant(length: attributes[i].key.utf8.count) {
            attributes[i].key.utf8.withContiguousStorageIfAvailable { utf8 in
                forEachSlot(matching: UnsafeRawBufferPointer(utf8)) { slot in
                    guard slot >= firstSlot else { return }
                    if out == nil { out = Array(repeating: nil, count: slotCount) }
                    if out?[slot] == nil, let value = attributes[i].storedValue { out?[slot] = Self.text(value) }
                }
            } ?? slowValues(attributes[i], firstSlot: firstSlot, into: &out)
        }
        return out
    }

    /// As the loop above for a key whose UTF-8 is not stored contiguously (a bridged string).
    private func slowValues(_ kv: KeyValue, firstSlot: Int, into out: inout [String?]?) {
        var key = kv.key
        key.withUTF8 { utf8 in
            forEachSlot(matching: UnsafeRawBufferPointer(utf8)) { slot in
                guard slot >= firstSlot else { return }
                if out == nil { out = Array(repeating: nil, count: slotCount) }
                if out?[slot] == nil { out?[slot] = Self.text(kv.value) }
            }
        }
    }

    /// An attribute value as text, as otelcol's `AsString` gives scalars: strings as they are, booleans, integers
    /// and doubles in decimal. Other kinds (bytes, arrays, maps, empty) give nil: the attribute counts as absent.
    static func text(_ value: AnyValue) -> String? {
        switch value.value {
        case .stringValue(let s)?: s
        case .boolValue(let b)?: b ? "true" : "false"
        case .intValue(let i)?: String(i)
        case .doubleValue(let d)?: EncodedAttributes.doubleText(d)
        default: nil
        }
    }
}

/// Whether two buffers of the same length hold the same bytes.
@inline(__always)
func memcmpEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    guard let pa = a.baseAddress, let pb = b.baseAddress else { return a.count == 0 }
    return memcmp(pa, pb, a.count) == 0
}

extension ServiceGraphAttributes {
    /// As ``values(_:onlyDimensions:)``, for attributes still in wire form: the `KeyValue`s stored as field
    /// `field` of the message in `buffer[message]`.
    func values(in buffer: UnsafeRawBufferPointer, message: Range<Int>, field: UInt64, onlyDimensions: Bool = false) -> [String?]? {
        var out: [String?]?
        let firstSlot = onlyDimensions ? peerNames.count + databaseNames.count : 0
        EncodedAttributes.forEach(in: buffer, message: message, field: field) { key, value in
            collect(buffer, key: key, value: value, firstSlot: firstSlot, into: &out)
        }
        return out
    }

    /// The wanted values among a resource's attributes, from a `ResourceSpans` key of ``EncodedTraces``.
    func values(resourceSpansKey buffer: UnsafeRawBufferPointer) -> [String?]? {
        var out: [String?]?
        EncodedAttributes.forEachResourceAttribute(inResourceSpansKey: buffer) { key, value in
            collect(buffer, key: key, value: value, firstSlot: 0, into: &out)
        }
        return out
    }

    @inline(__always)
    private func collect(_ buffer: UnsafeRawBufferPointer, key: Range<Int>, value: Range<Int>?, firstSlot: Int, into out: inout [String?]?) {
        guard mayWant(length: key.count) else { return }
        forEachSlot(matching: UnsafeRawBufferPointer(rebasing: buffer[key])) { slot in
            guard slot >= firstSlot else { return }
            if out == nil { out = Array(repeating: nil, count: slotCount) }
            if out?[slot] == nil, let value { out?[slot] = EncodedAttributes.text(buffer, value) }
        }
    }
}
