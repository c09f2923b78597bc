import CollectorCore
import Synchronization
import Testing

@Suite struct ParallelRangesTests {
    @Test(arguments: [(0, 10, 2), (1, 10, 2), (19, 10, 2), (20, 10, 2), (21, 10, 2), (10_001, 1000, 2), (7, 1, 4), (100, 0, 3), (5, 10, 0)])
    func rangesCoverEveryItemOnceInOrderWithinTheLimits(count: Int, minimum: Int, cores: Int) {
        let ranges = ParallelRanges.split(count: count, minimumPerRange: minimum, cores: cores)
        #expect(ranges.flatMap { Array($0) } == Array(0..<count))
        #expect(ranges.count <= max(1, cores))
        if ranges.count > 1 { #expect(ranges.allSatisfy { $0.count >= minimum }) }
        if count >= 2 * max(1, minimum) && cores >= 2 { #expect(ranges.count >= 2) }
    }

    @Test func resultsComeBackInRangeOrderWhateverOrderTheRangesFinishIn() {
        let ran = Atomic<Int>(0)
        let parts = ParallelRanges.map(count: 10_000, minimumPerRange: 100, cores: 4) { range in
            ran.add(1, ordering: .relaxed)
            return range.reduce(0, +)
        }
        #expect(parts.count == 4)
        #expect(ran.load(ordering: .relaxed) == 4)
        #expect(parts.reduce(0, +) == (0..<10_000).reduce(0, +))
        #expect(parts == ParallelRanges.split(count: 10_000, minimumPerRange: 100, cores: 4).map { $0.reduce(0, +) })
    }

    struct Refused: Error, Equatable { let first: Int }

    @Test func anErrorOfOneRangeIsThrownAfterEveryRangeRan() {
        let ran = Atomic<Int>(0)
        #expect(throws: Refused(first: 50)) {
            try ParallelRanges.map(count: 100, minimumPerRange: 25, cores: 4) { (range: Range<Int>) throws(Refused) -> Int in
                ran.add(1, ordering: .relaxed)
                if range.lowerBound == 50 { throw Refused(first: range.lowerBound) }
                return range.count
            }
        }
        #expect(ran.load(ordering: .relaxed) == 4)
    }
}
