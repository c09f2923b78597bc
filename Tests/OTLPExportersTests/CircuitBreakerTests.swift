import CollectorCore
import CollectorTesting
import Logging
import OTLPExporters
import Testing

@Suite("Circuit breaker")
struct CircuitBreakerTests {
    func breaker(_ clock: ManualClock) -> CircuitBreaker {
        var s = CircuitBreakerSettings()
        s.enabled = true
        s.failureThreshold = 3
        s.openDuration = .seconds(30)
        return CircuitBreaker(settings: s, clock: clock, logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    @Test func opensAfterTheThresholdLetsOneProbeThroughAfterOpenDurationAndClosesOnItsSuccess() async throws {
        let clock = ManualClock()
        let b = breaker(clock)
        for _ in 0..<2 {
            try await b.acquire()
            b.record(success: false)
        }
        #expect(b.state == .closed)
        try await b.acquire()
        b.record(success: false)
        #expect(b.state == .open(until: .seconds(30)))
        #expect(b.state.gaugeValue == 2)

        // While open, an attempt waits for the open duration.
        let waiting = Task { try await b.acquire() }
        await clock.waitForSleepers(1)
        #expect(b.state.gaugeValue == 2)
        clock.advance(by: .seconds(30))
        try await waiting.value
        #expect(b.state == .halfOpen)

        // A second attempt waits while the probe is out; the probe's success closes the circuit.
        let second = Task { try await b.acquire() }
        await clock.waitForSleepers(1)
        b.record(success: true)
        #expect(b.state == .closed)
        clock.advance(by: .milliseconds(100))
        try await second.value
    }

    @Test func aFailedProbeOpensTheCircuitAgain() async throws {
        let clock = ManualClock()
        let b = breaker(clock)
        for _ in 0..<3 {
            try await b.acquire()
            b.record(success: false)
        }
        clock.advance(by: .seconds(30))
        try await b.acquire()
        #expect(b.state == .halfOpen)
        b.record(success: false)
        #expect(b.state == .open(until: .seconds(60)))
    }

    @Test func aSuccessResetsTheCountOfConsecutiveFailures() async throws {
        let clock = ManualClock()
        let b = breaker(clock)
        for success in [false, false, true, false, false] {
            try await b.acquire()
            b.record(success: success)
        }
        #expect(b.state == .closed)
    }
}
