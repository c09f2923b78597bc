import OTLP

#if canImport(Glibc)
    import Glibc
#endif

/// An attribute key from a statement, compared with the keys of an attribute list without going through `String ==`:
/// by length, then by the last and first eight bytes (keys that share a namespace prefix differ at the end), then
/// the rest with `memcmp`. Falls back to `==` for strings without contiguous UTF-8.
struct OTTLKeyMatch: Sendable {
    let key: String
    private let bytes: [UInt8]
    /// The key's first and last eight bytes (for keys of at least eight bytes).
    private let head: UInt64, tail: UInt64

    init(_ key: String) {
        self.key = key
        bytes = Array(key.utf8)
        (head, tail) = bytes.withUnsafeBytes { raw in
            raw.count >= 8 ? (raw.loadUnaligned(as: UInt64.self), raw.loadUnaligned(fromByteOffset: raw.count - 8, as: UInt64.self)) : (0, 0)
        }
    }

    @inline(__always)
    func matches(_ candidate: String) -> Bool {
        let n = bytes.count
        guard candidate.utf8.count == n else { return false }
        if n == 0 { return true }
        let same: Bool? = candidate.utf8.withContiguousStorageIfAvailable { c in
            guard let a = c.baseAddress else { return false }
            if n >= 8 {
                let raw = UnsafeRawPointer(a)
                guard raw.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) == tail, raw.loadUnaligned(as: UInt64.self) == head else {
                    return false
                }
                if n <= 16 { return true }  // the two words covered every byte
            }
            return bytes.withUnsafeBufferPointer { k in
                guard let b = k.baseAddress else { return false }
                return memcmp(a, b, n) == 0
            }
        }
        return same ?? (candidate == key)
    }

    /// The index of the first attribute with this key.
    @inline(__always)
    func index(in list: [KeyValue]) -> Int? {
        list.withUnsafeBufferPointer { kvs in
            for i in kvs.indices where matches(kvs[i].key) { return i }
            return nil
        }
    }
}
