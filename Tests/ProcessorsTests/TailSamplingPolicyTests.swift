import CollectorCore
import CollectorTesting
import Foundation
import OTLP
import Testing

@testable import Processors

/// Builds spans for tail-sampling tests.
struct TailSpan {
    var traceID = "0102030405060708090a0b0c0d0e0f10"
    var startMs: UInt64 = 1000
    var endMs: UInt64 = 1010
    var status: SpanStatus.StatusCode = .unset
    var attributes: [KeyValue] = []
    var traceState = ""

    func span() -> Span {
        var s = Span()
        s.traceID = samplingHexData(traceID)
        s.spanID = SpanFactory.randomID(8)
        s.name = "op"
        s.startTimeUnixNano = startMs * 1_000_000
        s.endTimeUnixNano = endMs * 1_000_000
        s.status.code = status
        s.attributes = attributes
        s.traceState = traceState
        return s
    }
}

func tailRequest(_ spans: [TailSpan], resource: [KeyValue] = []) -> ExportTraceRequest {
    var ss = ScopeSpans()
    ss.scope.name = "scope"
    ss.spans = spans.map { $0.span() }
    var rs = ResourceSpans()
    rs.resource.attributes = resource
    rs.scopeSpans = [ss]
    var request = ExportTraceRequest()
    request.resourceSpans = [rs]
    return request
}

/// The pending trace a request's spans form (all spans must share one trace ID), with `checks` run on its spans as
/// the buffer runs them.
func tailPending(_ spans: [TailSpan], resource: [KeyValue] = [], checks: TailSpanChecks) -> TailPendingTrace {
    tailPending(requests: [tailRequest(spans, resource: resource)], checks: checks)
}

/// The pending trace that several requests (in arrival order) form, each fragment absorbed as the buffer does
/// (only the spans of `traceID`, when given).
func tailPending(requests: [ExportTraceRequest], checks: TailSpanChecks, traceID: Data? = nil) -> TailPendingTrace {
    var trace: TailPendingTrace?
    let wanted = traceID.map(TailTraceKey.init)
    for request in requests {
        for arrival in TailSamplingProcessor.groupByTrace(request, checks: checks) where wanted == nil || arrival.key == wanted {
            if trace == nil { trace = TailPendingTrace(first: arrival, now: .zero) } else { trace?.absorb(arrival, checks: checks) }
        }
    }
    return trace!
}

/// One compiled policy and the checks it reads.
func tailCompile(_ rule: TailSamplingPolicy.Rule) -> (TailPolicyEvaluator, TailSpanChecks) {
    let decider = TailSamplingDecider(policies: [TailSamplingPolicy(name: "p", rule: rule)], sampleOnFirstMatch: false)
    return (decider.policies[0], decider.checks)
}

func tailEvaluate(_ rule: TailSamplingPolicy.Rule, _ spans: [TailSpan], resource: [KeyValue] = [], now: Duration = .zero) -> TailPolicyDecision {
    let (policy, checks) = tailCompile(rule)
    let trace = tailPending(spans, resource: resource, checks: checks)
    let key = TailTraceKey(samplingHexData(spans.first?.traceID ?? ""))
    return policy.evaluate(trace, traceID: key, now: now)
}

func tailDecide(_ rules: [TailSamplingPolicy.Rule], _ spans: [TailSpan], firstMatch: Bool = false) -> Bool {
    let policies = rules.enumerated().map { TailSamplingPolicy(name: "p\($0.offset)", rule: $0.element) }
    let decider = TailSamplingDecider(policies: policies, sampleOnFirstMatch: firstMatch)
    return decider.decide(tailPending(spans, checks: decider.checks), traceID: TailTraceKey(samplingHexData(spans[0].traceID)), now: .zero)
}

@Suite struct TailSamplingPolicyTests {
    @Test func alwaysSampleSamples() {
        #expect(tailEvaluate(.alwaysSample, [TailSpan()]) == .sampled)
    }

    @Test func latencyUsesEarliestStartToLatestEnd() {
        let spans = [TailSpan(startMs: 1000, endMs: 1100), TailSpan(startMs: 1050, endMs: 1600)]  // 600 ms
        #expect(tailEvaluate(.latency(thresholdMs: 500, upperThresholdMs: 0), spans) == .sampled)
        #expect(tailEvaluate(.latency(thresholdMs: 600, upperThresholdMs: 0), spans) == .sampled)
        #expect(tailEvaluate(.latency(thresholdMs: 601, upperThresholdMs: 0), spans) == .notSampled)
        // With an upper bound: lower < d ≤ upper.
        #expect(tailEvaluate(.latency(thresholdMs: 500, upperThresholdMs: 600), spans) == .sampled)
        #expect(tailEvaluate(.latency(thresholdMs: 100, upperThresholdMs: 300), [TailSpan(startMs: 1000, endMs: 1600)]) == .notSampled)
        #expect(tailEvaluate(.latency(thresholdMs: 600, upperThresholdMs: 700), spans) == .notSampled)
    }

    @Test func statusCodeMatchesAnySpan() {
        let spans = [TailSpan(status: .ok), TailSpan(status: .error)]
        #expect(tailEvaluate(.statusCode([.error]), spans) == .sampled)
        #expect(tailEvaluate(.statusCode([.unset]), spans) == .notSampled)
        #expect(tailEvaluate(.statusCode([.unset, .ok]), spans) == .sampled)
    }

    @Test func stringAttributeMatchesSpanOrResourceExactly() {
        let rule = TailSamplingPolicy.Rule.stringAttribute(
            key: "http.route", values: ["/checkout", "/pay"], regex: false, cacheMaxSize: 128, invertMatch: false)
        #expect(tailEvaluate(rule, [TailSpan(attributes: [samplingAttribute("http.route", .stringValue("/pay"))])]) == .sampled)
        #expect(tailEvaluate(rule, [TailSpan(attributes: [samplingAttribute("http.route", .stringValue("/payment"))])]) == .notSampled)
        #expect(tailEvaluate(rule, [TailSpan()], resource: [samplingAttribute("http.route", .stringValue("/checkout"))]) == .sampled)
        #expect(tailEvaluate(rule, [TailSpan(attributes: [samplingAttribute("http.route", .intValue(1))])]) == .notSampled)
    }

    @Test func stringAttributeRegexSearchesUnanchored() {
        let rule = TailSamplingPolicy.Rule.stringAttribute(
            key: "url", values: ["^/api/v[0-9]+", "admin"], regex: true, cacheMaxSize: 2, invertMatch: false)
        #expect(tailEvaluate(rule, [TailSpan(attributes: [samplingAttribute("url", .stringValue("/api/v2/users"))])]) == .sampled)
        #expect(tailEvaluate(rule, [TailSpan(attributes: [samplingAttribute("url", .stringValue("/x/admin/y"))])]) == .sampled)
        #expect(tailEvaluate(rule, [TailSpan(attributes: [samplingAttribute("url", .stringValue("/web/api/v2"))])]) == .notSampled)
    }

    @Test func stringAttributeInvertMatch() {
        let rule = TailSamplingPolicy.Rule.stringAttribute(key: "env", values: ["test"], regex: false, cacheMaxSize: 128, invertMatch: true)
        #expect(tailEvaluate(rule, [TailSpan(attributes: [samplingAttribute("env", .stringValue("prod"))])]) == .invertSampled)
        #expect(tailEvaluate(rule, [TailSpan(), TailSpan(attributes: [samplingAttribute("env", .stringValue("test"))])]) == .invertNotSampled)
        #expect(tailEvaluate(rule, [TailSpan()], resource: [samplingAttribute("env", .stringValue("test"))]) == .invertNotSampled)
    }

    @Test func numericAttributeRangeAndInvert() {
        let rule = TailSamplingPolicy.Rule.numericAttribute(key: "http.status_code", minValue: 500, maxValue: 599, invertMatch: false)
        #expect(tailEvaluate(rule, [TailSpan(attributes: [samplingAttribute("http.status_code", .intValue(503))])]) == .sampled)
        #expect(tailEvaluate(rule, [TailSpan(attributes: [samplingAttribute("http.status_code", .intValue(200))])]) == .notSampled)
        #expect(tailEvaluate(rule, [TailSpan()], resource: [samplingAttribute("http.status_code", .intValue(500))]) == .sampled)
        let inverted = TailSamplingPolicy.Rule.numericAttribute(key: "http.status_code", minValue: 500, maxValue: 599, invertMatch: true)
        #expect(tailEvaluate(inverted, [TailSpan(attributes: [samplingAttribute("http.status_code", .intValue(200))])]) == .invertSampled)
        #expect(tailEvaluate(inverted, [TailSpan(attributes: [samplingAttribute("http.status_code", .intValue(599))])]) == .invertNotSampled)
    }

    @Test func booleanAttributeAndInvert() {
        let rule = TailSamplingPolicy.Rule.booleanAttribute(key: "debug", value: true, invertMatch: false)
        #expect(tailEvaluate(rule, [TailSpan(attributes: [samplingAttribute("debug", .boolValue(true))])]) == .sampled)
        #expect(tailEvaluate(rule, [TailSpan(attributes: [samplingAttribute("debug", .boolValue(false))])]) == .notSampled)
        #expect(tailEvaluate(rule, [TailSpan()]) == .notSampled)
        let inverted = TailSamplingPolicy.Rule.booleanAttribute(key: "debug", value: true, invertMatch: true)
        #expect(tailEvaluate(inverted, [TailSpan()]) == .invertSampled)
        #expect(tailEvaluate(inverted, [TailSpan(attributes: [samplingAttribute("debug", .boolValue(true))])]) == .invertNotSampled)
    }

    /// Vectors from an independent Python re-implementation of otelcol's tail `probabilistic` policy (FNV-1a 64 of
    /// salt + trace ID ≤ ratio × (2^64−1) rounded to 64 bits), run once.
    @Test func probabilisticMatchesOtelcolHash() {
        #expect(TailPolicyEvaluator.probabilisticThreshold(ratio: 10.0 / 100) == 0x1999_9999_9999_99FF)
        #expect(TailPolicyEvaluator.probabilisticThreshold(ratio: 33.3 / 100) == 0x553F_7CED_9168_6FFF)
        #expect(TailPolicyEvaluator.probabilisticThreshold(ratio: 0.5) == 0x7FFF_FFFF_FFFF_FFFF)
        #expect(TailPolicyEvaluator.probabilisticThreshold(ratio: 1) == UInt64.max)
        let cases: [(salt: String, trace: String, sampledAt: [Double])] = [
            ("default-hash-seed", "0102030405060708090a0b0c0d0e0f10", []),
            ("default-hash-seed", "4bf92f3577b34da6a3ce929d0e0e4736", []),
            ("default-hash-seed", "ffffffffffffffffffffffffffffffff", [10, 33.3, 50]),
            ("my-salt", "0102030405060708090a0b0c0d0e0f10", [50]),
            ("my-salt", "5b8efff798038103d269b633813fc60c", []),
            ("my-salt", "a1b2c3d4e5f60718293a4b5c6d7e8f90", [10, 33.3, 50]),
            ("my-salt", "ffffffffffffffffffffffffffffffff", [50]),
        ]
        for c in cases {
            for pct in [10, 33.3, 50] {
                let d = tailEvaluate(.probabilistic(hashSalt: c.salt, samplingPercentage: pct), [TailSpan(traceID: c.trace)])
                #expect(d == (c.sampledAt.contains(pct) ? .sampled : .notSampled), "\(c.salt) \(c.trace) \(pct)")
            }
        }
    }

    @Test func rateLimitingIsATokenBucketOfSpansWithBurstTwiceTheRate() {
        let (policy, checks) = tailCompile(.rateLimiting(spansPerSecond: 10))
        let five = tailPending((0..<5).map { _ in TailSpan() }, checks: checks)
        let key = TailTraceKey(samplingHexData(TailSpan().traceID))
        // Burst 20: four traces of 5 spans pass, the fifth does not.
        for _ in 0..<4 { #expect(policy.evaluate(five, traceID: key, now: .zero) == .sampled) }
        #expect(policy.evaluate(five, traceID: key, now: .zero) == .notSampled)
        // Half a second refills 5 tokens.
        #expect(policy.evaluate(five, traceID: key, now: .milliseconds(500)) == .sampled)
        #expect(policy.evaluate(five, traceID: key, now: .milliseconds(500)) == .notSampled)
        // A trace larger than the burst never passes.
        let big = tailPending((0..<21).map { _ in TailSpan() }, checks: checks)
        #expect(policy.evaluate(big, traceID: key, now: .seconds(60)) == .notSampled)
    }

    @Test func spanCountBounds() {
        let three = (0..<3).map { _ in TailSpan() }
        #expect(tailEvaluate(.spanCount(minSpans: 2, maxSpans: 0), three) == .sampled)
        #expect(tailEvaluate(.spanCount(minSpans: 4, maxSpans: 0), three) == .notSampled)
        #expect(tailEvaluate(.spanCount(minSpans: 1, maxSpans: 3), three) == .sampled)
        #expect(tailEvaluate(.spanCount(minSpans: 1, maxSpans: 2), three) == .notSampled)
    }

    @Test func traceStateMatchesAMemberValue() {
        let rule = TailSamplingPolicy.Rule.traceState(key: "vendor", values: ["keep", "yes"])
        #expect(tailEvaluate(rule, [TailSpan(traceState: "other=1, vendor=keep")]) == .sampled)
        #expect(tailEvaluate(rule, [TailSpan(traceState: "vendor=drop")]) == .notSampled)
        #expect(tailEvaluate(rule, [TailSpan()]) == .notSampled)
        #expect(tailEvaluate(rule, [TailSpan(traceState: "garbage,vendor=keep")]) == .notSampled)
    }

    @Test func andSamplesOnlyWhenEverySubPolicyDoes() {
        let error = TailSamplingPolicy(name: "err", rule: .statusCode([.error]))
        let slow = TailSamplingPolicy(name: "slow", rule: .latency(thresholdMs: 100, upperThresholdMs: 0))
        let both = TailSamplingPolicy.Rule.and([error, slow])
        #expect(tailEvaluate(both, [TailSpan(startMs: 0, endMs: 200, status: .error)]) == .sampled)
        #expect(tailEvaluate(both, [TailSpan(startMs: 0, endMs: 50, status: .error)]) == .notSampled)
        #expect(tailEvaluate(both, [TailSpan(startMs: 0, endMs: 200, status: .ok)]) == .notSampled)
        // An inverted sub-policy that matched counts as not sampled.
        let notTest = TailSamplingPolicy(
            name: "nt", rule: .stringAttribute(key: "env", values: ["test"], regex: false, cacheMaxSize: 128, invertMatch: true))
        let andInvert = TailSamplingPolicy.Rule.and([error, notTest])
        #expect(tailEvaluate(andInvert, [TailSpan(status: .error)]) == .sampled)
        #expect(tailEvaluate(andInvert, [TailSpan(status: .error, attributes: [samplingAttribute("env", .stringValue("test"))])]) == .notSampled)
    }

    @Test func dropPolicyOverridesEverySampleDecision() {
        let health = TailSamplingPolicy(
            name: "health", rule: .stringAttribute(key: "http.route", values: ["/health"], regex: false, cacheMaxSize: 128, invertMatch: false))
        let dropHealth = TailSamplingPolicy.Rule.drop([health])
        let healthSpan = TailSpan(attributes: [samplingAttribute("http.route", .stringValue("/health"))])
        #expect(tailEvaluate(dropHealth, [healthSpan]) == .dropped)
        #expect(tailEvaluate(dropHealth, [TailSpan()]) == .notSampled)
        // Order does not matter: drop policies are evaluated first and win.
        #expect(tailDecide([.alwaysSample, dropHealth], [healthSpan]) == false)
        #expect(tailDecide([.alwaysSample, dropHealth], [TailSpan()]) == true)
        #expect(tailDecide([.alwaysSample, dropHealth], [healthSpan], firstMatch: true) == false)
    }

    @Test func decisionCombinationFollowsOtelcol() {
        let errors = TailSamplingPolicy.Rule.statusCode([.error])
        let notTest = TailSamplingPolicy.Rule.stringAttribute(key: "env", values: ["test"], regex: false, cacheMaxSize: 128, invertMatch: true)
        let testSpan = TailSpan(status: .error, attributes: [samplingAttribute("env", .stringValue("test"))])
        // Any sampled ⇒ sampled.
        #expect(tailDecide([.spanCount(minSpans: 5, maxSpans: 0), errors], [TailSpan(status: .error)]) == true)
        // Invert-not-sampled beats sampled.
        #expect(tailDecide([errors, notTest], [testSpan]) == false)
        // Invert-sampled samples unless another policy said not sampled.
        #expect(tailDecide([notTest], [TailSpan()]) == true)
        #expect(tailDecide([notTest, errors], [TailSpan()]) == false)
        // No policy: not sampled (as otelcol).
        #expect(tailDecide([], [TailSpan()]) == false)
        // sample_on_first_match stops at the first sampled, so a later invert match is not seen.
        #expect(tailDecide([errors, notTest], [testSpan], firstMatch: true) == true)
    }

    @Test func sampleOnFirstMatchSkipsLaterStatefulPolicies() {
        let policies = [TailSamplingPolicy(name: "all", rule: .alwaysSample), TailSamplingPolicy(name: "rl", rule: .rateLimiting(spansPerSecond: 1))]
        let decider = TailSamplingDecider(policies: policies, sampleOnFirstMatch: true)
        let trace = tailPending([TailSpan(), TailSpan()], checks: decider.checks)
        let key = TailTraceKey(samplingHexData(TailSpan().traceID))
        for _ in 0..<5 { _ = decider.decide(trace, traceID: key, now: .zero) }
        // The rate limiter never ran, so its bucket (burst 2) is still full.
        guard case .rateLimiting(let bucket) = decider.policies[1].kind else {
            Issue.record("expected the rate limiter second")
            return
        }
        #expect(bucket.allow(2, now: .zero))
    }
}
