import Foundation
import SwiftProtobuf

// In-place reads of spans and their attributes for tail sampling's per-span work (its memory estimate and the
// policy checks it runs as spans arrive).
//
// swift-protobuf generates `KeyValue.value` as a computed property over a private optional (`_value ?? AnyValue()`),
// so every read of an attribute's value returns a copy of it: outlined copies of the oneof and a retain and release
// of its string, even in this module where the optimizer sees the getter. On tail sampling's per-span path those
// copies were most of the cost (and in the benchmark, whose requests all share their attribute strings, each
// retain is an atomic write contended between cores). The private optional is an ordinary stored property of
// `KeyValue`; `KeyValueStorage.valueOffset` finds where it is once, and the readers below look at the value
// through a pointer to it instead of copying it out. If the layout is not the one expected (another
// swift-protobuf), `valueOffset` is nil and every reader uses the getter.
//
// Spans are read through `TailSamplingSpan`, a pointer into their list: a `Span` passed from another module to a
// function here is retained for the call, and `span.attributes` read from another module is a getter call that
// returns the list retained. The strings they are compared with (policy keys and values) are plain pointers into
// storage built once from the configuration (`OTLPUTF8Storage`), so that comparing touches no reference count
// either: those strings are shared by every thread.

/// How tail sampling's readers find attribute values.
public enum TailSamplingReaders {
    /// Whether attribute values are read in place (the layout of `KeyValue` was located and checked), rather than
    /// copied out through the getter.
    public static var valuesReadInPlace: Bool { KeyValueStorage.valueOffset != nil }
}

/// Where `KeyValue` keeps its value.
enum KeyValueStorage {
    typealias Stored = Opentelemetry_Proto_Common_V1_AnyValue?

    /// Byte offset of the stored optional value in a `KeyValue`, or nil when it cannot be located and checked.
    static let valueOffset: Int? = locateValueOffset()

    /// The stored value is the last stored property, after `unknownFields` (swift-protobuf puts the backing
    /// properties of message fields last). Accepted only if (1) the bytes of a string value with its own storage
    /// are found exactly there (a raw byte comparison: nothing is read as a typed value before this holds) and the
    /// property ends the struct, and (2) reading there then agrees with the `value` getter for every kind of value.
    static func locateValueOffset() -> Int? {
        let unknownFields: PartialKeyPath<KeyValue> = \KeyValue.unknownFields
        guard let afterUnknown = MemoryLayout<KeyValue>.offset(of: unknownFields).map({ $0 + MemoryLayout<SwiftProtobuf.UnknownStorage>.size })
        else { return nil }
        let alignment = MemoryLayout<Stored>.alignment
        let offset = (afterUnknown + alignment - 1) / alignment * alignment
        guard offset + MemoryLayout<Stored>.size == MemoryLayout<KeyValue>.size else { return nil }

        // (1) A string long enough to have its own heap storage: its 16 bytes occur nowhere else.
        let unique = String(repeating: "otelsink-layout-probe-", count: 2) + String(UInt64.random(in: 1...UInt64.max))
        var probe = KeyValue()
        probe.key = "k"
        probe.value = .string(unique)
        let expected = withUnsafeBytes(of: unique) { Array($0) }
        let found = withUnsafeBytes(of: &probe) { raw -> Bool in
            raw.count >= offset + expected.count && Array(raw[offset..<(offset + expected.count)]) == expected
        }
        guard found else { return nil }

        // (2) Every kind of value reads back as the getter gives it.
        var samples: [Stored] = [nil, .string(unique), .string(""), .string("short")]
        var v = AnyValue()
        v.intValue = -42
        samples.append(v)
        v.boolValue = true
        samples.append(v)
        v.doubleValue = 1.5
        samples.append(v)
        v.bytesValue = Data(repeating: 7, count: 40)
        samples.append(v)
        var list = Opentelemetry_Proto_Common_V1_ArrayValue()
        list.values = [.string(unique)]
        v.arrayValue = list
        samples.append(v)
        var kvlist = Opentelemetry_Proto_Common_V1_KeyValueList()
        kvlist.values = [probe]
        v.kvlistValue = kvlist
        samples.append(v)
        for sample in samples {
            var kv = KeyValue()
            kv.key = unique
            if let sample { kv.value = sample }
            let read = withUnsafeBytes(of: &kv) { raw -> Stored? in
                guard let base = raw.baseAddress else { return nil }
                return .some((base + offset).assumingMemoryBound(to: Stored.self).pointee)
            }
            guard let read, read == sample, kv.hasValue == (read != nil) else { return nil }
        }
        return offset
    }
}

extension Array where Element == KeyValue {
    /// Index of the first attribute whose key has exactly `key`'s UTF-8 bytes (Go's string equality).
    @inline(__always)
    static func firstIndex(ofKey key: OTLPUTF8Bytes, in elements: UnsafeBufferPointer<KeyValue>) -> Int? {
        for i in elements.indices {
            switch key.equals(elements[i].key) {
            case true?: return i
            case false?: continue
            case nil: return slowFirstIndex(ofKey: key, in: elements)
            }
        }
        return nil
    }

    /// ``firstIndex(ofKey:in:)`` for keys whose bytes are not contiguous (bridged strings).
    @inline(never)
    static func slowFirstIndex(ofKey key: OTLPUTF8Bytes, in elements: UnsafeBufferPointer<KeyValue>) -> Int? {
        for i in elements.indices where key.slowEquals(elements[i].key) { return i }
        return nil
    }

    /// The first attribute named `key`, read in place; a string value is compared with `listed` byte for byte.
    /// Inlined into its callers, where nothing in it can release the list, so the list is not retained.
    @inline(__always)
    func tailSamplingProbe(_ key: OTLPUTF8Bytes, listed: OTLPUTF8Set, offset: Int?) -> OTLPAttributeProbe {
        guard let offset else { return Self.probeThroughGetters(self, key, listed) }
        let probe = withUnsafeBufferPointer { elements -> OTLPAttributeProbe? in
            guard let base = elements.baseAddress, let i = Self.firstIndex(ofKey: key, in: elements) else { return .absent }
            let stored = (UnsafeRawPointer(base + i) + offset).assumingMemoryBound(to: KeyValueStorage.Stored.self)
            switch stored.pointee?.value {
            case .stringValue(let s)?:
                guard let listed = listed.contains(utf8Of: s) else { return nil }
                return .string(isEmpty: s.isEmpty, listed: listed)
            case .intValue(let n)?: return .int(n)
            case .boolValue(let b)?: return .bool(b)
            default: return .other
            }
        }
        return probe ?? Self.probeThroughGetters(self, key, listed)
    }

    /// ``tailSamplingProbe(_:listed:offset:)`` through the getters (layout not located, or bridged strings).
    @inline(never)
    static func probeThroughGetters(_ attributes: [KeyValue], _ key: OTLPUTF8Bytes, _ listed: OTLPUTF8Set) -> OTLPAttributeProbe {
        guard let kv = attributes.first(where: { key.slowEquals($0.key) }) else { return .absent }
        switch kv.value.value {
        case .stringValue(let s)?: return .string(isEmpty: s.isEmpty, listed: listed.slowContains(s))
        case .intValue(let n)?: return .int(n)
        case .boolValue(let b)?: return .bool(b)
        default: return .other
        }
    }

    /// The string value of the first attribute named `key`; nil when absent, "" when it holds anything but a string
    /// (Go's `Value.Str()`). A copy, for matchers that need the string itself.
    func tailSamplingString(_ key: OTLPUTF8Bytes) -> String? {
        guard let kv = first(where: { key.slowEquals($0.key) }) else { return nil }
        if case .stringValue(let s)? = kv.value.value { return s }
        return ""
    }
}

/// A span in a list, as tail sampling's readers see it: read where it is stored, without taking a reference to it.
/// Valid only while the list's buffer is (`withUnsafeBufferPointer`). Passing a `Span` to a function in this
/// module from another costs a retain and release of its storage (the caller cannot tell the list will not change
/// during the call); a pointer costs nothing.
public struct TailSamplingSpan {
    let pointer: UnsafePointer<Span>

    /// The span at `pointer`, an element of a list whose buffer outlives this value.
    public init(_ pointer: UnsafePointer<Span>) {
        self.pointer = pointer
    }

    /// The trace ID's 16 bytes as two words (loaded in native byte order); nil when the ID is not 16 bytes long.
    public var traceIDWords: (UInt64, UInt64)? {
        let id = pointer.pointee.traceID
        guard id.count == 16 else { return nil }
        return id.withUnsafeBytes { raw in
            (raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self), raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }
    }

    public var traceID: Data { pointer.pointee.traceID }

    /// The span's ``OTLPMemoryEstimate``.
    public var estimatedBytes: Int {
        let offset = KeyValueStorage.valueOffset
        return OTLPMemoryEstimate.span(pointer.pointee, offset: offset)
    }

    public var statusCode: Opentelemetry_Proto_Trace_V1_Status.StatusCode { pointer.pointee.status.code }

    /// Start and end time.
    public var times: (start: UInt64, end: UInt64) { (pointer.pointee.startTimeUnixNano, pointer.pointee.endTimeUnixNano) }

    public var traceState: String { pointer.pointee.traceState }

    /// The first attribute of the span named `key` (UTF-8 bytes compared, as otelcol compares keys), read in place;
    /// a string value is compared with `listed` byte for byte.
    public func probe(_ key: OTLPUTF8Bytes, listed: OTLPUTF8Set) -> OTLPAttributeProbe {
        // The lazy global first: the list is then read after it, and need not be retained across the call.
        let offset = KeyValueStorage.valueOffset
        return pointer.pointee.attributes.tailSamplingProbe(key, listed: listed, offset: offset)
    }

    /// The string value of the span's first attribute named `key`: nil when absent, "" when not a string.
    public func string(_ key: OTLPUTF8Bytes) -> String? { pointer.pointee.attributes.tailSamplingString(key) }
}

extension Opentelemetry_Proto_Trace_V1_ResourceSpans {
    /// ``TailSamplingSpan/probe(_:listed:)`` on the resource's attributes.
    public func tailSamplingResourceProbe(_ key: OTLPUTF8Bytes, listed: OTLPUTF8Set) -> OTLPAttributeProbe {
        let offset = KeyValueStorage.valueOffset
        return resource.attributes.tailSamplingProbe(key, listed: listed, offset: offset)
    }

    /// ``TailSamplingSpan/string(_:)`` on the resource's attributes.
    public func tailSamplingResourceString(_ key: OTLPUTF8Bytes) -> String? { resource.attributes.tailSamplingString(key) }

    /// Calls `body` with the start and end time of every span, in order (scopes in order, spans in order).
    public func forEachSpanTimes(_ body: (UInt64, UInt64) -> Void) {
        for s in scopeSpans.indices {
            for i in scopeSpans[s].spans.indices {
                body(scopeSpans[s].spans[i].startTimeUnixNano, scopeSpans[s].spans[i].endTimeUnixNano)
            }
        }
    }
}

/// What the first attribute with a given key holds, read where it is stored.
public enum OTLPAttributeProbe: Equatable, Sendable {
    case absent
    /// A string value: whether it is empty, and whether it is one of the strings it was compared with.
    case string(isEmpty: Bool, listed: Bool)
    case int(Int64)
    case bool(Bool)
    /// Any other kind of value.
    case other
}

/// A string's UTF-8 bytes as a plain pointer and length into an ``OTLPUTF8Storage``, valid while that storage is
/// alive. Copying one, or comparing with it, touches no reference count: the per-span path of tail sampling
/// compares attribute keys and values with its configured strings this way, from many threads at once.
public struct OTLPUTF8Bytes: @unchecked Sendable {
    let start: UnsafePointer<UInt8>?
    public let count: Int

    var buffer: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: start, count: count) }

    /// Whether `bytes` are exactly these bytes.
    @inline(__always)
    func equals(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count == count else { return false }
        guard count > 0, let a = start, let b = bytes.baseAddress else { return true }
        return memcmp(a, b, count) == 0
    }

    /// Whether `text` has exactly these UTF-8 bytes (Go's string equality, not `String ==`'s canonical
    /// equivalence); nil when its bytes are not contiguous (a bridged string: see ``slowEquals(_:)``).
    @inline(__always)
    func equals(_ text: String) -> Bool? {
        let utf8 = text.utf8
        guard utf8.count == count else { return false }
        return utf8.withContiguousStorageIfAvailable { equals($0) }
    }

    /// ``equals(_:)`` for any string.
    func slowEquals(_ text: String) -> Bool { equals(text) ?? text.utf8.elementsEqual(buffer) }
}

/// A set of UTF-8 strings in an ``OTLPUTF8Storage`` (plain pointers, valid while the storage is alive): a scan for
/// a few, an open-addressing table of FNV-1a hashes for more.
public struct OTLPUTF8Set: @unchecked Sendable {
    let members: UnsafeBufferPointer<OTLPUTF8Bytes>
    /// Empty for a scan; else a power-of-two table of member indices, -1 for an empty slot.
    let slots: UnsafeBufferPointer<Int32>
    static let scanLimit = 8

    public var count: Int { members.count }

    /// Whether `bytes` are one of the members.
    @inline(__always)
    func contains(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if slots.isEmpty {
            for m in members where m.equals(bytes) { return true }
            return false
        }
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: Self.hash(bytes)) & mask
        while true {
            let s = slots[i]
            if s < 0 { return false }
            if members[Int(s)].equals(bytes) { return true }
            i = (i + 1) & mask
        }
    }

    /// Whether `text`'s UTF-8 bytes are one of the members; nil when they are not contiguous (bridged strings).
    @inline(__always)
    func contains(utf8Of text: String) -> Bool? {
        text.utf8.withContiguousStorageIfAvailable { contains($0) }
    }

    /// Whether `text`'s UTF-8 bytes are one of the members.
    public func slowContains(_ text: String) -> Bool {
        contains(utf8Of: text) ?? Array(text.utf8).withUnsafeBufferPointer { contains($0) }
    }

    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}

/// Owns the bytes behind ``OTLPUTF8Bytes`` and ``OTLPUTF8Set`` values: built once (from configuration), immutable
/// after, freed when the last reference goes. Whoever keeps the views keeps the storage.
public final class OTLPUTF8Storage: @unchecked Sendable {
    /// `keys[i]` holds the bytes of the `i`-th string given as a key.
    public let keys: [OTLPUTF8Bytes]
    /// `sets[i]` holds the distinct strings of the `i`-th list given as a set.
    public let sets: [OTLPUTF8Set]
    private let allocations: [UnsafeMutableRawPointer]

    public init(keys: [String], sets: [[String]]) {
        var allocations: [UnsafeMutableRawPointer] = []
        func copy(_ text: String) -> OTLPUTF8Bytes {
            let bytes = Array(text.utf8)
            guard !bytes.isEmpty else { return OTLPUTF8Bytes(start: nil, count: 0) }
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes.count)
            p.initialize(from: bytes, count: bytes.count)
            allocations.append(UnsafeMutableRawPointer(p))
            return OTLPUTF8Bytes(start: UnsafePointer(p), count: bytes.count)
        }
        self.keys = keys.map(copy)
        var built: [OTLPUTF8Set] = []
        for values in sets {
            var seen: Set<[UInt8]> = []
            let distinct = values.filter { seen.insert(Array($0.utf8)).inserted }
            let members = UnsafeMutablePointer<OTLPUTF8Bytes>.allocate(capacity: max(1, distinct.count))
            allocations.append(UnsafeMutableRawPointer(members))
            for (i, v) in distinct.enumerated() { (members + i).initialize(to: copy(v)) }
            var slots = UnsafeBufferPointer<Int32>(start: nil, count: 0)
            if distinct.count > OTLPUTF8Set.scanLimit {
                var size = 1
                while size < distinct.count * 2 { size <<= 1 }
                let table = UnsafeMutablePointer<Int32>.allocate(capacity: size)
                allocations.append(UnsafeMutableRawPointer(table))
                table.initialize(repeating: -1, count: size)
                for i in distinct.indices {
                    let m = members[i]
                    var slot = Int(truncatingIfNeeded: OTLPUTF8Set.hash(UnsafeBufferPointer(start: m.start, count: m.count))) & (size - 1)
                    while table[slot] >= 0 { slot = (slot + 1) & (size - 1) }
                    table[slot] = Int32(i)
                }
                slots = UnsafeBufferPointer(start: table, count: size)
            }
            built.append(OTLPUTF8Set(members: UnsafeBufferPointer(start: members, count: distinct.count), slots: slots))
        }
        self.sets = built
        self.allocations = allocations
    }

    deinit {
        for p in allocations { p.deallocate() }
    }
}
