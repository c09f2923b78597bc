import Foundation

/// What happened to one export request.
enum Outcome: Sendable {
    /// Accepted; `rejectedSpans` from an OTLP partial-success response (usually 0).
    case ok(rejectedSpans: Int64)
    /// Back-pressure from the server: gRPC UNAVAILABLE / RESOURCE_EXHAUSTED, HTTP 503 / 429.
    case refused(String)
    /// Anything else. `connectionDown` when no connection could be had (so the worker backs off briefly).
    case failed(String, connectionDown: Bool)
}

/// One worker's way of sending a request. Owned by a single worker task, never shared.
protocol RequestSender: AnyObject {
    func send(_ body: [UInt8]) async -> Outcome
    func close() async
}

/// The run's timeline. Offsets are nanoseconds after `start`; the measured window is [warmup, end).
struct RunPlan: Sendable {
    var start: ContinuousClock.Instant
    var concurrency: Int
    /// Requests per second over all workers; 0 = flat out.
    var requestRate: Double
    var warmupNs: Int64
    var endNs: Int64
    var spansPerRequest: Int

    func elapsedNs() -> Int64 { start.duration(to: .now).nanosecondsClamped }
    func instant(_ ns: Int64) -> ContinuousClock.Instant { start.advanced(by: .nanoseconds(ns)) }
}

extension Duration {
    var nanosecondsClamped: Int64 {
        let c = components
        return c.seconds &* 1_000_000_000 &+ c.attoseconds / 1_000_000_000
    }
}

/// Per-worker tallies, merged at the end (no shared mutable state while the run is on).
struct WorkerStats: Sendable {
    /// Requests scheduled (or, flat out, started) inside the measured window, by outcome.
    var ok = 0, refused = 0, failed = 0
    /// Paced runs: requests scheduled inside the window that were never sent because the worker fell behind.
    var unsent = 0
    /// Export latency of the measured ok requests (ns). Paced: from the scheduled send time.
    var latenciesNs: [Int64] = []
    /// Spans acknowledged by responses that arrived inside the measured window.
    var ackedInWindow: Int64 = 0
    /// Spans acknowledged over the whole run (warm-up, window and the final in-flight requests).
    var ackedTotal: Int64 = 0
    /// Spans rejected through OTLP partial success (measured requests).
    var rejectedSpans: Int64 = 0
    /// Requests sent over the whole run.
    var sentTotal = 0
    /// Paced runs: delay between each measured request's scheduled time and its actual send.
    var lagsNs: [Int64] = []
    var errors: [String: Int] = [:]

    mutating func merge(_ o: WorkerStats) {
        ok += o.ok
        refused += o.refused
        failed += o.failed
        unsent += o.unsent
        latenciesNs.append(contentsOf: o.latenciesNs)
        ackedInWindow += o.ackedInWindow
        ackedTotal += o.ackedTotal
        rejectedSpans += o.rejectedSpans
        sentTotal += o.sentTotal
        lagsNs.append(contentsOf: o.lagsNs)
        for (k, v) in o.errors { errors[k, default: 0] += v }
    }

    mutating func noteError(_ reason: String) {
        // Keep reasons short and the table small even if every error message were distinct.
        let key = reason.count > 160 ? String(reason.prefix(157)) + "..." : reason
        if errors[key] != nil || errors.count < 50 { errors[key, default: 0] += 1 } else { errors["(other)", default: 0] += 1 }
    }
}

/// Server CPU over the measured window, and RSS samples.
struct ServerSamples: Sendable {
    var cpuTicksAtWindowStart: UInt64?
    var cpuTicksAtWindowEnd: UInt64?
    var rssPeakKiB: Int?
    var rssSamples = 0
}

enum LoadRunner {
    private enum Part: Sendable {
        case worker(WorkerStats)
        case cpu(start: UInt64?, end: UInt64?)
        case rss(peakKiB: Int?, samples: Int)
    }

    static func run(
        plan: RunPlan,
        templates: [PayloadTemplate],
        serverPID: Int32?,
        makeSender: @escaping @Sendable (_ worker: Int) -> any RequestSender
    ) async -> (WorkerStats, ServerSamples) {
        var seedSource = SystemRandomNumberGenerator()
        let baseSeed = seedSource.next()
        return await withTaskGroup(of: Part.self) { group in
            for w in 0..<plan.concurrency {
                group.addTask {
                    let sender = makeSender(w)
                    var factory = PayloadFactory(templates: templates, seed: baseSeed &+ UInt64(w) &* 0x9E37_79B9_7F4A_7C15)
                    let stats = await worker(index: w, plan: plan, factory: &factory, sender: sender)
                    await sender.close()
                    return .worker(stats)
                }
            }
            if let pid = serverPID {
                group.addTask {
                    try? await Task.sleep(until: plan.instant(plan.warmupNs), clock: .continuous)
                    let a = ProcStats.cpuTicks(pid: pid)
                    try? await Task.sleep(until: plan.instant(plan.endNs), clock: .continuous)
                    let b = ProcStats.cpuTicks(pid: pid)
                    return .cpu(start: a, end: b)
                }
                group.addTask {
                    var peak: Int? = nil
                    var n = 0
                    var next: Int64 = 0
                    while next <= plan.endNs {
                        try? await Task.sleep(until: plan.instant(next), clock: .continuous)
                        if let kib = ProcStats.rssKiB(pid: pid) {
                            peak = max(peak ?? 0, kib)
                            n += 1
                        }
                        next += 100_000_000
                    }
                    return .rss(peakKiB: peak, samples: n)
                }
            }
            var total = WorkerStats()
            var server = ServerSamples()
            for await part in group {
                switch part {
                case .worker(let s): total.merge(s)
                case .cpu(let a, let b):
                    server.cpuTicksAtWindowStart = a
                    server.cpuTicksAtWindowEnd = b
                case .rss(let peak, let n):
                    server.rssPeakKiB = peak
                    server.rssSamples = n
                }
            }
            return (total, server)
        }
    }

    /// One worker. Flat out: back-to-back requests. Paced (open loop): worker `index` of N owns the slots
    /// index, index+N, index+2N, ... of a global schedule at `requestRate`; it sleeps until a slot's time if it
    /// is early and sends at once if it is late, and latency counts from the slot's time, so a slow server
    /// shows up as latency instead of silently lowering the offered load (no coordinated omission).
    static func worker(index: Int, plan: RunPlan, factory: inout PayloadFactory, sender: any RequestSender) async -> WorkerStats {
        var stats = WorkerStats()
        let paced = plan.requestRate > 0
        let n = plan.concurrency
        var k = 0
        func slot(_ k: Int) -> Int64 { Int64((Double(index + k * n) / plan.requestRate * 1e9).rounded()) }
        stats.latenciesNs.reserveCapacity(1024)

        while !Task.isCancelled {
            let scheduled: Int64
            if paced {
                scheduled = slot(k)
                if scheduled >= plan.endNs { break }
                let now = plan.elapsedNs()
                if now >= plan.endNs {
                    // Fell behind: the rest of this worker's slots in the window were never sent.
                    var kk = k
                    while slot(kk) < plan.endNs {
                        if slot(kk) >= plan.warmupNs { stats.unsent += 1 }
                        kk += 1
                    }
                    break
                }
                k += 1
                if scheduled > now {
                    try? await Task.sleep(until: plan.instant(scheduled), clock: .continuous)
                }
            } else {
                scheduled = plan.elapsedNs()
                if scheduled >= plan.endNs { break }
            }

            let body = factory.next()
            let sentAt = plan.elapsedNs()
            let outcome = await sender.send(body)
            let done = plan.elapsedNs()
            stats.sentTotal += 1
            let measured = scheduled >= plan.warmupNs
            if measured, paced { stats.lagsNs.append(max(0, sentAt - scheduled)) }

            switch outcome {
            case .ok(let rejected):
                let acked = Int64(plan.spansPerRequest) - max(0, rejected)
                stats.ackedTotal += acked
                if done >= plan.warmupNs && done < plan.endNs { stats.ackedInWindow += acked }
                if measured {
                    stats.ok += 1
                    stats.rejectedSpans += rejected
                    stats.latenciesNs.append(done - scheduled)
                }
            case .refused(let reason):
                if measured {
                    stats.refused += 1
                    stats.noteError("refused: " + reason)
                }
            case .failed(let reason, let connectionDown):
                if measured {
                    stats.failed += 1
                    stats.noteError(reason)
                }
                if connectionDown && !paced {
                    // Don't spin on a server that is not there.
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
        }
        return stats
    }
}
