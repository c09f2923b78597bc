import CollectorCore
import CollectorTesting
import Logging
import OTLPExporters
import Synchronization
import Testing

/// Answers each send with the next scripted verdict (the last one repeats) and records when it was asked.
final class ScriptedUpstream: UpstreamSender {
    private let script: Mutex<[UpstreamVerdict]>
    private let calls = Mutex<[Duration]>([])
    let clock: ManualClock

    init(_ verdicts: [UpstreamVerdict], clock: ManualClock) {
        script = Mutex(verdicts)
        self.clock = clock
    }

    func send(_ request: OutgoingRequest) async -> UpstreamVerdict {
        calls.withLock { $0.append(clock.now) }
        return script.withLock { s in s.count > 1 ? s.removeFirst() : s[0] }
    }

    var callTimes: [Duration] { calls.withLock { $0 } }
}

final class Reports: Sendable {
    private let all = Mutex<[DeliveryReport]>([])
    func add(_ r: DeliveryReport) { all.withLock { $0.append(r) } }
    var list: [DeliveryReport] { all.withLock { $0 } }
}

@Suite("SendingQueue")
struct SendingQueueTests {
    static let request = OutgoingRequest(signal: .traces, bytes: [1, 2, 3], items: 5)

    func makeQueue(_ upstream: ScriptedUpstream, _ configure: (inout SendingQueueSettings, inout RetryPolicy) -> Void = { _, _ in })
        -> (SendingQueue, Reports)
    {
        var settings = SendingQueueSettings()
        var retry = RetryPolicy()
        retry.randomizationFactor = 0
        configure(&settings, &retry)
        let reports = Reports()
        let queue = SendingQueue(
            settings: settings, retry: retry, sender: upstream, clock: upstream.clock,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }), randomSeed: 7, report: reports.add)
        return (queue, reports)
    }

    /// Moves the manual clock from one sleeper's deadline to the next until `done` holds (bounded).
    func advance(_ clock: ManualClock, until done: () -> Bool) async {
        for _ in 0..<2000 where !done() {
            try? await Task.sleep(for: .milliseconds(1))
            clock.advanceToNextDeadline()
        }
    }

    @Test func aThrottledExportIsRetriedAfterTheServersDelayAndDeliveredOnce() async throws {
        let clock = ManualClock()
        let upstream = ScriptedUpstream([.retryable(after: .seconds(20), reason: "slow down"), .delivered(rejected: 0, message: "")], clock: clock)
        let (queue, reports) = makeQueue(upstream)
        async let running: Void = queue.run()
        try await queue.submit(Self.request)
        await advance(clock) { !reports.list.isEmpty }
        #expect(upstream.callTimes == [.zero, .seconds(20)])
        #expect(reports.list == [DeliveryReport(signal: .traces, items: 5, outcome: .delivered)])
        queue.close()
        await running
    }

    @Test func aPermanentAnswerDropsTheDataWithoutRetrying() async throws {
        let clock = ManualClock()
        let upstream = ScriptedUpstream([.permanent(reason: "HTTP 400: bad")], clock: clock)
        let (queue, reports) = makeQueue(upstream)
        async let running: Void = queue.run()
        try await queue.submit(Self.request)
        await advance(clock) { !reports.list.isEmpty }
        #expect(upstream.callTimes.count == 1)
        #expect(reports.list.first?.outcome == .dropped)
        #expect(reports.list.first?.reason == "HTTP 400: bad")
        queue.close()
        await running
    }

    @Test func retriesStopAtMaxElapsedTime() async throws {
        let clock = ManualClock()
        let upstream = ScriptedUpstream([.retryable(after: nil, reason: "down")], clock: clock)
        let (queue, reports) = makeQueue(upstream) { _, retry in retry.maxElapsedTime = .seconds(60) }
        async let running: Void = queue.run()
        try await queue.submit(Self.request)
        await advance(clock) { !reports.list.isEmpty }
        // 5, 7.5, 11.25, 16.875 s: the next wait (25.3 s) would pass 60 s.
        #expect(upstream.callTimes == [.zero, .seconds(5), .milliseconds(12_500), .milliseconds(23_750), .milliseconds(40_625)])
        #expect(reports.list.first?.outcome == .dropped)
        #expect(reports.list.first?.reason.contains("max_elapsed_time") == true)
        queue.close()
        await running
    }

    @Test func aFullQueueRefusesRetryablyAndTakesMoreOnceItDrains() async throws {
        let clock = ManualClock()
        let upstream = ScriptedUpstream([.retryable(after: .seconds(1), reason: "down"), .delivered(rejected: 0, message: "")], clock: clock)
        let (queue, reports) = makeQueue(upstream) { s, _ in
            s.queueSize = 10
            s.sizer = .items
            s.numConsumers = 1
        }
        async let running: Void = queue.run()
        try await queue.submit(Self.request)
        try await queue.submit(Self.request)
        #expect(queue.size == 10)
        await #expect(throws: PipelineError.self) { try await queue.submit(Self.request) }
        do { try await queue.submit(Self.request) } catch let e as PipelineError {
            #expect(e.message == "sending queue is full")
            if case .retryable = e.kind {} else { Issue.record("not retryable: \(e.kind)") }
        }
        await advance(clock) { reports.list.count == 2 }
        #expect(queue.size == 0)
        try await queue.submit(Self.request)
        queue.close()
        await running
    }

    @Test func withWaitForResultTheCallerLearnsTheOutcome() async throws {
        let clock = ManualClock()
        let upstream = ScriptedUpstream([.permanent(reason: "grpc status 3: invalid")], clock: clock)
        let (queue, _) = makeQueue(upstream) { s, _ in s.waitForResult = true }
        async let running: Void = queue.run()
        await #expect(throws: PipelineError.self) { try await queue.submit(Self.request) }
        queue.close()
        await running
    }

    @Test func blockOnOverflowWaitsForRoomInsteadOfRefusing() async throws {
        let clock = ManualClock()
        let upstream = ScriptedUpstream([.retryable(after: .seconds(1), reason: "down"), .delivered(rejected: 0, message: "")], clock: clock)
        let (queue, reports) = makeQueue(upstream) { s, _ in
            s.queueSize = 1
            s.numConsumers = 1
            s.blockOnOverflow = true
        }
        async let running: Void = queue.run()
        try await queue.submit(Self.request)
        async let blocked: Void = queue.submit(Self.request)
        await advance(clock) { reports.list.count == 2 }
        try await blocked
        #expect(reports.list.allSatisfy { $0.outcome == .delivered })
        queue.close()
        await running
    }
}
