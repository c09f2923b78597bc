import CollectorCore
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// SplitMix64 for unique IDs in a benchmark.
typealias SplitMix64 = SeededRandom

/// User + system CPU time of this process, all threads.
enum ProcessCPU {
    static func nanos() -> Int64 {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func ns(_ t: timeval) -> Int64 { Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_usec) * 1000 }
        return ns(usage.ru_utime) + ns(usage.ru_stime)
    }
}

/// CPU time of the calling thread. Around a call that does not suspend (a synchronous pipeline), the difference
/// is that call's CPU, excluding whatever the process's other threads did meanwhile.
enum ThreadCPU {
    static func nanos() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
    }
}

/// What the feeders saw: accepted and refused spans, export latencies, peak RSS.
final class FeedStats: Sendable {
    struct Snapshot {
        var acceptedSpans = 0
        var refusedSpans = 0
        var latenciesMs: [Double] = []
        var peakRSSKiB = 0
        /// Thread CPU spent inside the pipeline calls.
        var insideCPUNanos: Int64 = 0

        func percentile(_ p: Double) -> Double {
            guard !latenciesMs.isEmpty else { return 0 }
            let sorted = latenciesMs.sorted()
            let v = sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
            return (v * 100).rounded() / 100
        }
    }

    private let state = LockedValue(Snapshot())

    func record(latency: Duration, ok: Bool, spans: Int) {
        let ms = Double(latency.components.seconds) * 1000 + Double(latency.components.attoseconds) / 1e15
        state.withLock { s in
            if ok { s.acceptedSpans += spans } else { s.refusedSpans += spans }
            if s.latenciesMs.count < 2_000_000 { s.latenciesMs.append(ms) }
        }
    }

    func record(insideCPU nanos: Int64) { state.withLock { $0.insideCPUNanos += nanos } }

    func recordRSS(kib: Int) { state.withLock { $0.peakRSSKiB = max($0.peakRSSKiB, kib) } }

    func snapshot() -> Snapshot { state.withLock { $0 } }
}

/// Reads this process's RSS.
enum RSSSampler {
    static func sample(into stats: FeedStats) {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            if let kib = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap({ Int($0) }) {
                stats.recordRSS(kib: kib)
            }
        }
    }
}
