import CollectorCore
import Foundation
import Logging
import OTLP

/// The per-span decision of `probabilistic_sampler`, precomputed from its config. A pure function of the span's
/// trace ID, `tracestate` and `sampling.priority` attribute, identical to otelcol-contrib's
/// `commonShouldSampleLogic` for traces.
struct ProbabilisticSpanSampler: Sendable {
    enum Method: Sendable {
        /// 0 % (or a percentage that rounds to no hash bucket): nothing is sampled unless its priority forces it.
        case never
        /// The legacy FNV hash; `threshold` is `(0x4000 - accepted buckets) << 42`.
        case hashSeed(seed: UInt32, threshold: SamplingThreshold, tValue: String)
        case proportional(ratio: Double, precision: Int)
        case equalizing(threshold: SamplingThreshold)
    }

    let method: Method
    let failClosed: Bool

    init(config: ProbabilisticSamplerConfig) {
        failClosed = config.failClosed
        let percent = min(config.samplingPercentage, 100)
        guard percent > 0 else {
            method = .never
            return
        }
        let ratio = max(Double(percent) / 100, ConsistentSampling.minSamplingProbability)
        switch config.mode {
        case .hashSeed:
            let accepted = ConsistentSampling.scaledSamplingRate(percent: percent)
            if accepted == 0 {
                method = .never
            } else {
                let threshold = SamplingThreshold(rejection: UInt64(ConsistentSampling.hashBuckets - accepted) << 42)
                method = .hashSeed(seed: config.hashSeed, threshold: threshold, tValue: threshold.tValue)
            }
        case .proportional:
            method = .proportional(ratio: ratio, precision: config.samplingPrecision)
        case .equalizing:
            method = .equalizing(threshold: ConsistentSampling.threshold(probability: ratio, precision: config.samplingPrecision) ?? .alwaysSample)
        }
    }

    /// Decides whether `span` is kept; a kept span's `tracestate` is updated with `ot=th` (and `ot=rv` in
    /// `hash_seed` mode) as otelcol writes it.
    func sample(_ span: inout Span) -> Bool {
        let priority = SamplingPriority(span.attributes)
        var randomness: UInt64 = ConsistentSampling.maxAdjustedCount - 1
        var state: SamplingTraceState?
        var failed = false
        let rawState = span.traceState

        switch method {
        case .never:
            if !rawState.isEmpty {
                if let parsed = try? SamplingTraceState(parsing: rawState) { state = parsed } else { failed = true }
            } else {
                state = SamplingTraceState()
            }

        case .hashSeed(let seed, let threshold, let tValue):
            // Raw bytes: iterating `Data` byte by byte is several times slower.
            let (hasTraceID, hash) = span.traceID.withUnsafeBytes { raw in
                (raw.contains { $0 != 0 }, ConsistentSampling.fnv1a32(seed: seed, raw))
            }
            if hasTraceID {
                randomness = ConsistentSampling.hashRandomness(hash)
            }
            if rawState.isEmpty {
                // The common case: no tracestate. Decide without building a parsed state.
                guard hasTraceID else {
                    failed = true
                    state = SamplingTraceState()
                    state?.setRandomness(randomness)
                    break
                }
                let final = priority.override(threshold)
                guard final.shouldSample(randomness) else { return false }
                span.traceState = Self.otelOnlyTraceState(randomness: randomness, tValue: final == threshold ? tValue : final.tValue)
                return true
            }
            if var parsed = try? SamplingTraceState(parsing: rawState) {
                if parsed.randomness != nil || parsed.threshold != nil {
                    // otelcol leaves spans that already carry consistent-sampling data alone and reports an error.
                    failed = true
                } else {
                    parsed.setRandomness(randomness)
                    state = parsed
                    if !hasTraceID { failed = true }
                }
            } else {
                failed = true
            }

        case .proportional, .equalizing:
            var missing = true
            if let parsed = try? SamplingTraceState(parsing: rawState) {
                state = parsed
                if let rv = parsed.randomness {
                    randomness = rv
                    missing = false
                } else if let r = ConsistentSampling.traceIDRandomness(span.traceID) {
                    randomness = r
                    missing = false
                }
                if missing {
                    failed = true
                } else if let incoming = parsed.threshold, !incoming.shouldSample(randomness) {
                    // An arriving threshold that this randomness contradicts is cleared (OTel spec), then an error.
                    state?.clearThreshold()
                    failed = true
                }
            } else {
                failed = true
            }
        }

        var threshold: SamplingThreshold
        if failed {
            threshold = failClosed ? .neverSample : .alwaysSample
        } else {
            threshold = decide(state)
        }
        threshold = priority.override(threshold)
        let sampled = threshold.shouldSample(randomness)
        if sampled, var state {
            state.updateThreshold(threshold)
            let text = state.serialized()
            if text != rawState { span.traceState = text }
        }
        return sampled
    }

    private func decide(_ state: SamplingTraceState?) -> SamplingThreshold {
        switch method {
        case .never:
            return .neverSample
        case .hashSeed(_, let threshold, _):
            return threshold
        case .proportional(let ratio, let precision):
            let incoming = state?.threshold?.probability ?? 1
            return ConsistentSampling.threshold(probability: incoming * ratio, precision: precision) ?? .neverSample
        case .equalizing(let threshold):
            if let incoming = state?.threshold, threshold.rejection < incoming.rejection { return incoming }
            return threshold
        }
    }

    /// `ot=rv:<14 hex>;th:<tValue>` built in one allocation.
    private static func otelOnlyTraceState(randomness: UInt64, tValue: String) -> String {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        let tBytes = tValue.utf8
        let count = 6 + 14 + 4 + tBytes.count
        return String(unsafeUninitializedCapacity: count) { buffer in
            var i = 0
            for c in "ot=rv:".utf8 {
                buffer[i] = c
                i += 1
            }
            var v = randomness
            for j in stride(from: 13, through: 0, by: -1) {
                buffer[i + j] = hex[Int(v & 0xF)]
                v >>= 4
            }
            i += 14
            for c in ";th:".utf8 {
                buffer[i] = c
                i += 1
            }
            for c in tBytes {
                buffer[i] = c
                i += 1
            }
            return i
        }
    }
}

/// The OpenTracing `sampling.priority` span attribute: 0 forces "not sampled", > 0 forces "sampled" (int, double,
/// or a string holding a number), as otelcol reads it.
struct SamplingPriority {
    enum Value { case deferDecision, mustSample, doNotSample }
    let value: Value

    init(_ attributes: [KeyValue]) {
        var v = Value.deferDecision
        // Compare lengths first: most keys differ in length, and a full String comparison is the slow part.
        let wanted = "sampling.priority"
        let wantedLength = wanted.utf8.count
        for i in attributes.indices where attributes[i].key.utf8.count == wantedLength && attributes[i].key == wanted {
            let number: Double?
            switch attributes[i].value.value {
            case .intValue(let i)?: number = Double(i)
            case .doubleValue(let d)?: number = d
            case .stringValue(let s)?: number = Double(s)
            default: number = nil
            }
            if let number {
                if number == 0 { v = .doNotSample } else if number > 0 { v = .mustSample }
            }
            break
        }
        value = v
    }

    @inline(__always)
    func override(_ threshold: SamplingThreshold) -> SamplingThreshold {
        switch value {
        case .deferDecision: threshold
        case .mustSample: .alwaysSample
        case .doNotSample: .neverSample
        }
    }
}

/// The `probabilistic_sampler` processor (traces): keeps each span whose trace ID falls in the sampled fraction,
/// so every span of a sampled trace is kept by every collector with the same seed and percentage. Decisions match
/// otelcol-contrib's exactly (see ``ProbabilisticSpanSampler``). Spans not kept are dropped deliberately; empty
/// scopes and resources are removed and a request left empty is not forwarded.
public struct ProbabilisticSampler: StatelessProcessor, TracesConsumer {
    public let config: ProbabilisticSamplerConfig
    let sampler: ProbabilisticSpanSampler
    let next: any TracesConsumer

    public init(config: ProbabilisticSamplerConfig, next: any TracesConsumer) {
        self.config = config
        self.sampler = ProbabilisticSpanSampler(config: config)
        self.next = next
    }

    public var consumers: SignalConsumers { SignalConsumers(traces: self) }

    /// It rewrites `tracestate` of kept spans.
    public var mutatesData: Bool { true }

    public func consume(_ traces: consuming ExportTraceRequest) async throws {
        guard let kept = sample(consume traces) else { return }
        try await next.consume(consume kept)
    }

    /// The request with only the sampled spans, or `nil` when none is left. Lists are filtered in place, so a
    /// request the caller handed over is not copied.
    func sample(_ traces: consuming ExportTraceRequest) -> ExportTraceRequest? {
        var request = consume traces
        request.resourceSpans.filterInPlace { rs in
            rs.scopeSpans.filterInPlace { ss in
                ss.spans.filterInPlace { sampler.sample(&$0) }
                return !ss.spans.isEmpty
            }
            return !rs.scopeSpans.isEmpty
        }
        return request.resourceSpans.isEmpty ? nil : request
    }
}

/// Registers `probabilistic_sampler`.
public struct ProbabilisticSamplerFactory: ProcessorFactory {
    public init() {}
    public var type: String { "probabilistic_sampler" }
    public var kind: ComponentKind { .processor }
    public var signals: Set<Signal> { [.traces] }
    public var summary: String { "keeps a percentage of traces by trace ID hash, identically to otelcol-contrib (traces)" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { ProbabilisticSamplerConfig(reading: reader) }

    public func makeProcessor(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Processor {
        let config = try config.as(ProbabilisticSamplerConfig.self, for: type)
        guard let traces = next.traces else { throw PipelineError.permanent("probabilistic_sampler: no traces consumer downstream") }
        return ProbabilisticSampler(config: config, next: traces)
    }
}
