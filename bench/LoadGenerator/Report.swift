import Foundation

/// The figures of one run; encoded as JSON with `--json`, else printed as a table.
struct Report: Codable, Sendable {
    struct Requests: Codable, Sendable {
        var ok: Int
        var refused: Int
        var failed: Int
        /// Paced runs: scheduled inside the window but never sent (the generator or the server fell behind).
        var unsent: Int
    }
    struct Latency: Codable, Sendable {
        var count: Int
        var p50Ms: Double?
        var p90Ms: Double?
        var p99Ms: Double?
        var maxMs: Double?
        var meanMs: Double?
    }
    struct Server: Codable, Sendable {
        var pid: Int32
        var cpuSeconds: Double?
        var cpuMicrosecondsPerSpan: Double?
        var cpuUtilization: Double?
        var rssIdleKib: Int?
        var rssPeakKib: Int?
        var rssHighWaterMarkKib: Int?
        var rssSamples: Int
    }
    struct Storage: Codable, Sendable {
        var countBefore: Int64?
        var countAfter: Int64?
        var spansStored: Int64?
        var error: String?
    }
    struct ErrorCount: Codable, Sendable {
        var reason: String
        var count: Int
    }

    var `protocol`: String
    var endpoint: String
    var concurrency: Int
    /// Offered rate in spans per second; 0 = flat out.
    var offeredRateSpansPerSec: Double
    var warmupSeconds: Double
    var durationSeconds: Double
    var payloadBytes: Int
    var spansPerRequest: Int
    var requests: Requests
    /// Spans acknowledged by responses arriving inside the measured window, per second.
    var spansAcknowledgedPerSec: Double
    var spansAcknowledgedInWindow: Int64
    /// Spans of the requests attempted inside the window (ok + refused + failed), per second.
    var spansAttemptedPerSec: Double
    var spansRejectedPartialSuccess: Int64
    /// Spans acknowledged over the whole run (warm-up and final in-flight requests too): compare with spansStored.
    var spansAcknowledgedTotal: Int64
    var latency: Latency
    /// Paced runs: how late requests left relative to their schedule (generator or back-pressure).
    var sendLag: Latency?
    var server: Server?
    var storage: Storage?
    var errors: [ErrorCount]

    static func percentile(_ sorted: [Int64], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        // Nearest rank.
        let rank = max(1, Int((p / 100 * Double(sorted.count)).rounded(.up)))
        return Double(sorted[min(rank, sorted.count) - 1]) / 1e6
    }

    static func latency(_ ns: [Int64]) -> Latency {
        let s = ns.sorted()
        let mean = s.isEmpty ? nil : Double(s.reduce(0, +)) / Double(s.count) / 1e6
        return Latency(
            count: s.count,
            p50Ms: percentile(s, 50), p90Ms: percentile(s, 90), p99Ms: percentile(s, 99),
            maxMs: s.last.map { Double($0) / 1e6 }, meanMs: mean
        )
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    func table() -> String {
        func f(_ v: Double?, _ digits: Int = 2) -> String {
            guard let v else { return "n/a" }
            return String(format: "%.\(digits)f", v)
        }
        func grouped(_ v: Int64) -> String {
            let s = String(v.magnitude)
            var out = ""
            for (i, c) in s.reversed().enumerated() {
                if i > 0 && i % 3 == 0 { out.append(",") }
                out.append(c)
            }
            return (v < 0 ? "-" : "") + String(out.reversed())
        }
        func ms(_ v: Double?) -> String { v.map { String(format: "%.2f ms", $0) } ?? "n/a" }
        func mib(_ kib: Int?) -> String { kib.map { String(format: "%.1f MiB", Double($0) / 1024) } ?? "n/a" }

        var rows: [(String, String)] = []
        let rate = offeredRateSpansPerSec > 0 ? "\(grouped(Int64(offeredRateSpansPerSec))) spans/s offered" : "flat out"
        rows.append(
            (
                "run",
                "\(`protocol`) -> \(endpoint), \(rate), concurrency \(concurrency), warm-up \(f(warmupSeconds, 1)) s, measured \(f(durationSeconds, 1)) s"
            ))
        rows.append(("payload", "\(grouped(Int64(payloadBytes))) bytes/request, \(spansPerRequest) spans/request"))
        rows.append(("requests ok", grouped(Int64(requests.ok))))
        rows.append(("requests refused", grouped(Int64(requests.refused))))
        rows.append(("requests failed", grouped(Int64(requests.failed))))
        if offeredRateSpansPerSec > 0 { rows.append(("requests unsent (behind)", grouped(Int64(requests.unsent)))) }
        rows.append(("spans acknowledged/s", f(spansAcknowledgedPerSec, 1)))
        rows.append(("spans attempted/s", f(spansAttemptedPerSec, 1)))
        if spansRejectedPartialSuccess > 0 { rows.append(("spans rejected (partial)", grouped(spansRejectedPartialSuccess))) }
        rows.append(("latency p50", ms(latency.p50Ms)))
        rows.append(("latency p90", ms(latency.p90Ms)))
        rows.append(("latency p99", ms(latency.p99Ms)))
        rows.append(("latency max", ms(latency.maxMs)))
        if let lag = sendLag {
            rows.append(("send lag p99 / max", "\(ms(lag.p99Ms)) / \(ms(lag.maxMs))"))
        }
        if let s = server {
            rows.append(("server pid", "\(s.pid)"))
            rows.append(("server CPU", s.cpuSeconds.map { "\(f($0, 2)) s (\(f((s.cpuUtilization ?? 0) * 100, 0))% of one core)" } ?? "n/a"))
            rows.append(("server CPU per span", s.cpuMicrosecondsPerSpan.map { "\(f($0, 2)) µs" } ?? "n/a"))
            rows.append(("server RSS idle", mib(s.rssIdleKib)))
            rows.append(("server RSS peak", "\(mib(s.rssPeakKib)) (\(s.rssSamples) samples)"))
        }
        rows.append(("spans acknowledged (run)", grouped(spansAcknowledgedTotal)))
        if let st = storage {
            if let stored = st.spansStored {
                rows.append(("spans stored", grouped(stored)))
            } else {
                rows.append(("spans stored", "n/a (\(st.error ?? "unknown error"))"))
            }
        }
        let width = rows.map(\.0.count).max() ?? 0
        var out = rows.map { $0.0.padding(toLength: width + 2, withPad: " ", startingAt: 0) + $0.1 }.joined(separator: "\n")
        if !errors.isEmpty {
            out += "\nerrors (measured window):"
            for e in errors { out += "\n  \(String(format: "%8d", e.count))  \(e.reason)" }
        }
        return out
    }
}
