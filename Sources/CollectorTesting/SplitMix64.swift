import CollectorCore
import Foundation

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

/// The seed of a randomized test: `OTELSINK_TEST_SEED` when it is set (to repeat a run that failed), else a fresh
/// one. A test puts the seed in each failure message (`"seed \(seed)"`), so a failure says how to repeat it:
/// `OTELSINK_TEST_SEED=<seed> swift test --filter <test>`.
public enum TestSeed {
    public static func next() -> UInt64 {
        if let text = ProcessInfo.processInfo.environment["OTELSINK_TEST_SEED"], let seed = UInt64(text) { return seed }
        return UInt64.random(in: 0...UInt64.max)
    }
}
