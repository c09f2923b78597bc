import CollectorCore
import CollectorTesting
import Testing

@Suite struct ManualClockTests {
    @Test func sleeperWakesOnlyWhenTimePassesItsDeadline() async throws {
        let clock = ManualClock()
        let woke = LockedValue(false)
        let task = Task {
            try await clock.sleep(for: .seconds(5))
            woke.withLock { $0 = true }
        }
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(4))
        #expect(clock.sleeperCount == 1)
        #expect(!woke.withLock { $0 })
        clock.advance(by: .seconds(1))
        try await task.value
        #expect(woke.withLock { $0 })
        #expect(clock.now == .seconds(5))
    }

    @Test func cancellingASleeperThrowsCancellation() async {
        let clock = ManualClock()
        let task = Task { try await clock.sleep(for: .seconds(60)) }
        await clock.waitForSleepers(1)
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(clock.sleeperCount == 0)
    }
}
