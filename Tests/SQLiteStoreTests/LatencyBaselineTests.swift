import CollectorCore
import CollectorTesting
import Foundation
import GRDB
import OTLP
import Testing

@testable import SQLiteStore

@Suite("Latency baselines and anomalies")
struct LatencyBaselineTests {
    private static let hour: Int64 = 3_600_000_000_000

    /// `count` durations spread evenly over [low, high) nanoseconds, in an order drawn from `seed`.
    private static func durations(_ count: Int, low: Int64, high: Int64, seed: UInt64) -> [Int64] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in low + Int64(random.next() % UInt64(high - low)) }
    }

    @Test func sketchQuantilesAreWithinTwoPercent() {
        let seed = TestSeed.next()
        var random = SplitMix64(seed: seed)
        var values: [Int64] = []
        var sketch = LatencySketch()
        for _ in 0..<5000 {
            // A long-tailed mix from 1 µs to 20 ms: a factor of 20,000, within what the sketch keeps apart (wider
            // ranges fold the lowest buckets: aSketchKeepsAtMostItsBucketBoundAndItsHighQuantilesExact).
            let v = Int64(1000 * exp(Double(random.next() % 1_000_000) / 1_000_000 * log(20_000.0)))
            values.append(v)
            sketch.add(nanos: v, weight: 1)
        }
        values.sort()
        for q in [0.5, 0.9, 0.99] {
            let exact = Double(values[Int((Double(values.count) * q).rounded(.up)) - 1])
            let estimate = sketch.quantile(q) ?? 0
            #expect(abs(estimate - exact) / exact <= 0.021, "q\(q): \(estimate) vs \(exact) (seed \(seed))")
        }
    }

    @Test func sketchRoundTripsThroughItsStoredFormAndRejectsGarbage() throws {
        var sketch = LatencySketch()
        for v: Int64 in [0, 5, 1_000, 1_000_000, 3_000_000_000] { sketch.add(nanos: v, weight: 1.5) }
        #expect(LatencySketch(encoded: sketch.encoded()) == sketch)
        #expect(LatencySketch(encoded: []) == nil)
        #expect(LatencySketch(encoded: [2, 0, 0, 0, 0, 0, 0, 0, 0]) == nil)  // unknown version
        var negative = sketch.encoded()
        negative.replaceSubrange(13..<21, with: withUnsafeBytes(of: Double(-1).bitPattern.littleEndian, Array.init))
        #expect(LatencySketch(encoded: negative) == nil)
        // The highest bucket a stored sketch can name still converts to Int64 nanoseconds.
        var top = [UInt8](repeating: 0, count: 21)
        top[0] = 2
        top.replaceSubrange(1..<5, with: withUnsafeBytes(of: LatencySketch.maxIndex.littleEndian, Array.init))
        top.replaceSubrange(13..<21, with: withUnsafeBytes(of: Double(1).bitPattern.littleEndian, Array.init))
        let highest = try #require(LatencySketch(encoded: top)?.quantile(0.99))
        #expect(Int64(exactly: highest.rounded()) != nil)
        var huge = [UInt8](repeating: 0, count: 13 + 8 * (LatencySketch.maxBuckets + 1))
        huge[0] = 2
        #expect(LatencySketch(encoded: huge) == nil)  // more buckets than a sketch keeps
    }

    @Test func aSketchKeepsAtMostItsBucketBoundAndItsHighQuantilesExact() {
        var sketch = LatencySketch()
        // A hostile spread: 1 ns to 2^62 ns, in both orders.
        for shift in 0..<63 { sketch.add(nanos: 1 << shift, weight: 1) }
        for shift in (0..<63).reversed() { sketch.add(nanos: 1 << shift, weight: 1) }
        #expect(sketch.counts.count <= LatencySketch.maxBuckets)
        #expect(sketch.total == 126)
        // The top of the range is kept apart: the maximum is within 2 %.
        let top = Double(Int64(1) << 62)
        #expect(abs((sketch.quantile(1) ?? 0) - top) / top < 0.021)
        // A normal sketch stays small: 10–20 ms is about 18 buckets.
        var normal = LatencySketch()
        for d in stride(from: Int64(10_000_000), to: 20_000_000, by: 10_000) { normal.add(nanos: d, weight: 1) }
        #expect(normal.counts.count < 25)
    }

    private func observe(_ b: LatencyBaselines, _ op: String, _ d: Int64, service: String = "shop") -> Double? {
        var name = op
        return name.withUTF8 { bytes in
            let raw = UnsafeRawBufferPointer(bytes)
            let hash = SpanBatchWriter.OperationHash.of(serviceHash: SpanBatchWriter.OperationHash.of(service: service), name: raw, kind: 2)
            return b.observe(hash: hash, service: service, name: raw, kind: 2, durationNanos: d)
        }
    }

    @Test func aSlowSpanIsFlaggedOnlyAgainstAnEstablishedBaseline() {
        let seed = TestSeed.next()
        var config = AnomalyDetectionConfig()
        config.minSamples = 200
        config.factor = 2
        let baselines = LatencyBaselines(config: config)
        let t0: Int64 = 1_800_000_000 * 1_000_000_000
        baselines.begin(now: t0)
        for d in Self.durations(1000, low: 10_000_000, high: 20_000_000, seed: seed) {
            #expect(observe(baselines, "GET /cart", d) == nil, "seed \(seed)")
        }
        // p99 ≈ 20 ms: 45 ms is more than twice that, 35 ms is not.
        let p99 = observe(baselines, "GET /cart", 45_000_000)
        #expect(p99.map { abs($0 - 20_000_000) / 20_000_000 < 0.03 } == true, "\(String(describing: p99)) (seed \(seed))")
        #expect(observe(baselines, "GET /cart", 35_000_000) == nil)
        // A new operation with fewer samples than min_samples is never flagged, however slow.
        for d in Self.durations(150, low: 1_000_000, high: 2_000_000, seed: seed) { _ = observe(baselines, "POST /pay", d) }
        #expect(observe(baselines, "POST /pay", 10_000_000_000) == nil)
    }

    @Test func theBaselineForgetsSamplesOlderThanItsHalfLife() {
        var config = AnomalyDetectionConfig()
        config.minSamples = 200
        config.baselineHalfLife = .seconds(3600)
        config.recentHalfLife = .seconds(600)
        let baselines = LatencyBaselines(config: config)
        let t0: Int64 = 1_800_000_000 * 1_000_000_000
        baselines.begin(now: t0)
        for d in Self.durations(1000, low: 10_000_000, high: 20_000_000, seed: 7) { _ = observe(baselines, "GET /cart", d) }
        #expect(observe(baselines, "GET /cart", 100_000_000) != nil)
        // Four half-lives later the 1000 samples count as about 62: too few to judge.
        baselines.begin(now: t0 + 4 * Self.hour)
        for _ in 0..<LatencyBaselines.refreshEvery { _ = observe(baselines, "GET /cart", 15_000_000) }
        #expect(observe(baselines, "GET /cart", 100_000_000) == nil)
        // Days later (the landmark moved many times), a new stable period makes a new baseline.
        baselines.begin(now: t0 + 72 * Self.hour)
        for d in Self.durations(1000, low: 100_000_000, high: 120_000_000, seed: 8) { _ = observe(baselines, "GET /cart", d) }
        #expect(observe(baselines, "GET /cart", 200_000_000) == nil, "100–120 ms is the new normal")
        #expect(observe(baselines, "GET /cart", 300_000_000) != nil)
    }

    @Test func flaggedSpansAreStoredFoundAndSurviveARestartWithTheirBaseline() async throws {
        try await withTemporaryDirectory { dir in
            let config = storeConfig(dir) { $0.anomalies.minSamples = 100 }
            var store = try SQLiteTraceStore(config: config)
            let start = nowNanos() - 60_000_000_000
            // A stable operation: 300 traces of one 10–12 ms span.
            var spans: [Span] = []
            for (i, d) in Self.durations(300, low: 10_000_000, high: 12_000_000, seed: 3).enumerated() {
                var s = makeSpan(trace: randomBytes(16), name: "GET /cart", start: start + UInt64(i) * 1000, duration: UInt64(d))
                s.kind = .server
                spans.append(s)
            }
            try await store.append(makeRequest(service: "shop", spans: spans))
            func request(_ duration: UInt64) -> (trace: Data, span: Data, request: ExportTraceRequest) {
                let trace = randomBytes(16)
                var s = makeSpan(trace: trace, name: "GET /cart", start: nowNanos(), duration: duration)
                s.kind = .server
                return (trace, s.spanID, makeRequest(service: "shop", spans: [s]))
            }
            let slow = request(80_000_000)
            let normal = request(11_000_000)
            try await store.append(slow.request)
            try await store.append(normal.request)
            var reader = TraceReader(store: store)
            let read = try reader.traces(ids: [slow.trace, normal.trace], limits: .unlimited)
            let anomaly = try #require(read.anomalies[slow.trace]?[slow.span])
            #expect(anomaly.durationNanos == 80_000_000)
            #expect(anomaly.ratio > 6 && anomaly.ratio < 8, "p99 ≈ 12 ms: \(anomaly)")
            #expect(read.anomalies[normal.trace] == nil)
            let now = Int64(nowNanos())
            let found = try reader.searchTraces(
                TraceSearchQuery(
                    service: "shop", tags: [SpanAnomaly.tag], startMin: now - Self.hour, startMax: now + Self.hour, limit: 10,
                    timeBudget: .seconds(10)))
            #expect(found.traceIDs == [slow.trace])

            // After a restart the baseline is still there: the next slow span is flagged without relearning.
            await store.close()
            store = try SQLiteTraceStore(config: config)
            let again = request(90_000_000)
            try await store.append(again.request)
            reader = TraceReader(store: store)
            #expect(try reader.traces(ids: [again.trace], limits: .unlimited).anomalies[again.trace]?[again.span] != nil)
            let shifts = try reader.latencyShifts(now: Int64(nowNanos()), limit: 10)
            #expect(shifts.map(\.operation) == ["GET /cart"])
            #expect(shifts.first.map { $0.baselineSamples > 290 && $0.kind == 2 } == true)
            await store.close()
        }
    }

    @Test func disabledAnomalyDetectionKeepsNoBaseline() async throws {
        try await withTemporaryDirectory { dir in
            let store = try SQLiteTraceStore(config: storeConfig(dir) { $0.anomalies.enabled = false })
            try await store.append(traceRequest(spans: 50, start: nowNanos()).request)
            #expect(
                try TraceReader(store: store).latencyShifts(now: Int64(nowNanos()), limit: 10, minBaselineSamples: 0, minRecentSamples: 0).isEmpty)
            await store.close()
        }
    }
}
