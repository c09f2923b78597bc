import CollectorCore
import CollectorTesting
import Foundation
import OTLP
import Testing

@testable import Processors

/// A downstream consumer that refuses everything with a retryable error.
struct TailRefusingConsumer: TracesConsumer {
    func consume(_ traces: ExportTraceRequest) async throws { throw PipelineError.retryable("full") }
}

func tailTraceID(_ n: Int) -> String { String(format: "%032x", n + 1) }

func tailProcessor(_ policies: [TailSamplingPolicy.Rule], wait: Duration = .seconds(10), configure: (inout TailSamplingConfig) -> Void = { _ in })
    -> (TailSamplingProcessor, TracesSink, ManualClock)
{
    var config = TailSamplingConfig(
        policies: policies.enumerated().map { TailSamplingPolicy(name: "p\($0.offset)", rule: $0.element) }, decisionWait: wait)
    configure(&config)
    let sink = TracesSink()
    let clock = ManualClock()
    return (TailSamplingProcessor(config: config, next: sink, clock: clock), sink, clock)
}

/// Advances the clock and waits until the decision loop has handled the tick and sleeps again.
func tailAdvance(_ clock: ManualClock, by duration: Duration) async {
    clock.advance(by: duration)
    await clock.waitForSleepers(1)
}

func tailDeliveredTraceIDs(_ sink: TracesSink) -> Set<Data> {
    var ids: Set<Data> = []
    for r in sink.receivedTraces { for rs in r.resourceSpans { for ss in rs.scopeSpans { for s in ss.spans { ids.insert(s.traceID) } } } }
    return ids
}

@Suite struct TailSamplingProcessorTests {
    @Test func traceIsDecidedDecisionWaitAfterItsFirstSpan() async throws {
        let (processor, sink, clock) = tailProcessor([.statusCode([.error])])
        let running = RunningService(processor)
        await clock.waitForSleepers(1)
        let errorTrace = tailTraceID(1)
        let okTrace = tailTraceID(2)
        try await processor.consume(tailRequest([TailSpan(traceID: errorTrace), TailSpan(traceID: okTrace)]))
        await tailAdvance(clock, by: .seconds(5))
        // A second span of the error trace arrives later; it joins the pending trace.
        try await processor.consume(tailRequest([TailSpan(traceID: errorTrace, status: .error)]))
        await tailAdvance(clock, by: .seconds(4))
        #expect(sink.receivedTraces.isEmpty)
        #expect(processor.statistics.pendingTraces == 2)
        await tailAdvance(clock, by: .seconds(1))
        #expect(tailDeliveredTraceIDs(sink) == [samplingHexData(errorTrace)])
        #expect(sink.spanCount == 2)
        let stats = processor.statistics
        #expect(stats.tracesSampled == 1 && stats.tracesNotSampled == 1 && stats.pendingTraces == 0 && stats.bufferedBytes == 0)
        try await running.stop()
    }

    @Test func sampledSpansKeepTheirResourceAndScope() async throws {
        let (processor, sink, clock) = tailProcessor([.alwaysSample])
        let running = RunningService(processor)
        await clock.waitForSleepers(1)
        var service = KeyValue()
        service.key = "service.name"
        service.value = .string("checkout")
        try await processor.consume(tailRequest([TailSpan(traceID: tailTraceID(1)), TailSpan(traceID: tailTraceID(2))], resource: [service]))
        await tailAdvance(clock, by: .seconds(10))
        let delivered = sink.receivedTraces
        #expect(delivered.count == 1)  // both traces in one request
        for rs in delivered.first?.resourceSpans ?? [] {
            #expect(rs.resource.attributes.stringValue("service.name") == "checkout")
            #expect(rs.scopeSpans.first?.scope.name == "scope")
        }
        #expect(sink.spanCount == 2)
        try await running.stop()
    }

    @Test func lateSpansFollowTheDecision() async throws {
        let (processor, sink, clock) = tailProcessor([.statusCode([.error])])
        let running = RunningService(processor)
        await clock.waitForSleepers(1)
        let kept = tailTraceID(1)
        let dropped = tailTraceID(2)
        try await processor.consume(tailRequest([TailSpan(traceID: kept, status: .error), TailSpan(traceID: dropped)]))
        await tailAdvance(clock, by: .seconds(10))
        #expect(sink.spanCount == 1)
        // Late spans: the sampled trace's are forwarded at once (even without an error status), the other's dropped,
        // even though this late span of the dropped trace has an error status.
        try await processor.consume(tailRequest([TailSpan(traceID: kept), TailSpan(traceID: dropped, status: .error)]))
        #expect(sink.spanCount == 2)
        #expect(tailDeliveredTraceIDs(sink) == [samplingHexData(kept)])
        let stats = processor.statistics
        #expect(stats.lateSpansForwarded == 1 && stats.lateSpansDropped == 1 && stats.pendingTraces == 0)
        try await running.stop()
    }

    @Test func withoutDecisionCachesLateSpansStartANewTrace() async throws {
        let (processor, sink, clock) = tailProcessor([.statusCode([.error])]) {
            $0.sampledCacheSize = 0
            $0.nonSampledCacheSize = 0
        }
        let running = RunningService(processor)
        await clock.waitForSleepers(1)
        try await processor.consume(tailRequest([TailSpan(traceID: tailTraceID(1), status: .error)]))
        await tailAdvance(clock, by: .seconds(10))
        try await processor.consume(tailRequest([TailSpan(traceID: tailTraceID(1))]))
        #expect(sink.spanCount == 1)
        #expect(processor.statistics.pendingTraces == 1)
        try await running.stop()
    }

    @Test func decisionCachesForgetTheirOldestTraceIDsFirst() async throws {
        let (processor, sink, clock) = tailProcessor([.statusCode([.error])]) {
            $0.sampledCacheSize = 2
            $0.nonSampledCacheSize = 1
        }
        let running = RunningService(processor)
        await clock.waitForSleepers(1)
        // Traces 1–3 sampled, 4 and 5 not, decided in that order.
        let first = (1...3).map { TailSpan(traceID: tailTraceID($0), status: .error) } + (4...5).map { TailSpan(traceID: tailTraceID($0)) }
        try await processor.consume(tailRequest(first))
        await tailAdvance(clock, by: .seconds(10))
        #expect(sink.spanCount == 3)
        // The sampled cache remembers 2 and 3, the other 5: late spans of those follow their decision; 1 and 4 were
        // forgotten, so theirs start new pending traces.
        try await processor.consume(tailRequest((1...5).map { TailSpan(traceID: tailTraceID($0)) }))
        #expect(sink.spanCount == 5)
        var stats = processor.statistics
        #expect(stats.lateSpansForwarded == 2 && stats.lateSpansDropped == 1 && stats.pendingTraces == 2)
        // Decided again (not sampled this time: no error), 1 and 4 are now in the non-sampled cache, which holds
        // one: 1 was decided first, so 4 is remembered.
        await tailAdvance(clock, by: .seconds(10))
        try await processor.consume(
            tailRequest([TailSpan(traceID: tailTraceID(1), status: .error), TailSpan(traceID: tailTraceID(4), status: .error)]))
        stats = processor.statistics
        #expect(stats.lateSpansDropped == 2 && stats.pendingTraces == 1 && sink.spanCount == 5)
        try await running.stop()
    }

    @Test func oldestTracesAreDecidedEarlyWhenNumTracesIsExceeded() async throws {
        let (processor, sink, _) = tailProcessor([.alwaysSample]) { $0.numTraces = 3 }
        for i in 0..<5 { try await processor.consume(tailRequest([TailSpan(traceID: tailTraceID(i))])) }
        // No clock tick happened: the two oldest were decided (and forwarded) to make room.
        #expect(tailDeliveredTraceIDs(sink) == [samplingHexData(tailTraceID(0)), samplingHexData(tailTraceID(1))])
        let stats = processor.statistics
        #expect(stats.pendingTraces == 3 && stats.tracesDecidedEarly == 2)
    }

    @Test func oldestTracesAreDecidedEarlyWhenBufferedBytesAreExceeded() async throws {
        let (processor, sink, _) = tailProcessor([.alwaysSample]) { $0.maxBufferedBytes = 4000 }
        let bigValue = String(repeating: "x", count: 1000)
        for i in 0..<10 {
            let spans = (0..<2).map { _ in TailSpan(traceID: tailTraceID(i), attributes: [samplingAttribute("payload", .stringValue(bigValue))]) }
            try await processor.consume(tailRequest(spans))
            #expect(processor.statistics.bufferedBytes <= 4000)
        }
        let stats = processor.statistics
        #expect(stats.tracesDecidedEarly > 0)
        #expect(stats.pendingTraces + stats.tracesDecidedEarly == 10)
        #expect(sink.spanCount == stats.tracesDecidedEarly * 2)
        // Oldest first.
        #expect(tailDeliveredTraceIDs(sink).contains(samplingHexData(tailTraceID(0))))
    }

    @Test func gracefulShutdownDecidesAndFlushesEveryPendingTrace() async throws {
        let (processor, sink, clock) = tailProcessor([.statusCode([.error])])
        let running = RunningService(processor)
        await clock.waitForSleepers(1)
        try await processor.consume(tailRequest([TailSpan(traceID: tailTraceID(1), status: .error), TailSpan(traceID: tailTraceID(2))]))
        try await running.stop()
        #expect(tailDeliveredTraceIDs(sink) == [samplingHexData(tailTraceID(1))])
        #expect(processor.statistics.pendingTraces == 0)
        // After shutdown new data is refused as retryable.
        await #expect(throws: PipelineError.self) { try await processor.consume(tailRequest([TailSpan(traceID: tailTraceID(3))])) }
    }

    @Test func dropPendingTracesOnShutdownForgetsThem() async throws {
        let (processor, sink, clock) = tailProcessor([.alwaysSample]) { $0.dropPendingTracesOnShutdown = true }
        let running = RunningService(processor)
        await clock.waitForSleepers(1)
        try await processor.consume(tailRequest([TailSpan(traceID: tailTraceID(1)), TailSpan(traceID: tailTraceID(2))]))
        try await running.stop()
        #expect(sink.receivedTraces.isEmpty)
        #expect(processor.statistics.pendingTracesDroppedOnShutdown == 2)
    }

    @Test func shutdownWithoutStartIsHarmless() async throws {
        let (processor, sink, _) = tailProcessor([.alwaysSample])
        await processor.finish()
        #expect(sink.receivedTraces.isEmpty)
    }

    @Test func downstreamRefusalOfDecidedSpansIsCountedNotThrown() async throws {
        let config = TailSamplingConfig(policies: [TailSamplingPolicy(name: "all", rule: .alwaysSample)], decisionWait: .seconds(1))
        let clock = ManualClock()
        let processor = TailSamplingProcessor(config: config, next: TailRefusingConsumer(), clock: clock)
        let running = RunningService(processor)
        await clock.waitForSleepers(1)
        try await processor.consume(tailRequest([TailSpan(traceID: tailTraceID(1)), TailSpan(traceID: tailTraceID(1))]))
        await tailAdvance(clock, by: .seconds(1))
        #expect(processor.statistics.spansLostDownstream == 2)
        // A late span of that trace is forwarded inside consume, so its refusal reaches the caller.
        await #expect(throws: PipelineError.self) { try await processor.consume(tailRequest([TailSpan(traceID: tailTraceID(1))])) }
        try await running.stop()
    }

    @Test func manyInterleavedTracesAreGroupedInOrder() {
        // 40 traces, their spans interleaved, over two scopes and two resources: past 16 traces in a resource the
        // grouping switches from a scan to a table.
        var request = ExportTraceRequest()
        for r in 0..<2 {
            var rs = ResourceSpans()
            rs.resource.attributes = [samplingAttribute("r", .intValue(Int64(r)))]
            for scope in 0..<2 {
                var ss = ScopeSpans()
                ss.scope.name = "s\(scope)"
                for round in 0..<3 {
                    for t in 0..<40 where (t + round + r) % 3 != 0 {
                        var span = TailSpan(traceID: tailTraceID(t)).span()
                        span.name = "r\(r)-s\(scope)-\(round)"
                        ss.spans.append(span)
                    }
                }
                rs.scopeSpans.append(ss)
            }
            request.resourceSpans.append(rs)
        }
        let arrivals = TailSamplingProcessor.groupByTrace(request, checks: TailSamplingDecider(policies: [], sampleOnFirstMatch: false).checks)
        #expect(arrivals.count == 80)
        #expect(arrivals.reduce(0) { $0 + $1.spanCount } == request.spanCount)
        for a in arrivals {
            let spans = a.fragment.scopeSpans.flatMap(\.spans)
            #expect(spans.count == a.spanCount)
            #expect(spans.allSatisfy { TailTraceKey($0.traceID) == a.key })
            // In request order: by scope, then by round.
            #expect(spans.map(\.name) == spans.map(\.name).sorted())
        }
    }

    @Test func spansOfOneRequestAreGroupedPerTraceAndScope() {
        var request = tailRequest([TailSpan(traceID: tailTraceID(1)), TailSpan(traceID: tailTraceID(2)), TailSpan(traceID: tailTraceID(1))])
        var second = ScopeSpans()
        second.scope.name = "other"
        second.spans = [TailSpan(traceID: tailTraceID(1)).span()]
        request.resourceSpans[0].scopeSpans.append(second)
        let arrivals = TailSamplingProcessor.groupByTrace(request, checks: TailSamplingDecider(policies: [], sampleOnFirstMatch: false).checks)
        #expect(arrivals.count == 2)
        #expect(arrivals[0].spanCount == 3)
        #expect(arrivals[0].fragment.scopeSpans.map(\.scope.name) == ["scope", "other"])
        #expect(arrivals[0].fragment.scopeSpans.map(\.spans.count) == [2, 1])
        #expect(arrivals[1].spanCount == 1)
    }
}
