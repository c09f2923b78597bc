import CollectorCore
import Foundation
import OTLP
import Synchronization

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

/// Which of the policies' per-span checks (by slot) some resource or span of a trace has met so far. Slots 0–63
/// live in one word; more (configs with over 64 such policies) spill into an array.
struct TailPolicyMatches: Equatable {
    private var low: UInt64 = 0
    private var high: [UInt64] = []

    @inline(__always)
    func contains(_ slot: Int) -> Bool {
        if slot < 64 { return low & (1 << UInt64(slot)) != 0 }
        let word = (slot - 64) >> 6
        return word < high.count && high[word] & (1 << UInt64((slot - 64) & 63)) != 0
    }

    @inline(__always)
    mutating func insert(_ slot: Int) {
        if slot < 64 {
            low |= 1 << UInt64(slot)
            return
        }
        let word = (slot - 64) >> 6
        while high.count <= word { high.append(0) }
        high[word] |= 1 << UInt64((slot - 64) & 63)
    }

    /// Adds the slots of `other` that are not in `excluded`.
    mutating func formUnion(_ other: TailPolicyMatches, excluding excluded: TailPolicyMatches) {
        low |= other.low & ~excluded.low
        for w in other.high.indices where other.high[w] != 0 {
            let bits = other.high[w] & ~(w < excluded.high.count ? excluded.high[w] : 0)
            if bits == 0 { continue }
            while high.count <= w { high.append(0) }
            high[w] |= bits
        }
    }
}

/// What a trace's spans and resources have shown the policies so far, gathered as they arrive (so that deciding
/// never walks the spans again): the checks met, and the latency policies' running earliest start and latest end.
struct TailTraceFacts: Equatable {
    var matches = TailPolicyMatches()
    var minStart: UInt64 = 0
    var maxEnd: UInt64 = 0
}

/// The per-span work of the policies that look at spans and resources (`latency`, `status_code`, the attribute
/// policies, `trace_state`, also inside `and`/`drop`), each with a slot in ``TailPolicyMatches``. Run on every
/// span and resource as it arrives, outside the buffer's lock (so it is immutable, and the regex matchers' caches
/// have their own lock). A check whose slot is already met is skipped: these policies all ask whether *any*
/// span or resource matches, so once one does the rest cannot change the answer.
///
/// `latency` is the exception to order not mattering: as in otelcol, the running duration is checked after each
/// span (in arrival order), so a trace qualifies as soon as the spans seen so far do — which, with an upper
/// bound, a later span can no longer undo. Its running state is part of ``TailTraceFacts`` and is carried forward
/// span by span across requests (see ``TailPendingTrace/absorb(_:checks:)``).
final class TailSpanChecks: Sendable {
    struct StatusCheck {
        let slot: Int
        /// Bit n: status code n (OK, ERROR, UNSET and any other code below 64).
        let mask: UInt64
        /// Whether a code outside 0..<64 is listed (then ``TailSpanChecks/otherStatusCodes`` holds the list).
        let hasOthers: Bool
    }

    enum AttributeTest {
        case exact(TailExactValues)
        /// Index into ``TailSpanChecks/regexMatchers``.
        case regex(Int)
        case numeric(min: Int64, max: Int64)
        case boolean(Bool)
    }

    struct AttributeCheck {
        let slot: Int
        let key: TailUTF8String
        let test: AttributeTest
    }

    struct TraceStateCheck {
        let slot: Int
        let key: String
        let values: Set<String>
    }

    struct LatencyCheck {
        let slot: Int
        let lowerMs: Int64
        let upperMs: Int64
    }

    let statusChecks: [StatusCheck]
    let attributeChecks: [AttributeCheck]
    let latencyChecks: [LatencyCheck]
    let traceStateChecks: [TraceStateCheck]
    /// Per status check, its codes (used only for codes outside 0..<64).
    let otherStatusCodes: [[SpanStatus.StatusCode]]
    let regexMatchers: [TailStringMatcher]
    /// The latency slots (their bits depend on span order, so they are never merged as a union).
    let latencySlots: TailPolicyMatches
    let slotCount: Int

    fileprivate init(_ b: TailSpanChecksBuilder) {
        statusChecks = b.status.map { codes in
            var mask: UInt64 = 0
            var others = false
            for c in codes.codes {
                if (0..<64).contains(c.rawValue) { mask |= 1 << UInt64(c.rawValue) } else { others = true }
            }
            return StatusCheck(slot: codes.slot, mask: mask, hasOthers: others)
        }
        otherStatusCodes = b.status.map(\.codes)
        attributeChecks = b.attributes.map { a in
            let test: AttributeTest =
                switch a.test {
                case .exact(let set): .exact(TailExactValues(b.exactValues[set]))
                case .regex(let m): .regex(m)
                case .numeric(let lower, let upper): .numeric(min: lower, max: upper)
                case .boolean(let v): .boolean(v)
                }
            return AttributeCheck(slot: a.slot, key: TailUTF8String(a.key), test: test)
        }
        latencyChecks = b.latency
        traceStateChecks = b.traceState
        regexMatchers = b.regexMatchers
        var slots = TailPolicyMatches()
        for l in b.latency { slots.insert(l.slot) }
        latencySlots = slots
        slotCount = b.slots
    }

    var hasAttributeChecks: Bool { !attributeChecks.isEmpty }

    /// The attribute checks a resource meets (otelcol's resource side of `hasResourceOrSpanWithCondition`: the
    /// attribute present and its value — Go's zero value when of another type — matching).
    func resourceMatches(_ rs: ResourceSpans) -> TailPolicyMatches {
        var matches = TailPolicyMatches()
        for check in attributeChecks {
            let met: Bool
            switch check.test {
            case .exact(let values):
                // "" is never listed, so a present non-string value ("" in Go) cannot match either.
                if case .string(_, true) = rs.resource.attributes.tailProbe(check.key, listed: values) { met = true } else { met = false }
            case .regex(let m):
                met = rs.resource.attributes.tailString(check.key).map(regexMatchers[m].matches) ?? false
            case .numeric(let lower, let upper):
                met = Self.numeric(rs.resource.attributes.tailProbe(check.key, listed: .none), lower, upper)
            case .boolean(let value):
                met = Self.boolean(rs.resource.attributes.tailProbe(check.key, listed: .none), value)
            }
            if met { matches.insert(check.slot) }
        }
        return matches
    }

    /// Runs the checks not yet met on one span, and the latency fold.
    @inline(__always)
    func observe(_ span: Span, into facts: inout TailTraceFacts) {
        if !statusChecks.isEmpty { observeStatus(span, into: &facts) }
        for check in attributeChecks where !facts.matches.contains(check.slot) {
            if spanMeets(check, span) { facts.matches.insert(check.slot) }
        }
        if !traceStateChecks.isEmpty { observeTraceState(span, into: &facts) }
        if !latencyChecks.isEmpty {
            fold(start: span.startTimeUnixNano, end: span.endTimeUnixNano, into: &facts)
        }
    }

    @inline(__always)
    private func observeStatus(_ span: Span, into facts: inout TailTraceFacts) {
        var code: SpanStatus.StatusCode?
        for (i, check) in statusChecks.enumerated() where !facts.matches.contains(check.slot) {
            let c = code ?? span.status.code
            code = c
            let met =
                (0..<64).contains(c.rawValue) ? check.mask & (1 << UInt64(c.rawValue)) != 0 : (check.hasOthers && otherStatusCodes[i].contains(c))
            if met { facts.matches.insert(check.slot) }
        }
    }

    /// otelcol's span side of the attribute policies: `string_attribute` needs a non-empty string value (so an
    /// absent or non-string attribute never matches), `numeric_attribute` and `boolean_attribute` a present
    /// attribute whose value (Go's zero value when of another type) is in range or equal.
    @inline(__always)
    private func spanMeets(_ check: AttributeCheck, _ span: Span) -> Bool {
        switch check.test {
        case .exact(let values):
            if case .string(false, true) = span.attributes.tailProbe(check.key, listed: values) { return true }
            return false
        case .regex(let m):
            guard let text = span.attributes.tailString(check.key), !text.isEmpty else { return false }
            return regexMatchers[m].matches(text)
        case .numeric(let lower, let upper):
            return Self.numeric(span.attributes.tailProbe(check.key, listed: .none), lower, upper)
        case .boolean(let value):
            return Self.boolean(span.attributes.tailProbe(check.key, listed: .none), value)
        }
    }

    private func observeTraceState(_ span: Span, into facts: inout TailTraceFacts) {
        var traceState: String?
        for check in traceStateChecks where !facts.matches.contains(check.slot) {
            if traceState == nil { traceState = span.traceState }
            guard let ts = traceState, !ts.isEmpty, let v = TailTraceStateLookup.value(of: check.key, in: ts) else { continue }
            if check.values.contains(v) { facts.matches.insert(check.slot) }
        }
    }

    /// One step of otelcol's latency fold: earliest start and latest end so far (0 meaning unset, as in Go), then
    /// each latency policy not yet met checks the running duration.
    @inline(__always)
    func fold(start: UInt64, end: UInt64, into facts: inout TailTraceFacts) {
        if facts.minStart == 0 || start < facts.minStart { facts.minStart = start }
        if facts.maxEnd == 0 || end > facts.maxEnd { facts.maxEnd = end }
        let ms = Int64(bitPattern: facts.maxEnd &- facts.minStart) / 1_000_000
        for l in latencyChecks where !facts.matches.contains(l.slot) {
            if l.upperMs == 0 ? ms >= l.lowerMs : (l.lowerMs < ms && ms <= l.upperMs) { facts.matches.insert(l.slot) }
        }
    }

    /// Go's `Value.Int()`: 0 for non-integer values, which matches when 0 is in range.
    @inline(__always)
    static func numeric(_ probe: TailAttributeProbe, _ lower: Int64, _ upper: Int64) -> Bool {
        let n: Int64
        switch probe {
        case .absent: return false
        case .int(let v): n = v
        default: n = 0
        }
        return n >= lower && n <= upper
    }

    /// Go's `Value.Bool()`: false for non-boolean values.
    @inline(__always)
    static func boolean(_ probe: TailAttributeProbe, _ value: Bool) -> Bool {
        switch probe {
        case .absent: return false
        case .bool(let b): return b == value
        default: return value == false
        }
    }
}

/// Builds the policies' evaluators and their ``TailSpanChecks``, giving each check a slot.
struct TailSpanChecksBuilder {
    enum Test {
        /// Index into ``exactValues``.
        case exact(Int)
        /// Index into ``regexMatchers``.
        case regex(Int)
        case numeric(Int64, Int64)
        case boolean(Bool)
    }

    var status: [(slot: Int, codes: [SpanStatus.StatusCode])] = []
    var attributes: [(slot: Int, key: String, test: Test)] = []
    var exactValues: [[String]] = []
    var regexMatchers: [TailStringMatcher] = []
    var traceState: [TailSpanChecks.TraceStateCheck] = []
    var latency: [TailSpanChecks.LatencyCheck] = []
    var slots = 0

    mutating func nextSlot() -> Int {
        slots += 1
        return slots - 1
    }

    /// `string_attribute`: exact values (empty ones never match, so they are left out) or regular expressions.
    mutating func addString(key: String, values: [String], regex: Bool, cacheMaxSize: Int) -> Int {
        let slot = nextSlot()
        if regex {
            regexMatchers.append(TailStringMatcher(patterns: values, cacheMaxSize: cacheMaxSize))
            attributes.append((slot, key, .regex(regexMatchers.count - 1)))
        } else {
            exactValues.append(values.filter { !$0.isEmpty })
            attributes.append((slot, key, .exact(exactValues.count - 1)))
        }
        return slot
    }

    func build() -> TailSpanChecks { TailSpanChecks(self) }
}

/// One compiled policy, evaluated when its trace is decided. Policies that look at spans read the facts gathered
/// as the spans arrived (their slot in ``TailTraceFacts/matches``); the rate limiter keeps its state in a class.
/// All evaluation happens under the trace buffer's lock, one trace at a time.
struct TailPolicyEvaluator {
    enum Kind {
        case alwaysSample
        /// `latency`, `status_code`, `trace_state`: sampled when a span met the check.
        case spanCheck(slot: Int)
        /// `string_attribute`, `numeric_attribute`, `boolean_attribute`: a resource or span met the check.
        case attributeCheck(slot: Int, invertMatch: Bool)
        case probabilistic(saltState: UInt64, threshold: UInt64)
        case rateLimiting(TailTokenBucket)
        case spanCount(minSpans: Int, maxSpans: Int)
        case and([TailPolicyEvaluator])
        case drop([TailPolicyEvaluator])
    }

    let name: String
    let kind: Kind

    init(_ policy: TailSamplingPolicy, checks: inout TailSpanChecksBuilder) {
        name = policy.name
        switch policy.rule {
        case .alwaysSample: kind = .alwaysSample
        case .latency(let lower, let upper):
            let slot = checks.nextSlot()
            checks.latency.append(.init(slot: slot, lowerMs: lower, upperMs: upper))
            kind = .spanCheck(slot: slot)
        case .statusCode(let codes):
            let slot = checks.nextSlot()
            checks.status.append((slot, codes))
            kind = .spanCheck(slot: slot)
        case .stringAttribute(let key, let values, let regex, let cacheMaxSize, let invert):
            let slot = checks.addString(key: key, values: values, regex: regex, cacheMaxSize: cacheMaxSize)
            kind = .attributeCheck(slot: slot, invertMatch: invert)
        case .numericAttribute(let key, let lower, let upper, let invert):
            let slot = checks.nextSlot()
            checks.attributes.append((slot, key, .numeric(lower, upper)))
            kind = .attributeCheck(slot: slot, invertMatch: invert)
        case .booleanAttribute(let key, let value, let invert):
            let slot = checks.nextSlot()
            checks.attributes.append((slot, key, .boolean(value)))
            kind = .attributeCheck(slot: slot, invertMatch: invert)
        case .probabilistic(let salt, let percentage):
            kind = .probabilistic(saltState: FNV1a64.hash(salt.utf8), threshold: Self.probabilisticThreshold(ratio: percentage / 100))
        case .rateLimiting(let rate): kind = .rateLimiting(TailTokenBucket(ratePerSecond: Double(rate), burst: Double(rate) * 2))
        case .spanCount(let lower, let upper): kind = .spanCount(minSpans: lower, maxSpans: upper)
        case .traceState(let key, let values):
            let slot = checks.nextSlot()
            // As otelcol: a key=value member longer than 256 characters cannot exist, so such values never match.
            let usable = Set(values.filter { !$0.isEmpty && key.utf8.count + $0.utf8.count < 256 })
            checks.traceState.append(.init(slot: slot, key: key, values: usable))
            kind = .spanCheck(slot: slot)
        case .and(let subs): kind = .and(subs.map { TailPolicyEvaluator($0, checks: &checks) })
        case .drop(let subs): kind = .drop(subs.map { TailPolicyEvaluator($0, checks: &checks) })
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

        case .spanCheck(let slot):
            return trace.facts.matches.contains(slot) ? .sampled : .notSampled

        case .attributeCheck(let slot, let invert):
            // otelcol's hasResourceOrSpanWithCondition (sampled when any resource or span matches) or, with
            // invert, invertHasResourceOrSpanWithCondition (invert-not-sampled when one matches, else invert-sampled).
            if trace.facts.matches.contains(slot) { return invert ? .invertNotSampled : .sampled }
            return invert ? .invertSampled : .notSampled

        case .probabilistic(let saltState, let threshold):
            let hash = withUnsafeBytes(of: (traceID.high, traceID.low)) { FNV1a64.continueHash(saltState, $0) }
            return hash <= threshold ? .sampled : .notSampled

        case .rateLimiting(let bucket):
            return bucket.allow(trace.spanCount, now: now) ? .sampled : .notSampled

        case .spanCount(let lower, let upper):
            let n = trace.spanCount
            if upper == 0 { return n >= lower ? .sampled : .notSampled }
            return n >= lower && n <= upper ? .sampled : .notSampled

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
    /// The per-span checks the policies read.
    let checks: TailSpanChecks

    init(policies: [TailSamplingPolicy], sampleOnFirstMatch: Bool) {
        var builder = TailSpanChecksBuilder()
        let ordered = policies.filter(\.isDrop) + policies.filter { !$0.isDrop }
        self.policies = ordered.map { TailPolicyEvaluator($0, checks: &builder) }
        self.sampleOnFirstMatch = sampleOnFirstMatch
        checks = builder.build()
    }

    func decide(_ trace: TailPendingTrace, traceID: TailTraceKey, now: Duration) -> Bool {
        var sawSampled = false
        var sawNotSampled = false
        var sawInvertSampled = false
        var sawInvertNotSampled = false
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

extension TailSamplingPolicy {
    var isDrop: Bool { if case .drop = rule { true } else { false } }
}

/// Regular expressions (searched, not anchored, as Go's `MatchString`) with a bounded cache of results per
/// attribute value (`cache_max_size`; cleared when full). Called concurrently as spans arrive: the expressions and
/// their cache are kept behind a lock. (Exact values are compared in ``TailSpanChecks``, byte for byte.)
final class TailStringMatcher: Sendable {
    private let state: Mutex<State>
    private let cacheMaxSize: Int

    private struct State {
        var patterns: [Regex<AnyRegexOutput>]
        var cache: [String: Bool] = [:]
    }

    init(patterns: [String], cacheMaxSize: Int) {
        state = Mutex(State(patterns: patterns.compactMap { try? Regex($0) }))
        self.cacheMaxSize = max(1, cacheMaxSize)
    }

    func matches(_ text: String) -> Bool {
        state.withLock { state in
            if let cached = state.cache[text] { return cached }
            let result = state.patterns.contains { (try? $0.firstMatch(in: text)) != nil }
            if state.cache.count >= cacheMaxSize { state.cache.removeAll(keepingCapacity: true) }
            state.cache[text] = result
            return result
        }
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
        if let last {
            if now > last {
                let elapsed = Double((now - last).components.seconds) + Double((now - last).components.attoseconds) / 1e18
                tokens = min(burst, tokens + elapsed * rate)
                self.last = now
            }
        } else {
            last = now
        }
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
