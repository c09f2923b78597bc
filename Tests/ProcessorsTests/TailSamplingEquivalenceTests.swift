import CollectorCore
import CollectorTesting
import Foundation
import OTLP
import Testing

@testable import Processors

/// The policies as they were evaluated before their checks ran on arrival: at decision time, walking the trace's
/// fragments (a direct port of otelcol's evaluators). The processor now gathers facts as spans arrive; these
/// tests check, on random traces split over random requests, that both give the same decision.
enum TailReferencePolicies {
    static func hasSpan(_ fragments: [ResourceSpans], _ condition: (Span) -> Bool) -> Bool {
        for rs in fragments {
            for ss in rs.scopeSpans {
                for span in ss.spans where condition(span) { return true }
            }
        }
        return false
    }

    static func decide(_ fragments: [ResourceSpans], invert: Bool, resource: (Resource) -> Bool, span: (Span) -> Bool) -> TailPolicyDecision {
        for rs in fragments {
            if resource(rs.resource) { return invert ? .invertNotSampled : .sampled }
            for ss in rs.scopeSpans {
                for s in ss.spans where span(s) { return invert ? .invertNotSampled : .sampled }
            }
        }
        return invert ? .invertSampled : .notSampled
    }

    static func first(_ attributes: [KeyValue], _ key: String) -> AnyValue? {
        attributes.first(where: { $0.key.utf8.elementsEqual(key.utf8) })?.value
    }

    static func string(_ v: AnyValue) -> String {
        if case .stringValue(let s)? = v.value { return s }
        return ""
    }

    static func matches(_ text: String, values: [String], regex: Bool) -> Bool {
        if regex { return values.contains { (try? Regex($0).firstMatch(in: text)) != nil } }
        return values.contains { !$0.isEmpty && $0.utf8.elementsEqual(text.utf8) }
    }

    /// nil for the stateful `rate_limiting` (not compared).
    static func evaluate(_ rule: TailSamplingPolicy.Rule, _ fragments: [ResourceSpans], spanCount: Int, traceID: TailTraceKey) -> TailPolicyDecision?
    {
        switch rule {
        case .alwaysSample:
            return .sampled
        case .latency(let lower, let upper):
            var minStart: UInt64 = 0
            var maxEnd: UInt64 = 0
            return hasSpan(fragments) { span in
                if minStart == 0 || span.startTimeUnixNano < minStart { minStart = span.startTimeUnixNano }
                if maxEnd == 0 || span.endTimeUnixNano > maxEnd { maxEnd = span.endTimeUnixNano }
                let ms = Int64(bitPattern: maxEnd &- minStart) / 1_000_000
                return upper == 0 ? ms >= lower : (lower < ms && ms <= upper)
            } ? .sampled : .notSampled
        case .statusCode(let codes):
            return hasSpan(fragments) { codes.contains($0.status.code) } ? .sampled : .notSampled
        case .stringAttribute(let key, let values, let regex, _, let invert):
            return decide(
                fragments, invert: invert,
                resource: { r in
                    guard let v = first(r.attributes, key) else { return false }
                    return matches(string(v), values: values, regex: regex)
                },
                span: { s in
                    guard let v = first(s.attributes, key) else { return false }
                    let text = string(v)
                    return !text.isEmpty && matches(text, values: values, regex: regex)
                })
        case .numericAttribute(let key, let lower, let upper, let invert):
            let inRange = { (attributes: [KeyValue]) -> Bool in
                guard let v = first(attributes, key) else { return false }
                let n: Int64 = if case .intValue(let i)? = v.value { i } else { 0 }
                return n >= lower && n <= upper
            }
            return decide(fragments, invert: invert, resource: { inRange($0.attributes) }, span: { inRange($0.attributes) })
        case .booleanAttribute(let key, let value, let invert):
            let equal = { (attributes: [KeyValue]) -> Bool in
                guard let v = first(attributes, key) else { return false }
                let b: Bool = if case .boolValue(let x)? = v.value { x } else { false }
                return b == value
            }
            return decide(fragments, invert: invert, resource: { equal($0.attributes) }, span: { equal($0.attributes) })
        case .probabilistic:
            return nil
        case .rateLimiting:
            return nil
        case .spanCount(let lower, let upper):
            if upper == 0 { return spanCount >= lower ? .sampled : .notSampled }
            return spanCount >= lower && spanCount <= upper ? .sampled : .notSampled
        case .traceState(let key, let values):
            let usable = Set(values.filter { !$0.isEmpty && key.utf8.count + $0.utf8.count < 256 })
            return hasSpan(fragments) { span in
                guard !span.traceState.isEmpty, let v = TailTraceStateLookup.value(of: key, in: span.traceState) else { return false }
                return usable.contains(v)
            } ? .sampled : .notSampled
        case .and(let subs):
            for sub in subs {
                guard let d = evaluate(sub.rule, fragments, spanCount: spanCount, traceID: traceID) else { return nil }
                if d == .notSampled || d == .invertNotSampled { return .notSampled }
            }
            return .sampled
        case .drop(let subs):
            for sub in subs {
                guard let d = evaluate(sub.rule, fragments, spanCount: spanCount, traceID: traceID) else { return nil }
                if d == .notSampled || d == .invertNotSampled { return .notSampled }
            }
            return .dropped
        }
    }
}

/// Random traces, requests and policies for the equivalence tests (a fixed seed: failures reproduce).
struct TailRandom {
    var rng: SplitMix64

    mutating func int(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
    mutating func bool() -> Bool { rng.next() & 1 == 1 }
    mutating func pick<T>(_ items: [T]) -> T { items[int(items.count)] }

    static let keys = ["http.route", "env", "n", "flag", "é"]
    static let strings = ["", "/checkout", "/pay", "test", "prod", "xyz", "e\u{301}", "\u{e9}", "/api/v2/x"]

    mutating func value() -> AnyValue {
        var v = AnyValue()
        switch int(6) {
        case 0, 1: v.stringValue = pick(Self.strings)
        case 2: v.intValue = pick([0, 1, 200, 500, 503, 599, -3])
        case 3: v.boolValue = bool()
        case 4: v.doubleValue = 2.5
        default: v.bytesValue = Data([1, 2, 3])
        }
        return v
    }

    mutating func attributes(max: Int) -> [KeyValue] {
        var attributes: [KeyValue] = []
        for _ in 0..<int(max + 1) {
            var kv = KeyValue()
            kv.key = pick(Self.keys)
            kv.value = value()
            attributes.append(kv)
        }
        return attributes
    }

    mutating func span(traceID: Data) -> Span {
        var s = Span()
        s.traceID = traceID
        s.spanID = Data(repeating: UInt8(int(256)), count: 8)
        s.name = "op"
        // Zero and reversed times included: the latency fold treats 0 as unset, as otelcol does.
        let start: UInt64 = int(8) == 0 ? 0 : UInt64(1_000_000_000 + int(20) * 1_000_000)
        let end: UInt64 = int(8) == 0 ? 0 : (int(6) == 0 ? start &- 3_000_000 : start + UInt64(int(15)) * 1_000_000)
        s.startTimeUnixNano = start
        s.endTimeUnixNano = end
        s.status.code = pick([.unset, .ok, .error, .error, SpanStatus.StatusCode.UNRECOGNIZED(7)])
        s.attributes = attributes(max: 3)
        s.traceState = pick(["", "", "vendor=keep", "a=1, vendor=drop", "garbage,vendor=keep", "vendor=keep,vendor=x"])
        return s
    }

    mutating func leafRule() -> TailSamplingPolicy.Rule {
        switch int(8) {
        case 0:
            let lower = Int64(pick([0, 1, 3, 5, 10]))
            return .latency(thresholdMs: lower, upperThresholdMs: bool() ? 0 : lower + Int64(pick([0, 2, 6])))
        case 1: return .statusCode(Array([SpanStatus.StatusCode.ok, .error, .unset].filter { _ in bool() }.prefix(2)) + [.error])
        case 2:
            let regex = int(3) == 0
            let values = regex ? [pick(["^/api", "y$", "^$", "es"])] : (0..<(1 + int(3))).map { _ in pick(Self.strings) }
            return .stringAttribute(key: pick(Self.keys), values: values, regex: regex, cacheMaxSize: 2, invertMatch: int(4) == 0)
        case 3:
            let lower = Int64(pick([Int(Int64.min), 0, 1, 500]))
            return .numericAttribute(
                key: pick(Self.keys), minValue: lower, maxValue: max(lower, Int64(pick([0, 599, Int(Int64.max)]))), invertMatch: int(4) == 0)
        case 4: return .booleanAttribute(key: pick(Self.keys), value: bool(), invertMatch: int(4) == 0)
        case 5: return .spanCount(minSpans: int(6), maxSpans: pick([0, 3, 8]))
        case 6: return .traceState(key: "vendor", values: [pick(["keep", "drop", "x"])])
        default: return .alwaysSample
        }
    }

    mutating func rule() -> TailSamplingPolicy.Rule {
        let kind = int(10)
        guard kind < 2 else { return leafRule() }
        var subs: [TailSamplingPolicy] = []
        for i in 0..<(1 + int(2)) { subs.append(TailSamplingPolicy(name: "s\(i)", rule: leafRule())) }
        return kind == 0 ? .and(subs) : .drop(subs)
    }
}

@Suite struct TailSamplingEquivalenceTests {
    /// Builds requests carrying one trace's spans (in order, split at random points, under one or two resources and
    /// scopes, interleaved with spans of another trace), and returns them with the trace ID.
    static func requests(_ r: inout TailRandom, spans: Int) -> (requests: [ExportTraceRequest], traceID: Data) {
        var traceID = Data(count: 16)
        var otherID = Data(count: 16)
        for i in 0..<16 {
            traceID[i] = UInt8(r.int(256))
            otherID[i] = UInt8(r.int(256))
        }
        otherID[0] = ~traceID[0]
        var remaining: [Span] = []
        for _ in 0..<spans { remaining.append(r.span(traceID: traceID)) }
        var requests: [ExportTraceRequest] = []
        while !remaining.isEmpty {
            var request = ExportTraceRequest()
            for _ in 0..<(1 + r.int(2)) where !remaining.isEmpty {
                var rs = ResourceSpans()
                rs.resource.attributes = r.attributes(max: 2)
                for scope in 0..<(1 + r.int(2)) where !remaining.isEmpty {
                    var ss = ScopeSpans()
                    ss.scope.name = "scope\(scope)"
                    for _ in 0..<(1 + r.int(3)) where !remaining.isEmpty {
                        if r.int(3) == 0 { ss.spans.append(r.span(traceID: otherID)) }
                        ss.spans.append(remaining.removeFirst())
                    }
                    rs.scopeSpans.append(ss)
                }
                request.resourceSpans.append(rs)
            }
            requests.append(request)
        }
        return (requests, traceID)
    }

    @Test func factsGatheredOnArrivalDecideAsWalkingTheTraceDid() {
        var r = TailRandom(rng: SplitMix64(seed: 20_261_122))
        var compared = 0
        var sampled = 0
        for _ in 0..<400 {
            let policies = (0..<(1 + r.int(4))).map { TailSamplingPolicy(name: "p\($0)", rule: r.rule()) }
            let decider = TailSamplingDecider(policies: policies, sampleOnFirstMatch: r.int(4) == 0)
            let (requests, traceID) = Self.requests(&r, spans: 1 + r.int(9))
            let trace = tailPending(requests: requests, checks: decider.checks, traceID: traceID)
            let key = TailTraceKey(traceID)
            // Each policy (ordered as the decider orders them) against the reference.
            let ordered = policies.filter(\.isDrop) + policies.filter { !$0.isDrop }
            var reference: [TailPolicyDecision] = []
            for (policy, compiled) in zip(ordered, decider.policies) {
                let expected = TailReferencePolicies.evaluate(policy.rule, trace.fragments, spanCount: trace.spanCount, traceID: key)
                let got = compiled.evaluate(trace, traceID: key, now: .zero)
                #expect(got == expected, "\(policy.rule) on \(trace.spanCount) spans in \(trace.fragments.count) fragments")
                if let expected { reference.append(expected) }
                compared += 1
            }
            // The combination (no stateful policies here), as otelcol's makeDecision.
            var sawSampled = false
            var sawNotSampled = false
            var sawInvertSampled = false
            var sawInvertNotSampled = false
            var expected: Bool?
            for d in reference {
                switch d {
                case .dropped: expected = false
                case .sampled:
                    sawSampled = true
                    if decider.sampleOnFirstMatch { expected = !sawInvertNotSampled }
                case .notSampled: sawNotSampled = true
                case .invertSampled: sawInvertSampled = true
                case .invertNotSampled: sawInvertNotSampled = true
                }
                if expected != nil { break }
            }
            let combined = expected ?? (sawInvertNotSampled ? false : (sawSampled ? true : sawInvertSampled && !sawNotSampled))
            let decided = decider.decide(trace, traceID: key, now: .zero)
            #expect(decided == combined)
            if decided { sampled += 1 }
        }
        // The random policies are neither always nor never met.
        #expect(compared > 600 && sampled > 50 && sampled < 350)
    }

    @Test func attributeKeysAndExactValuesCompareBytesAsOtelcolDoes() {
        // "é" precomposed and "e" + combining acute are canonically equivalent (Swift's ==) but different bytes
        // (Go's ==): otelcol matches neither key nor value across the two forms.
        let decomposed = "e\u{301}"
        let precomposed = "\u{e9}"
        let byKey = TailSamplingPolicy.Rule.stringAttribute(key: precomposed, values: ["x"], regex: false, cacheMaxSize: 128, invertMatch: false)
        #expect(tailEvaluate(byKey, [TailSpan(attributes: [samplingAttribute(precomposed, .stringValue("x"))])]) == .sampled)
        #expect(tailEvaluate(byKey, [TailSpan(attributes: [samplingAttribute(decomposed, .stringValue("x"))])]) == .notSampled)
        let byValue = TailSamplingPolicy.Rule.stringAttribute(key: "k", values: [precomposed], regex: false, cacheMaxSize: 128, invertMatch: false)
        #expect(tailEvaluate(byValue, [TailSpan(attributes: [samplingAttribute("k", .stringValue(precomposed))])]) == .sampled)
        #expect(tailEvaluate(byValue, [TailSpan(attributes: [samplingAttribute("k", .stringValue(decomposed))])]) == .notSampled)
    }

    @Test func manyExactValuesAreLookedUpByHash() {
        let values = (0..<50).map { "/route/\($0)" }
        let rule = TailSamplingPolicy.Rule.stringAttribute(key: "http.route", values: values, regex: false, cacheMaxSize: 128, invertMatch: false)
        for v in ["/route/0", "/route/17", "/route/49"] {
            #expect(tailEvaluate(rule, [TailSpan(attributes: [samplingAttribute("http.route", .stringValue(v))])]) == .sampled)
        }
        for v in ["/route/50", "/route/", "", "/route/170"] {
            #expect(tailEvaluate(rule, [TailSpan(attributes: [samplingAttribute("http.route", .stringValue(v))])]) == .notSampled)
        }
    }

    /// Latency across requests: the running duration carries over, and with an upper bound a trace that was in
    /// range after its first request stays sampled even when later spans take it past the bound.
    @Test func latencyFoldCarriesOverRequests() {
        let (policy, checks) = tailCompile(.latency(thresholdMs: 100, upperThresholdMs: 300))
        let first = tailRequest([TailSpan(startMs: 1000, endMs: 1200)])  // 200 ms: in range
        let second = tailRequest([TailSpan(startMs: 1000, endMs: 2000)])  // 1 s
        let key = TailTraceKey(samplingHexData(TailSpan().traceID))
        #expect(policy.evaluate(tailPending(requests: [first, second], checks: checks), traceID: key, now: .zero) == .sampled)
        #expect(policy.evaluate(tailPending(requests: [second, first], checks: checks), traceID: key, now: .zero) == .notSampled)
        // Threshold only: 50 ms then 150 ms in total.
        let (slow, slowChecks) = tailCompile(.latency(thresholdMs: 120, upperThresholdMs: 0))
        let a = tailRequest([TailSpan(startMs: 1000, endMs: 1050)])
        let b = tailRequest([TailSpan(startMs: 1100, endMs: 1150)])
        #expect(slow.evaluate(tailPending(requests: [a], checks: slowChecks), traceID: key, now: .zero) == .notSampled)
        #expect(slow.evaluate(tailPending(requests: [a, b], checks: slowChecks), traceID: key, now: .zero) == .sampled)
    }

    @Test func moreThan64ChecksUseMoreWords() {
        var rules: [TailSamplingPolicy.Rule] = (0..<70).map { .numericAttribute(key: "n\($0)", minValue: 1, maxValue: 1, invertMatch: false) }
        rules.append(.statusCode([.error]))
        let decider = TailSamplingDecider(
            policies: rules.enumerated().map { TailSamplingPolicy(name: "p\($0.offset)", rule: $0.element) }, sampleOnFirstMatch: false)
        #expect(decider.checks.slotCount == 71)
        let trace = tailPending([TailSpan(attributes: [samplingAttribute("n68", .intValue(1))]), TailSpan(status: .error)], checks: decider.checks)
        let key = TailTraceKey(samplingHexData(TailSpan().traceID))
        let decisions = decider.policies.map { $0.evaluate(trace, traceID: key, now: .zero) }
        #expect(decisions.enumerated().filter { $0.element == .sampled }.map(\.offset) == [68, 70])
    }

    @Test func theSizeEstimateCountsFixedOverheadsAndTheBytesOfTextAndValues() {
        var span = Span()
        span.name = "GET /é"  // 7 bytes
        span.traceState = "a=1"  // 3
        span.status.message = "boom"  // 4
        var list = AnyValue()
        list.arrayValue.values = [.string("abc"), AnyValue.with { $0.intValue = 1 }]  // 16 + (16 + 3) + (16 + 8)
        var nested = KeyValue()
        nested.key = "n"
        nested.value = .string("xy")  // as a kvlist member: 48 + 1 + 2
        var map = AnyValue()
        map.kvlistValue.values = [nested]  // 16 + 51
        span.attributes = [
            samplingAttribute("s", .stringValue("hello")),  // 48 + 1 + 5
            samplingAttribute("i", .intValue(7)),  // 48 + 1 + 8
            samplingAttribute("b", .bytesValue(Data(count: 10))),  // 48 + 1 + 10
            KeyValue.with {
                $0.key = "list"
                $0.value = list
            },  // 48 + 4 + 59
            KeyValue.with {
                $0.key = "map"
                $0.value = map
            },  // 48 + 3 + 67
        ]
        var event = Span.Event()
        event.name = "ev"
        event.attributes = [samplingAttribute("k", .boolValue(true))]  // 64 + 2 + (48 + 1 + 8)
        var link = Span.Link()
        link.traceState = "x=yz"  // 96 + 4
        span.events = [event]
        span.links = [link]
        let attributes = 54 + 57 + 59 + 111 + 118
        #expect(TailSamplingSizeEstimate.of(span.attributes) == attributes)
        #expect(TailSamplingSizeEstimate.of(span) == 256 + 7 + 3 + 4 + attributes + (64 + 2 + 57) + (96 + 4))
        var rs = ResourceSpans()
        rs.schemaURL = "https://x"  // 9
        rs.resource.attributes = [samplingAttribute("service.name", .stringValue("api"))]  // 48 + 12 + 3
        rs.scopeSpans = [ScopeSpans.with { $0.spans = [span] }]  // not counted: spans are estimated one by one
        #expect(TailSamplingSizeEstimate.of(rs) == 128 + 9 + 63)
    }

    @Test func attributeProbesAgreeWithTheReference() {
        var r = TailRandom(rng: SplitMix64(seed: 7))
        let keys = TailRandom.keys.map(TailUTF8String.init)
        let listed = TailExactValues(["test", "/pay"])
        for round in 0..<200 {
            var attributes = r.attributes(max: 6)
            if round % 4 == 0 {
                // Nested values.
                var list = AnyValue()
                list.arrayValue.values = [.string("abc"), r.value()]
                var nested = KeyValue()
                nested.key = "list"
                nested.value = list
                var map = AnyValue()
                map.kvlistValue.values = [nested]
                var outer = KeyValue()
                outer.key = "map"
                outer.value = map
                attributes.insert(round % 8 == 0 ? nested : outer, at: r.int(attributes.count + 1))
            }
            for (k, key) in TailRandom.keys.enumerated() {
                var want = TailAttributeProbe.absent
                if let value = TailReferencePolicies.first(attributes, key) {
                    want =
                        switch value.value {
                        case .stringValue(let s)?: .string(isEmpty: s.isEmpty, listed: s == "test" || s == "/pay")
                        case .intValue(let n)?: .int(n)
                        case .boolValue(let b)?: .bool(b)
                        default: .other
                        }
                }
                #expect(attributes.tailProbe(keys[k], listed: listed) == want)
                #expect(attributes.tailString(keys[k]) == TailReferencePolicies.first(attributes, key).map(TailReferencePolicies.string))
            }
        }
    }
}
