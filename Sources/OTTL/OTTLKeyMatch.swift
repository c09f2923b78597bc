import OTLP
#if canImport(Glibc)
import Glibc
#endif

/// An attribute key from a statement, compared with the keys of an attribute list by length and then bytes
/// (`memcmp`), which is what a key lookup costs most of; falls back to `==` for strings without contiguous UTF-8.
struct OTTLKeyMatch: Sendable {
    let key: String
    private let bytes: [UInt8]

    init(_ key: String) {
        self.key = key
        self.bytes = Array(key.utf8)
    }

    @inline(__always)
    func matches(_ candidate: String) -> Bool {
        guard candidate.utf8.count == bytes.count else { return false }
        let same: Bool? = candidate.utf8.withContiguousStorageIfAvailable { c in
            bytes.withUnsafeBufferPointer { k in
                guard let a = c.baseAddress, let b = k.baseAddress else { return true }
                return memcmp(a, b, k.count) == 0
            }
        }
        return same ?? (candidate == key)
    }

    /// The index of the first attribute with this key.
    @inline(__always)
    func index(in list: [KeyValue]) -> Int? {
        list.firstIndex { matches($0.key) }
    }
}
