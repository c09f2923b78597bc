import CollectorCore
import Foundation
import OTLP

/// What one policy says about a trace, as otelcol's `sampling.Decision`.
enum TailPolicyDecision: Equatable {
    case sampled
    case notSampled
    /// An `invert_match` policy found no span or resource matching: counts as sampled unless another policy said
    /// not sampled.
    case invertSampled
    /// An `invert_match` policy found a match: the trace is not sampled, whatever other policies say (except drop).
    case invertNotSampled
    /// A `drop` policy matched: not sampled, and it overrides everything.
    case dropped
}

/// One compiled policy. Evaluators with state (rate limiting, regex result caches) keep it in classes; all
/// evaluation happens under the trace buffer's lock, one trace at a time.
struct TailPolicyEvaluator {
    enum Kind {
        case alwaysSample
        case latency(thresholdMs: Int64, upperThresholdMs: Int64)
        case statusCode([SpanStatus.StatusCode])
        case stringAttribute(key: String, matcher: TailStringMatcher, invertMatch: Bool)
        case numericAttribute(key: String, minValue: Int64, maxValue: Int64, invertMatch: Bool)
        case booleanAttribute(key: String, value: Bool, invertMatch: Bool)
        case probabilistic(saltState: UInt64, threshold: UInt64)
        case rateLimiting(TailTokenBucket)
        case spanCount(minSpans: Int, maxSpans: Int)
        case traceState(key: String, values: Set<String>)
        case and([TailPolicyEvaluator])
        case drop([TailPolicyEvaluator])
    }

    let name: String
    let kind: Kind

    init(_ policy: TailSamplingPolicy) {
        name = policy.name
        switch policy.rule {
        case .alwaysSample: kind = .alwaysSample
        case .latency(let lower, let upper): kind = .latency(thresholdMs: lower, upperThresholdMs: upper)
        case .statusCode(let codes): kind = .statusCode(codes)
        case .stringAttribute(let key, let values, let regex, let cacheMaxSize, let invert):
            kind = .stringAttribute(key: key, matcher: TailStringMatcher(values: values, regex: regex, cacheMaxSize: cacheMaxSize), invertMatch: invert)
        case .numericAttribute(let key, let lower, let upper, let invert):
            kind = .numericAttribute(key: key, minValue: lower, maxValue: upper, invertMatch: invert)
        case .booleanAttribute(let key, let value, let invert):
            kind = .booleanAttribute(key: key, value: value, invertMatch: invert)
        case .probabilistic(let salt, let percentage):
            kind = .probabilistic(saltState: FNV1a64.hash(salt.utf8), threshold: Self.probabilisticThreshold(ratio: percentage / 100))
        case .rateLimiting(let rate): kind = .rateLimiting(TailTokenBucket(ratePerSecond: Double(rate), burst: Double(rate) * 2))
        case .spanCount(let lower, let upper): kind = .spanCount(minSpans: lower, maxSpans: upper)
        case .traceState(let key, let values):
            // As otelcol: a key=value member longer than 256 characters cannot exist, so such values never match.
            kind = .traceState(key: key, values: Set(values.filter { !$0.isEmpty && key.utf8.count + $0.utf8.count < 256 }))
        case .and(let subs): kind = .and(subs.map(TailPolicyEvaluator.init))
        case .drop(let subs): kind = .drop(subs.map(TailPolicyEvaluator.init))
        }
    }

    var isDrop: Bool { if case .drop = kind { true } else { false } }

    /// otelcol's `calculateThreshold`: ratio × (2^64 − 1) rounded to a 64-bit mantissa, truncated.
    static func probabilisticThreshold(ratio: Double) -> UInt64 {
        guard ratio > 0 else { return 0 }
        #if arch(x86_64) || arch(i386)
        let product = Float80(UInt64.max) * Float80(ratio)
        return product >= Float80(UInt64.max) ? UInt64.max : UInt64(product)
        #else
        let product = Double(UInt64.max) * ratio
        return product >= 18_446_744_073_709_551_615.0 ? UInt64.max : UInt64(product)
        #endif
    }

    func evaluate(_ trace: TailPendingTrace, traceID: TailTraceKey, now: Duration) -> TailPolicyDecision {
        switch kind {
        case .alwaysSample:
            return .sampled

        case .latency(let lower, let upper):
            // As otelcol: the running duration is checked after each span, so a trace is sampled as soon as the
            // spans seen so far qualify.
            var minStart: UInt64 = 0
            var maxEnd: UInt64 = 0
            return trace.hasSpan { span in
                if minStart == 0 || span.startTimeUnixNano < minStart { minStart = span.startTimeUnixNano }
                if maxEnd == 0 || span.endTimeUnixNano > maxEnd { maxEnd = span.endTimeUnixNano }
                let ms = Int64(bitPattern: maxEnd &- minStart) / 1_000_000
                return upper == 0 ? ms >= lower : (lower < ms && ms <= upper)
            } ? .sampled : .notSampled

        case .statusCode(let codes):
            return trace.hasSpan { codes.contains($0.statusCode) } ? .sampled : .notSampled

        case .stringAttribute(let key, let matcher, let invert):
            // Go's Value.Str() is "" for non-string values; a span's empty string never matches.
            let resourceMatches = { (r: Resource) -> Bool in
                guard let v = r.attributes.first(where: { $0.key == key }) else { return false }
                return matcher.matches(v.value.tailSamplingStringOrEmpty)
            }
            let spanMatches = { (s: Span) -> Bool in
                // Absent and non-string attributes are alike here: "" never matches for a span.
                guard let text = s.attributes.stringValue(key), !text.isEmpty else { return false }
                return matcher.matches(text)
            }
            return trace.decide(invert: invert, resource: resourceMatches, span: spanMatches)

        case .numericAttribute(let key, let lower, let upper, let invert):
            // Go's Value.Int() is 0 for non-integer values, which matches when 0 is in range.
            let inRange = { (attributes: [KeyValue]) -> Bool in
                guard let v = attributes.first(where: { $0.key == key }) else { return false }
                let n: Int64 = if case .intValue(let i)? = v.value.value { i } else { 0 }
                return n >= lower && n <= upper
            }
            return trace.decide(invert: invert, resource: { inRange($0.attributes) }, span: { inRange($0.attributes) })

        case .booleanAttribute(let key, let value, let invert):
            // Go's Value.Bool() is false for non-boolean values.
            let matches = { (attributes: [KeyValue]) -> Bool in
                guard let v = attributes.first(where: { $0.key == key }) else { return false }
                let b: Bool = if case .boolValue(let x)? = v.value.value { x } else { false }
                return b == value
            }
            return trace.decide(invert: invert, resource: { matches($0.attributes) }, span: { matches($0.attributes) })

        case .probabilistic(let saltState, let threshold):
            let hash = withUnsafeBytes(of: (traceID.high, traceID.low)) { FNV1a64.continueHash(saltState, $0) }
            return hash <= threshold ? .sampled : .notSampled

        case .rateLimiting(let bucket):
            return bucket.allow(trace.spanCount, now: now) ? .sampled : .notSampled

        case .spanCount(let lower, let upper):
            let n = trace.spanCount
            if upper == 0 { return n >= lower ? .sampled : .notSampled }
            return n >= lower && n <= upper ? .sampled : .notSampled

        case .traceState(let key, let values):
            return trace.hasSpan { span in
                guard !span.traceState.isEmpty, let v = TailTraceStateLookup.value(of: key, in: span.traceState) else { return false }
                return values.contains(v)
            } ? .sampled : .notSampled

        case .and(let subs):
            for sub in subs {
                let d = sub.evaluate(trace, traceID: traceID, now: now)
                if d == .notSampled || d == .invertNotSampled { return .notSampled }
            }
            return .sampled

        case .drop(let subs):
            for sub in subs {
                let d = sub.evaluate(trace, traceID: traceID, now: now)
                if d == .notSampled || d == .invertNotSampled { return .notSampled }
            }
            return .dropped
        }
    }
}

/// Combines the policies as otelcol's `makeDecision`: drop policies are evaluated first; evaluation stops at the
/// first `dropped` (and, with `sample_on_first_match`, at the first `sampled`). Then: any dropped → not sampled;
/// else any invert-not-sampled → not sampled; else any sampled → sampled; else invert-sampled with no plain
/// not-sampled → sampled; else not sampled (also when there are no policies).
struct TailSamplingDecider {
    let policies: [TailPolicyEvaluator]
    let sampleOnFirstMatch: Bool

    init(policies: [TailSamplingPolicy], sampleOnFirstMatch: Bool) {
        let compiled = policies.map(TailPolicyEvaluator.init)
        self.policies = compiled.filter(\.isDrop) + compiled.filter { !$0.isDrop }
        self.sampleOnFirstMatch = sampleOnFirstMatch
    }

    func decide(_ trace: TailPendingTrace, traceID: TailTraceKey, now: Duration) -> Bool {
        var sawSampled = false, sawNotSampled = false, sawInvertSampled = false, sawInvertNotSampled = false
        for policy in policies {
            switch policy.evaluate(trace, traceID: traceID, now: now) {
            case .dropped: return false
            case .sampled:
                sawSampled = true
                if sampleOnFirstMatch { return !sawInvertNotSampled }
            case .notSampled: sawNotSampled = true
            case .invertSampled: sawInvertSampled = true
            case .invertNotSampled: sawInvertNotSampled = true
            }
        }
        if sawInvertNotSampled { return false }
        if sawSampled { return true }
        return sawInvertSampled && !sawNotSampled
    }
}

/// Exact values (a set lookup) or regular expressions (searched, not anchored, as Go's `MatchString`) with a
/// bounded cache of results per attribute value (`cache_max_size`; cleared when full).
final class TailStringMatcher {
    private let exact: Set<String>
    private let patterns: [Regex<AnyRegexOutput>]?
    private var cache: [String: Bool] = [:]
    private let cacheMaxSize: Int

    init(values: [String], regex: Bool, cacheMaxSize: Int) {
        exact = Set(values.filter { !$0.isEmpty })
        patterns = regex ? values.compactMap { try? Regex($0) } : nil
        self.cacheMaxSize = max(1, cacheMaxSize)
    }

    func matches(_ text: String) -> Bool {
        guard let patterns else { return exact.contains(text) }
        if let cached = cache[text] { return cached }
        let result = patterns.contains { (try? $0.firstMatch(in: text)) != nil }
        if cache.count >= cacheMaxSize { cache.removeAll(keepingCapacity: true) }
        cache[text] = result
        return result
    }
}

/// A token bucket of spans (golang.org/x/time/rate semantics as otelcol uses them): refills at `ratePerSecond`,
/// holds at most `burst`, starts full; a trace passes when all its spans fit.
final class TailTokenBucket {
    private let rate: Double
    private let burst: Double
    private var tokens: Double
    private var last: Duration?

    init(ratePerSecond: Double, burst: Double) {
        rate = ratePerSecond
        self.burst = burst
        tokens = burst
    }

    func allow(_ count: Int, now: Duration) -> Bool {
        if let last, now > last {
            let elapsed = Double((now - last).components.seconds) + Double((now - last).components.attoseconds) / 1e18
            tokens = min(burst, tokens + elapsed * rate)
        }
        if last == nil || now > last! { last = now }
        let n = Double(count)
        guard n <= burst, tokens >= n else { return false }
        tokens -= n
        return true
    }
}

/// Finds one member's value in a W3C `tracestate`; `nil` when absent or when the list is malformed.
enum TailTraceStateLookup {
    static func value(of key: String, in traceState: String) -> String? {
        var found: String?
        for piece in traceState.split(separator: ",", omittingEmptySubsequences: false) {
            let member = piece.trimmingCharacters(in: CharacterSet(charactersIn: " \t"))
            if member.isEmpty { continue }
            guard let eq = member.firstIndex(of: "=") else { return nil }
            if member[..<eq] == key {
                if found != nil { return nil }  // duplicate keys make the list invalid
                found = String(member[member.index(after: eq)...])
            }
        }
        return found
    }
}

extension AnyValue {
    /// The string value, or "" for any other type (Go's `pcommon.Value.Str()`).
    var tailSamplingStringOrEmpty: String {
        if case .stringValue(let s)? = value { return s }
        return ""
    }
}
