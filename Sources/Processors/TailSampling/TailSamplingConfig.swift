import CollectorCore
import OTLP

/// Settings of the `tail_sampling` processor: otelcol-contrib's keys and defaults, plus `max_buffered_bytes`, and
/// bounded decision caches by default (otelcol's default is off).
public struct TailSamplingConfig: ComponentConfig {
    /// How long after a trace's first span its decision is made.
    public var decisionWait: Duration = .seconds(30)
    /// Most traces waiting for a decision; beyond, the oldest are decided early.
    public var numTraces = 50_000
    /// Sizing hint for the buffer (as otelcol).
    public var expectedNewTracesPerSec = 0
    /// Recently decided trace IDs remembered so late spans follow the decision; 0 disables a cache.
    public var sampledCacheSize = TailSamplingConfig.defaultDecisionCacheSize
    public var nonSampledCacheSize = TailSamplingConfig.defaultDecisionCacheSize
    public var sampleOnFirstMatch = false
    public var dropPendingTracesOnShutdown = false
    /// otelsink's limit on the (estimated) bytes of spans waiting for a decision; beyond, the oldest traces are
    /// decided early.
    public var maxBufferedBytes = TailSamplingConfig.defaultMaxBufferedBytes
    public var policies: [TailSamplingPolicy] = []

    public static let defaultDecisionCacheSize = 100_000
    public static let defaultMaxBufferedBytes = 256 << 20

    public init(policies: [TailSamplingPolicy] = [], decisionWait: Duration = .seconds(30), numTraces: Int = 50_000) {
        self.policies = policies
        self.decisionWait = decisionWait
        self.numTraces = numTraces
    }

    public init(reading r: ConfigReader) {
        decisionWait = r.duration("decision_wait", default: .seconds(30), minimum: .milliseconds(1))
        numTraces = r.int("num_traces", default: 50_000, range: 1...10_000_000)
        expectedNewTracesPerSec = r.int("expected_new_traces_per_sec", default: 0, range: 0...10_000_000)
        let cache = r.child("decision_cache")
        sampledCacheSize = cache.int("sampled_cache_size", default: Self.defaultDecisionCacheSize, range: 0...10_000_000)
        nonSampledCacheSize = cache.int("non_sampled_cache_size", default: Self.defaultDecisionCacheSize, range: 0...10_000_000)
        sampleOnFirstMatch = r.bool("sample_on_first_match", default: false)
        dropPendingTracesOnShutdown = r.bool("drop_pending_traces_on_shutdown", default: false)
        maxBufferedBytes = r.int("max_buffered_bytes", default: Self.defaultMaxBufferedBytes, range: (1 << 20)...(1 << 40))
        for key in ["block_on_overflow", "maximum_trace_size_bytes", "num_shards", "decision_wait_after_root_received", "sampling_strategy"]
        where r.contains(key) {
            _ = r.raw(key)
            r.report(key, "is not supported by otelsink's tail_sampling")
        }
        var names: Set<String> = []
        for item in r.mappingList("policies") {
            guard let policy = TailSamplingPolicy(reading: item, nested: false) else { continue }
            if !names.insert(policy.name).inserted {
                item.report("name", "duplicate policy name \"\(policy.name)\"")
            }
            policies.append(policy)
        }
    }
}

/// One entry of `policies` (or of an `and`/`drop` sub-policy list): its name and rule.
public struct TailSamplingPolicy: Sendable {
    public var name: String
    public var rule: Rule

    public init(name: String, rule: Rule) {
        self.name = name
        self.rule = rule
    }

    /// The policy types, with otelcol's settings.
    public indirect enum Rule: Sendable {
        case alwaysSample
        /// Trace duration (earliest start to latest end) ≥ `thresholdMs`, or in (`thresholdMs`, `upperThresholdMs`]
        /// when the upper bound is set.
        case latency(thresholdMs: Int64, upperThresholdMs: Int64)
        case statusCode([SpanStatus.StatusCode])
        case stringAttribute(key: String, values: [String], regex: Bool, cacheMaxSize: Int, invertMatch: Bool)
        case numericAttribute(key: String, minValue: Int64, maxValue: Int64, invertMatch: Bool)
        case booleanAttribute(key: String, value: Bool, invertMatch: Bool)
        case probabilistic(hashSalt: String, samplingPercentage: Double)
        case rateLimiting(spansPerSecond: Int64)
        case spanCount(minSpans: Int, maxSpans: Int)
        case traceState(key: String, values: [String])
        case and([TailSamplingPolicy])
        case drop([TailSamplingPolicy])
    }

    /// Policy types otelsink evaluates (sub-policies of `and`/`drop` may not be `and` or `drop`).
    static let supportedTypes = [
        "always_sample", "latency", "status_code", "string_attribute", "numeric_attribute", "boolean_attribute",
        "probabilistic", "rate_limiting", "span_count", "trace_state", "and", "drop",
    ]
    /// otelcol policy types otelsink rejects with a clear message.
    static let unsupportedTypes = [
        "ottl_condition", "composite", "bytes_limiting", "trace_flags", "not", "skip", "rare_spans", "budget_limiting", "stratified_probabilistic",
    ]

    /// Reads one policy; `nil` (with problems reported) when it is unusable.
    init?(reading r: ConfigReader, nested: Bool) {
        let name = r.string("name", default: "")
        let type = r.string("type", default: "")
        if name.isEmpty { r.report("name", "policy name is required") }
        // Blocks for other policy types are accepted and ignored, as otelcol ignores them.
        for other in Self.supportedTypes + Self.unsupportedTypes where other != type && r.contains(other) {
            _ = r.raw(other)
        }
        let allowed = nested ? Self.supportedTypes.filter { $0 != "and" && $0 != "drop" } : Self.supportedTypes
        guard !type.isEmpty else {
            r.report("type", "policy type is required (one of \(allowed.joined(separator: ", ")))")
            return nil
        }
        if Self.unsupportedTypes.contains(type) {
            _ = r.raw(type)
            r.report("type", "policy type \"\(type)\" is not supported by otelsink (supported: \(allowed.joined(separator: ", ")))")
            return nil
        }
        guard allowed.contains(type) else {
            if nested && (type == "and" || type == "drop") {
                r.report("type", "\"\(type)\" cannot be used as a sub-policy (supported: \(allowed.joined(separator: ", ")))")
            } else {
                r.report("type", "unknown policy type \"\(type)\" (supported: \(allowed.joined(separator: ", ")))")
            }
            _ = r.raw(type)
            return nil
        }
        guard let rule = Self.readRule(type: type, r.child(type), nested: nested), !name.isEmpty else { return nil }
        self.name = name
        self.rule = rule
    }

    private static func readRule(type: String, _ c: ConfigReader, nested: Bool) -> Rule? {
        func requiredKey() -> String? {
            let key = c.string("key", default: "")
            if key.isEmpty {
                c.report("key", "is required")
                return nil
            }
            return key
        }
        switch type {
        case "always_sample":
            return .alwaysSample
        case "latency":
            let lower = c.int("threshold_ms", default: 0, range: 0...Int.max)
            let upper = c.int("upper_threshold_ms", default: 0, range: 0...Int.max)
            if upper != 0 && upper < lower {
                c.report("upper_threshold_ms", "must be 0 (no upper bound) or at least threshold_ms (\(lower)), got \(upper)")
                return nil
            }
            return .latency(thresholdMs: Int64(lower), upperThresholdMs: Int64(upper))
        case "status_code":
            let names = c.stringList("status_codes")
            if names.isEmpty {
                c.report("status_codes", "expected at least one status code to filter on (OK, ERROR, UNSET)")
                return nil
            }
            var codes: [SpanStatus.StatusCode] = []
            for (i, n) in names.enumerated() {
                switch n {
                case "OK": codes.append(.ok)
                case "ERROR": codes.append(.error)
                case "UNSET": codes.append(.unset)
                default:
                    c.problems.add(path: c.pathString("status_codes") + "::\(i)", "unknown status code \"\(n)\", supported: OK, ERROR, UNSET")
                    return nil
                }
            }
            return .statusCode(codes)
        case "string_attribute":
            let key = requiredKey()
            let values = c.stringList("values")
            let regex = c.bool("enabled_regex_matching", default: false)
            let cacheSize = c.int("cache_max_size", default: 128, range: 0...1_000_000)
            let invert = c.bool("invert_match", default: false)
            var ok = key != nil
            if regex {
                for (i, pattern) in values.enumerated() {
                    do {
                        _ = try Regex(pattern)
                    } catch {
                        c.problems.add(path: c.pathString("values") + "::\(i)", "regular expression \"\(pattern)\" does not compile: \(error)")
                        ok = false
                    }
                }
            }
            guard ok, let key else { return nil }
            return .stringAttribute(key: key, values: values, regex: regex, cacheMaxSize: cacheSize == 0 ? 128 : cacheSize, invertMatch: invert)
        case "numeric_attribute":
            let key = requiredKey()
            let minSet = c.contains("min_value")
            let maxSet = c.contains("max_value")
            let minValue = c.int("min_value", default: 0)
            let maxValue = c.int("max_value", default: 0)
            let invert = c.bool("invert_match", default: false)
            // As otelcol: 0 (or unset) means no bound on that side.
            let lower = minValue == 0 ? Int64.min : Int64(minValue)
            let upper = maxValue == 0 ? Int64.max : Int64(maxValue)
            if !minSet && !maxSet {
                c.report(nil, "set min_value, max_value or both")
                return nil
            }
            if lower > upper {
                c.report("max_value", "must be at least min_value (\(minValue)), got \(maxValue)")
                return nil
            }
            guard let key else { return nil }
            return .numericAttribute(key: key, minValue: lower, maxValue: upper, invertMatch: invert)
        case "boolean_attribute":
            let key = requiredKey()
            let value = c.bool("value", default: false)
            let invert = c.bool("invert_match", default: false)
            guard let key else { return nil }
            return .booleanAttribute(key: key, value: value, invertMatch: invert)
        case "probabilistic":
            let salt = c.string("hash_salt", default: "")
            let percentage = c.double("sampling_percentage", default: 0, range: 0...Double.greatestFiniteMagnitude)
            return .probabilistic(hashSalt: salt.isEmpty ? "default-hash-seed" : salt, samplingPercentage: percentage)
        case "rate_limiting":
            let rate = c.int("spans_per_second", default: 0, range: 0...Int(Int32.max))
            return .rateLimiting(spansPerSecond: Int64(rate))
        case "span_count":
            let minSpans = c.int("min_spans", default: 0, range: 0...Int(Int32.max))
            let maxSpans = c.int("max_spans", default: 0, range: 0...Int(Int32.max))
            if maxSpans != 0 && maxSpans < minSpans {
                c.report("max_spans", "must be 0 (no upper bound) or at least min_spans (\(minSpans)), got \(maxSpans)")
                return nil
            }
            return .spanCount(minSpans: minSpans, maxSpans: maxSpans)
        case "trace_state":
            let key = requiredKey()
            let values = c.stringList("values")
            if values.isEmpty {
                c.report("values", "expected at least one value")
                return nil
            }
            guard let key else { return nil }
            return .traceState(key: key, values: values)
        case "and", "drop":
            let listKey = type == "and" ? "and_sub_policy" : "drop_sub_policy"
            let items = c.mappingList(listKey)
            if items.isEmpty {
                c.report(listKey, "expected at least one sub-policy")
                return nil
            }
            var subs: [TailSamplingPolicy] = []
            var ok = true
            for item in items {
                if let sub = TailSamplingPolicy(reading: item, nested: true) { subs.append(sub) } else { ok = false }
            }
            guard ok else { return nil }
            return type == "and" ? .and(subs) : .drop(subs)
        default:
            return nil
        }
    }
}
