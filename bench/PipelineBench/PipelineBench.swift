import ArgumentParser
import CollectorCore
import CollectorService
import Foundation
import Logging
import OTLP
import SQLiteStore
import ServiceLifecycle

extension PipelineBench {
    /// `template` (the standard workload in wire form) with fresh trace and span IDs written over the old ones in
    /// place (parents kept consistent: span j of each trace is the child of span (j-1)/2): a copy of the bytes and
    /// an index of them (as the receiver makes), but no encoding.
    static func withFreshIDs(_ template: EncodedTraces, using rng: inout SplitMix64) -> EncodedTraces? {
        let spans = template.spans
        var bytes = template.bytes
        bytes.withUnsafeMutableBytes { raw in
            var ids: [UInt64] = []
            ids.reserveCapacity(Workload.spansPerTrace)
            var trace = (UInt64(0), UInt64(0))
            for (i, span) in spans.enumerated() {
                let j = i % Workload.spansPerTrace
                if j == 0 {
                    trace = (rng.next() | 1, rng.next())
                    ids.removeAll(keepingCapacity: true)
                }
                let id = rng.next() | 1
                ids.append(id)
                guard span.traceID.count == 16, span.spanID.count == 8 else { continue }
                raw.storeBytes(of: trace.0, toByteOffset: span.traceID.lowerBound, as: UInt64.self)
                raw.storeBytes(of: trace.1, toByteOffset: span.traceID.lowerBound + 8, as: UInt64.self)
                raw.storeBytes(of: id, toByteOffset: span.spanID.lowerBound, as: UInt64.self)
                if j > 0, span.parentSpanID.count == 8 {
                    raw.storeBytes(of: ids[(j - 1) / 2], toByteOffset: span.parentSpanID.lowerBound, as: UInt64.self)
                }
            }
        }
        return EncodedTraces(indexing: bytes)
    }
}

/// Feeds the standard workload straight into one pipeline of a real collector (built from a config file, no
/// network hop) and reports the process's CPU time per span, throughput, export latency and peak RSS.
///
/// Generating requests costs CPU too; run the same command on a config whose pipeline has no processors and a
/// `nop` exporter (bench/pipelines/baseline.yaml) and subtract, as bench/run-processors.sh does.
@main
struct PipelineBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "otelsink-pipeline-bench",
        abstract: "Measure a pipeline's CPU cost per span in process.")

    @Option(help: "Collector config file; its traces pipeline is fed (required unless --anomaly-upkeep).")
    var config: String?

    @Flag(help: "Instead of a pipeline, measure the sqlite exporter's latency-baseline upkeep per stored span (no SQLite), over --runs runs.")
    var anomalyUpkeep = false

    @Option(help: "With --anomaly-upkeep or --servicegraph-direct: runs.")
    var runs = 7

    @Flag(
        help:
            "Instead of a pipeline, measure the servicegraph connector's own CPU per span on one thread (10,000 standard-workload requests per run at a simulated 50,000 spans/s; see ServiceGraphDirect.swift), over --runs runs."
    )
    var servicegraphDirect = false

    @Option(help: "Pipeline to feed.")
    var pipeline = "traces"

    @Option(help: "Seconds to measure (after a 1 s warm-up).")
    var seconds: Double = 10

    @Option(help: "Offered spans per second; 0 sends flat out.")
    var rate: Int = 0

    @Option(help: "Concurrent feeders.")
    var concurrency: Int = 4

    @Option(
        help:
            "Generate this many requests before measuring and cycle through them (0: generate each request as it is sent, which costs CPU in the measured window). Pre-generated requests repeat their trace IDs, so use 0 for processors that remember traces."
    )
    var pregenerate: Int = 0

    @Flag(
        help:
            "With --pregenerate: keep the requests as protobuf bytes and decode a fresh copy for every send, so the pipeline owns what it gets (as it does behind a receiver) and edits in place. CPU per span is then the feeding thread's CPU inside the pipeline calls (the decode before each call is not counted), which is exact for pipelines that answer without suspending (stateless processors, nop)."
    )
    var decodeEach = false

    @Flag(
        help:
            "Hand each request to the pipeline in wire form (EncodedTraces, as the OTLP receiver does), so consumers that read the bytes never decode it. Each feeder encodes the workload once, then sends copies of it with fresh IDs written in place, indexed as the receiver indexes them; subtract a baseline run with the same flag."
    )
    var encoded = false

    @Option(help: "A label for the result line.")
    var label: String = ""

    func run() async throws {
        if anomalyUpkeep {
            for run in 0..<runs {
                let r = AnomalyUpkeepBenchmark.run(operations: 200, spans: 2_000_000, seed: UInt64(run + 1))
                print(
                    "{\"label\":\"anomaly-upkeep\",\"run\":\(run),\"ns_per_span\":\((r.nanosPerSpan * 10).rounded() / 10),\"flagged\":\(r.flagged)}")
            }
            return
        }
        if servicegraphDirect {
            for run in 0..<runs {
                let r = try await ServiceGraphDirect.run(requests: 10_000, seed: UInt64(run + 1))
                print(
                    "{\"label\":\"servicegraph-direct\",\"run\":\(run),\"ns_per_span\":\((r.nanosPerSpan * 10).rounded() / 10),\"pending_edges\":\(r.pending)}"
                )
            }
            return
        }
        guard let config else { throw ValidationError("--config is required") }
        var logger = Logger(label: "pipeline-bench")
        logger.logLevel = .warning
        let yaml = try String(contentsOfFile: config, encoding: .utf8)
        let loaded = try CollectorConfig.load(yaml: yaml, environment: ProcessInfo.processInfo.environment, registry: .builtin)
        let collector = try Collector(config: loaded, logger: logger)
        guard let pid = try? PipelineID(parsing: pipeline), let entry = collector.pipelineEntries[pid]?.traces else {
            throw ValidationError("\(config) has no traces pipeline named \(pipeline)")
        }
        let group = collector.serviceGroup(logger: logger, signals: [])
        let running = Task { try await group.run() }

        let workload = Workload()
        var seedRNG = SplitMix64(seed: 42)
        let nowNanos = UInt64(Date().timeIntervalSince1970 * 1e9)
        let pool = (0..<pregenerate).map { _ in workload.next(using: &seedRNG, nowNanos: nowNanos) }
        let encodedPool: [[UInt8]] = decodeEach ? try pool.map { try $0.serializedBytes() } : []
        let stats = FeedStats()
        let warmupEnd = ContinuousClock.now + .seconds(1)
        let end = warmupEnd + .milliseconds(Int(seconds * 1000))
        let perFeederInterval: Duration? =
            rate > 0
            ? .nanoseconds(Int64(1e9 * Double(Workload.spansPerRequest) * Double(concurrency) / Double(rate))) : nil
        // Feeders may never suspend (a pipeline that answers synchronously), starving other tasks on the
        // cooperative pool; the warm-up mark and the RSS sampler therefore run on their own thread.
        let cpuAtWarmupEnd = LockedValue<Int64?>(nil)
        let sampler = Thread {
            while ContinuousClock.now < end {
                if cpuAtWarmupEnd.withLock({ $0 }) == nil, ContinuousClock.now >= warmupEnd {
                    cpuAtWarmupEnd.withLock { $0 = ProcessCPU.nanos() }
                }
                RSSSampler.sample(into: stats)
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
        sampler.start()

        await withTaskGroup(of: Void.self) { tasks in
            for f in 0..<concurrency {
                tasks.addTask {
                    var rng = SplitMix64(seed: UInt64(f) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(DispatchTime.now().uptimeNanoseconds))
                    var nextSend = ContinuousClock.now
                    var template: EncodedTraces?  // --encoded: indexed once, then sent with fresh IDs
                    var sent = f
                    while ContinuousClock.now < end {
                        if let interval = perFeederInterval {
                            nextSend += interval
                            if nextSend > ContinuousClock.now { try? await Task.sleep(until: nextSend, clock: .continuous) }
                        }
                        let request: ExportTraceRequest
                        if !encodedPool.isEmpty {
                            request = (try? ExportTraceRequest(serializedBytes: encodedPool[sent % encodedPool.count])) ?? ExportTraceRequest()
                        } else if pool.isEmpty {
                            request = workload.next(using: &rng, nowNanos: UInt64(Date().timeIntervalSince1970 * 1e9))
                        } else {
                            request = pool[sent % pool.count]
                        }
                        sent += concurrency
                        var wire: EncodedTraces?
                        if encoded {
                            if template == nil { template = try? EncodedTraces(encoding: request) }
                            wire = template.flatMap { Self.withFreshIDs($0, using: &rng) }
                        }
                        let began = ContinuousClock.now
                        let cpuBefore = ThreadCPU.nanos()
                        let ok: Bool
                        if let wire {
                            ok = (try? await entry.consume(wire)) != nil
                        } else {
                            ok = (try? await entry.consume(consume request)) != nil
                        }
                        let cpuInside = ThreadCPU.nanos() - cpuBefore
                        if began >= warmupEnd {
                            stats.record(latency: ContinuousClock.now - began, ok: ok, spans: Workload.spansPerRequest)
                            stats.record(insideCPU: cpuInside)
                        }
                    }
                }
            }
        }
        let cpuEnd = ProcessCPU.nanos()
        while !sampler.isFinished { try await Task.sleep(for: .milliseconds(10)) }
        let cpu = cpuEnd - (cpuAtWarmupEnd.withLock { $0 } ?? cpuEnd)
        await group.triggerGracefulShutdown()
        try await running.value

        let r = stats.snapshot()
        let accepted = r.acceptedSpans
        let line: [String: Any] = [
            "label": label.isEmpty ? config : label,
            "offered_rate": rate,
            "concurrency": concurrency,
            "seconds": seconds,
            "spans_accepted": accepted,
            "spans_refused": r.refusedSpans,
            "spans_per_second": Int(Double(accepted) / seconds),
            "cpu_ns_per_span": accepted > 0 ? Int(Double(decodeEach ? r.insideCPUNanos : cpu) / Double(accepted + r.refusedSpans)) : 0,
            // The feeding threads' CPU inside the pipeline calls only (what cpu_ns_per_span is with --decode-each):
            // without request generation, the RSS sampler or timers, so much less noisy, but it misses work the
            // pipeline does on other threads (timers, or a call that suspends and resumes elsewhere).
            "inside_cpu_ns_per_span": accepted > 0 ? Int(Double(r.insideCPUNanos) / Double(accepted + r.refusedSpans)) : 0,
            "latency_p50_ms": r.percentile(0.50),
            "latency_p99_ms": r.percentile(0.99),
            "peak_rss_mib": r.peakRSSKiB / 1024,
        ]
        let data = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}
