import CollectorCore

/// The seeded generator randomized tests use (CollectorCore's ``SeededRandom``), so a failure can be reproduced
/// from the seed it prints.
public typealias SplitMix64 = SeededRandom

extension SeededRandom {
    /// A number in `0..<n` (n > 0).
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// One of `choices` (not empty).
    public mutating func pick<T>(_ choices: [T]) -> T { choices[below(choices.count)] }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
}
