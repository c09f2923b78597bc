import CollectorCore

/// A consistent-hash ring over backends: each backend owns `pointsPerBackend` points, and a key belongs to the
/// backend of the first point at or after the key's hash. Adding or removing one of N backends moves about 1/N
/// of the keys; a key's owner depends only on the set of backends, not on their order.
public struct HashRing: Sendable, Equatable {
    /// The backends, sorted.
    public let backends: [String]
    private let points: [UInt64]
    private let owners: [Int]

    public init(backends: some Sequence<String>, pointsPerBackend: Int = 256) {
        let sorted = Array(Set(backends)).sorted()
        self.backends = sorted
        var pairs: [(UInt64, Int)] = []
        pairs.reserveCapacity(sorted.count * pointsPerBackend)
        for (index, backend) in sorted.enumerated() {
            for i in 0..<pointsPerBackend { pairs.append((Self.hash(Array("\(backend)#\(i)".utf8)), index)) }
        }
        // Ties (vanishingly rare) go to the smaller backend name, so the ring is the same on every instance.
        pairs.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        points = pairs.map(\.0)
        owners = pairs.map(\.1)
    }

    public var isEmpty: Bool { backends.isEmpty }

    /// FNV-1a with a 64-bit finalizer, so that keys differing in a few bits spread over the whole ring.
    @inlinable
    public static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var z = FNV1a64.hash(bytes)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The index (into ``backends``) of the backend that owns `key`; nil when the ring is empty.
    public func owner(of key: some Sequence<UInt8>) -> Int? {
        owner(ofHash: Self.hash(key))
    }

    public func owner(ofHash h: UInt64) -> Int? {
        guard !points.isEmpty else { return nil }
        var low = 0
        var high = points.count
        while low < high {
            let mid = (low + high) / 2
            if points[mid] < h { low = mid + 1 } else { high = mid }
        }
        return owners[low == points.count ? 0 : low]
    }
}
