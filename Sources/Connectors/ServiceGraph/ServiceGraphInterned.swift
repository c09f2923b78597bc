/// Values stored once and referred to by a small number, with a count of references to each: a value is forgotten
/// when its last reference is released, so the table holds only what its holders (the bounded edge store and
/// series) refer to. Not thread-safe; the connector holds it under its lock.
///
/// The service graph refers to names this way so that its edges and series keys are a few plain words: copying
/// them retains nothing, and hashing a series key hashes no strings.
struct ServiceGraphInterned<Value: Hashable & Sendable>: Sendable {
    /// The number standing for no value.
    static var none: Int32 { -1 }

    private var numbers: [Value: Int32] = [:]
    private var values: [Value?] = []
    private var references: [Int] = []
    private var free: [Int32] = []

    /// Values held now.
    var count: Int { numbers.count }

    /// The number of `value`, with one more reference to it.
    mutating func intern(_ value: Value) -> Int32 {
        if let n = numbers[value] {
            references[Int(n)] += 1
            return n
        }
        let n: Int32
        if let reused = free.popLast() {
            n = reused
            values[Int(reused)] = value
            references[Int(reused)] = 1
        } else {
            // Bounded by the references outstanding, which the store's and series' limits bound far below 2^31.
            n = Int32(truncatingIfNeeded: values.count)
            values.append(value)
            references.append(1)
        }
        numbers[value] = n
        return n
    }

    /// One more reference to `n` (nothing for ``none``).
    @inline(__always)
    mutating func retain(_ n: Int32) {
        guard n >= 0 else { return }
        references[Int(n)] += 1
    }

    /// One reference fewer to `n` (nothing for ``none``); the value is forgotten with its last reference.
    @inline(__always)
    mutating func release(_ n: Int32) {
        guard n >= 0 else { return }
        let i = Int(n)
        references[i] -= 1
        guard references[i] == 0, let value = values[i] else { return }
        numbers[value] = nil
        values[i] = nil
        free.append(n)
    }

    /// The value numbered `n`; nil for ``none`` or a number not in use.
    subscript(n: Int32) -> Value? {
        n >= 0 && Int(n) < values.count ? values[Int(n)] : nil
    }
}
