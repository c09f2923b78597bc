import CollectorTesting
import Foundation
import OTLPExporters
import Testing

@Suite("Upstream answers: retry or drop, as the OTLP specification says")
struct UpstreamAnswerTests {
    /// Every gRPC status code, with and without RetryInfo: the retried set is exactly the spec's.
    @Test(arguments: 0...16)
    func grpcStatusCodes(_ code: Int) {
        let retried: Set<Int> = [1, 4, 10, 11, 14, 15]  // CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS
        for retryInfo in [nil, Duration.seconds(7)] as [Duration?] {
            let verdict = UpstreamAnswer.grpc(code: code, message: "m", retryInfo: retryInfo)
            switch verdict {
            case .delivered:
                #expect(code == 0)
            case .retryable(let after, _):
                #expect(retried.contains(code) || (code == 8 && retryInfo != nil), "code \(code)")
                #expect(after == retryInfo)
            case .permanent(let reason):
                #expect(!retried.contains(code) && code != 0 && !(code == 8 && retryInfo != nil), "code \(code)")
                #expect(reason.contains("grpc status \(code): m"))
            }
        }
    }

    @Test(arguments: [200, 202, 400, 401, 404, 413, 415, 429, 500, 501, 502, 503, 504])
    func httpStatuses(_ status: Int) {
        let verdict = UpstreamAnswer.http(status: status, retryAfter: nil, message: "")
        switch status {
        case 200..<300: #expect(verdict == .delivered(rejected: 0, message: ""))
        case 429, 502, 503, 504: #expect(verdict == .retryable(after: nil, reason: "HTTP \(status)"))
        default: #expect(verdict == .permanent(reason: "HTTP \(status)"))
        }
    }

    @Test func retryAfterIsReadAsSecondsOrAsAnHTTPDateOn429And503() throws {
        let now = try #require(ISO8601DateFormatter().date(from: "2026-12-02T18:00:00Z"))
        #expect(UpstreamAnswer.http(status: 503, retryAfter: "12", message: "", now: now) == .retryable(after: .seconds(12), reason: "HTTP 503"))
        #expect(
            UpstreamAnswer.http(status: 429, retryAfter: "Wed, 02 Dec 2026 18:00:30 GMT", message: "", now: now)
                == .retryable(after: .seconds(30), reason: "HTTP 429"))
        #expect(UpstreamAnswer.http(status: 429, retryAfter: "soon", message: "", now: now) == .retryable(after: nil, reason: "HTTP 429"))
        // A date in the past means now; 502/504 carry no delay.
        #expect(UpstreamAnswer.parseRetryAfter("Wed, 02 Dec 2026 17:00:00 GMT", now: now) == .zero)
        #expect(UpstreamAnswer.http(status: 502, retryAfter: "12", message: "", now: now) == .retryable(after: nil, reason: "HTTP 502"))
    }
}

@Suite("retry_on_failure backoff")
struct RetryPolicyTests {
    @Test func delaysGrowByTheMultiplierUpToTheMaximumWithinTheRandomizationBand() {
        let seed: UInt64 = 20_261_202
        var random = SplitMix64(seed: seed)
        let policy = RetryPolicy()  // 5s, ×1.5, max 30s, ±50 %
        let bases: [Double] = [5, 7.5, 11.25, 16.875, 25.3125, 30, 30, 30]
        for (attempt, base) in bases.enumerated() {
            let d = policy.delay(attempt: attempt, serverDelay: nil, random: &random)
            let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
            #expect(seconds >= base * 0.5 - 1e-6 && seconds <= base * 1.5 + 1e-6, "attempt \(attempt): \(seconds)s (seed \(seed))")
        }
    }

    @Test func aThrottledAnswerWaitsForTheServersDelayWhenItIsLonger() {
        var random = SplitMix64(seed: 1)
        var policy = RetryPolicy()
        policy.randomizationFactor = 0
        #expect(policy.delay(attempt: 0, serverDelay: .seconds(20), random: &random) == .seconds(20))
        #expect(policy.delay(attempt: 0, serverDelay: .seconds(1), random: &random) == .seconds(5))
    }
}
