import Dispatch
import Foundation

/// Splits work over `0..<count` into contiguous ranges run at the same time, one per core, for the few answers
/// large enough that one core makes them slow (a 10,000-span trace decoded and written as JSON). Small counts
/// run on the calling thread, as one range.
public enum ParallelRanges {
    /// `body` of each range, in range order. Ranges hold at least `minimumPerRange` items (so small work is not
    /// split); at most as many ranges as the machine has active cores. The first error any range throws is
    /// rethrown, after every range has finished.
    public static func map<T, E: Error>(
        count: Int, minimumPerRange: Int, cores: Int = ProcessInfo.processInfo.activeProcessorCount,
        _ body: @Sendable (Range<Int>) throws(E) -> T
    ) throws(E) -> [T] {
        let ranges = split(count: count, minimumPerRange: minimumPerRange, cores: cores)
        if ranges.count <= 1 { return try ranges.map(body) }
        var results = [Result<T, E>?](repeating: nil, count: ranges.count)
        results.withUnsafeMutableBufferPointer { slots in
            // Each iteration writes only its own slot; concurrentPerform returns after every iteration ended.
            nonisolated(unsafe) let slots = slots
            DispatchQueue.concurrentPerform(iterations: ranges.count) { i in
                slots[i] = Result { () throws(E) -> T in try body(ranges[i]) }
            }
        }
        var out: [T] = []
        out.reserveCapacity(ranges.count)
        for (range, result) in zip(ranges, results) {
            // Every slot is set by then; were one not, its range runs here.
            if let result {
                out.append(try result.get())
            } else {
                out.append(try body(range))
            }
        }
        return out
    }

    /// `0..<count` in at most `cores` contiguous ranges of nearly equal size, each of at least `minimumPerRange`
    /// items (one range when `count` is smaller than twice that; none when it is 0).
    public static func split(count: Int, minimumPerRange: Int, cores: Int) -> [Range<Int>] {
        guard count > 0 else { return [] }
        let parts = max(1, min(cores, count / max(1, minimumPerRange)))
        // The first `count % parts` ranges hold one item more (no product of `count` that could overflow).
        let (size, extra) = count.quotientAndRemainder(dividingBy: parts)
        func start(_ p: Int) -> Int { p * size + min(p, extra) }
        return (0..<parts).map { p in start(p)..<start(p + 1) }
    }
}
