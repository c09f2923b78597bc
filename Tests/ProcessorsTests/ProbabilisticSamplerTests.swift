import CollectorCore
import CollectorTesting
import Foundation
import OTLP
import Testing

@testable import Processors

/// Test vectors for the `hash_seed` algorithm. They were produced by an independent Python re-implementation of
/// otelcol-contrib's probabilisticsamplerprocessor (FNV-1a 32 over the seed's 4 little-endian bytes then the trace
/// ID; bucket = hash & 0x3fff; accepted buckets = uint32(float32(pct) * float32(16384/100)); randomness and `th`
/// as in `randomnessFromBytes` / `pkg/sampling`), run once; its outputs are pasted here.
struct ProbabilisticHashVector: Sendable, CustomTestStringConvertible {
    var seed: UInt32
    var traceID: String
    var bucket: UInt32
    var rv: String
    var testDescription: String { "seed \(seed) trace \(traceID)" }
}

let probabilisticHashVectors: [ProbabilisticHashVector] = [
    ProbabilisticHashVector(seed: 0, traceID: "0102030405060708090a0b0c0d0e0f10", bucket: 6693, rv: "976b7c4f241a25"),
    ProbabilisticHashVector(seed: 0, traceID: "4bf92f3577b34da6a3ce929d0e0e4736", bucket: 141, rv: "fdc8d0b520408d"),
    ProbabilisticHashVector(seed: 0, traceID: "00000000000000000000000000000001", bucket: 8898, rv: "74f6e343fee2c2"),
    ProbabilisticHashVector(seed: 0, traceID: "ffffffffffffffffffffffffffffffff", bucket: 5445, rv: "aae8a4411a1545"),
    ProbabilisticHashVector(seed: 0, traceID: "5b8efff798038103d269b633813fc60c", bucket: 5855, rv: "a48091535dd6df"),
    ProbabilisticHashVector(seed: 0, traceID: "a1b2c3d4e5f60718293a4b5c6d7e8f90", bucket: 2069, rv: "dfab4dcc47c815"),
    ProbabilisticHashVector(seed: 1, traceID: "0102030405060708090a0b0c0d0e0f10", bucket: 2004, rv: "e0ac19cb7347d4"),
    ProbabilisticHashVector(seed: 1, traceID: "4bf92f3577b34da6a3ce929d0e0e4736", bucket: 9912, rv: "651d418f77e6b8"),
    ProbabilisticHashVector(seed: 1, traceID: "00000000000000000000000000000001", bucket: 151, rv: "fda022cdb14097"),
    ProbabilisticHashVector(seed: 1, traceID: "ffffffffffffffffffffffffffffffff", bucket: 2036, rv: "e02e45bd4b07f4"),
    ProbabilisticHashVector(seed: 1, traceID: "5b8efff798038103d269b633813fc60c", bucket: 6750, rv: "96854d4b461a5e"),
    ProbabilisticHashVector(seed: 1, traceID: "a1b2c3d4e5f60718293a4b5c6d7e8f90", bucket: 3460, rv: "c9edaca1328d84"),
    ProbabilisticHashVector(seed: 22, traceID: "0102030405060708090a0b0c0d0e0f10", bucket: 13379, rv: "2ef3615663b443"),
    ProbabilisticHashVector(seed: 22, traceID: "4bf92f3577b34da6a3ce929d0e0e4736", bucket: 12395, rv: "3e51581610306b"),
    ProbabilisticHashVector(seed: 22, traceID: "00000000000000000000000000000001", bucket: 11568, rv: "4b3de48e3ded30"),
    ProbabilisticHashVector(seed: 22, traceID: "ffffffffffffffffffffffffffffffff", bucket: 9651, rv: "69300ed3b425b3"),
    ProbabilisticHashVector(seed: 22, traceID: "5b8efff798038103d269b633813fc60c", bucket: 3273, rv: "ccda8a3ba64cc9"),
    ProbabilisticHashVector(seed: 22, traceID: "a1b2c3d4e5f60718293a4b5c6d7e8f90", bucket: 4787, rv: "b5339d037912b3"),
    ProbabilisticHashVector(seed: 3_735_928_559, traceID: "0102030405060708090a0b0c0d0e0f10", bucket: 427, rv: "f951af46cb41ab"),
    ProbabilisticHashVector(seed: 3_735_928_559, traceID: "4bf92f3577b34da6a3ce929d0e0e4736", bucket: 4307, rv: "bcb17684b650d3"),
    ProbabilisticHashVector(seed: 3_735_928_559, traceID: "00000000000000000000000000000001", bucket: 9976, rv: "641e666fbda6f8"),
    ProbabilisticHashVector(seed: 3_735_928_559, traceID: "ffffffffffffffffffffffffffffffff", bucket: 11643, rv: "4a12a8ce192d7b"),
    ProbabilisticHashVector(seed: 3_735_928_559, traceID: "5b8efff798038103d269b633813fc60c", bucket: 7681, rv: "87f999d16dde01"),
    ProbabilisticHashVector(seed: 3_735_928_559, traceID: "a1b2c3d4e5f60718293a4b5c6d7e8f90", bucket: 2171, rv: "de115cf82bc87b"),
    ProbabilisticHashVector(seed: 4_294_967_295, traceID: "0102030405060708090a0b0c0d0e0f10", bucket: 14753, rv: "1978845e1ff9a1"),
    ProbabilisticHashVector(seed: 4_294_967_295, traceID: "4bf92f3577b34da6a3ce929d0e0e4736", bucket: 11009, rv: "53f8518d666b01"),
    ProbabilisticHashVector(seed: 4_294_967_295, traceID: "00000000000000000000000000000001", bucket: 7262, rv: "8e858d907cdc5e"),
    ProbabilisticHashVector(seed: 4_294_967_295, traceID: "ffffffffffffffffffffffffffffffff", bucket: 10977, rv: "5479488836aae1"),
    ProbabilisticHashVector(seed: 4_294_967_295, traceID: "5b8efff798038103d269b633813fc60c", bucket: 12435, rv: "3db248aa0e3093"),
    ProbabilisticHashVector(seed: 4_294_967_295, traceID: "a1b2c3d4e5f60718293a4b5c6d7e8f90", bucket: 1905, rv: "e23b47d0c04771"),
]

/// (percentage, accepted buckets, `th` written in hash_seed mode), from the same Python run.
let probabilisticHashPercentages: [(percent: Double, accepted: UInt32, tValue: String)] = [
    (0.5, 81, "febc"),
    (10, 1638, "e668"),
    (15.3, 2506, "d8d8"),
    (25, 4096, "c"),
    (33.3, 5455, "aac4"),
    (50, 8192, "8"),
    (99.99, 16382, "0008"),
]

/// (percentage, `th` for proportional/equalizing mode at precision 4), from the same Python run
/// (`ProbabilityToThresholdWithPrecision(float64(float32(pct))/100, 4)`).
let probabilisticConsistentPercentages: [(percent: Double, tValue: String)] = [
    (0.5, "feb8"),
    (10, "e666"),
    (15.3, "d8d5"),
    (25, "c"),
    (33.3, "aac1"),
    (50, "8"),
    (99.99, "00068e1"),
]

func samplingHexData(_ hex: String) -> Data {
    var d = Data()
    var i = hex.startIndex
    while i < hex.endIndex {
        let j = hex.index(i, offsetBy: 2)
        d.append(UInt8(hex[i..<j], radix: 16) ?? 0)
        i = j
    }
    return d
}

func samplingOneSpanRequest(traceID: String, traceState: String = "", attributes: [KeyValue] = []) -> ExportTraceRequest {
    var span = Span()
    span.traceID = samplingHexData(traceID)
    span.spanID = samplingHexData("0102030405060708")
    span.name = "op"
    span.traceState = traceState
    span.attributes = attributes
    var ss = ScopeSpans()
    ss.spans = [span]
    var rs = ResourceSpans()
    rs.scopeSpans = [ss]
    var request = ExportTraceRequest()
    request.resourceSpans = [rs]
    return request
}

func samplingAttribute(_ key: String, _ value: AnyValue.OneOf_Value) -> KeyValue {
    var kv = KeyValue()
    kv.key = key
    kv.value.value = value
    return kv
}

/// Runs one span through a sampler built from `config`; the kept span, or nil when dropped.
func probabilisticSampleOne(_ config: ProbabilisticSamplerConfig, traceID: String, traceState: String = "", attributes: [KeyValue] = []) -> Span? {
    let sampler = ProbabilisticSampler(config: config, next: TracesSink())
    return sampler.sample(samplingOneSpanRequest(traceID: traceID, traceState: traceState, attributes: attributes))?
        .resourceSpans.first?.scopeSpans.first?.spans.first
}

func readProbabilisticConfig(_ yaml: String) -> (ProbabilisticSamplerConfig, [String]) {
    let problems = ConfigProblems()
    let node = ConfigLoader.parse(yaml: yaml, environment: [:]).node
    let reader = ConfigReader(node, path: ["processors", "probabilistic_sampler"], problems: problems)
    let config = ProbabilisticSamplerConfig(reading: reader)
    reader.finish()
    return (config, problems.all.map(\.description))
}

@Suite struct ProbabilisticSamplerTests {
    @Test(arguments: probabilisticHashVectors)
    func fnvBucketAndRandomnessMatchOtelcol(_ v: ProbabilisticHashVector) {
        let hash = ConsistentSampling.fnv1a32(seed: v.seed, samplingHexData(v.traceID))
        #expect(hash & 0x3FFF == v.bucket)
        #expect(SamplingHex.fourteen(ConsistentSampling.hashRandomness(hash)) == v.rv)
    }

    @Test func percentageScalesToTheSameBucketCountAsOtelcol() {
        for p in probabilisticHashPercentages {
            #expect(ConsistentSampling.scaledSamplingRate(percent: Float(p.percent)) == p.accepted, "\(p.percent)")
        }
        #expect(ConsistentSampling.scaledSamplingRate(percent: 150) == 0x4000)
        #expect(ConsistentSampling.scaledSamplingRate(percent: 0) == 0)
    }

    @Test(arguments: probabilisticHashVectors)
    func hashSeedDecisionsAndTraceStateMatchOtelcol(_ v: ProbabilisticHashVector) {
        for p in probabilisticHashPercentages {
            let config = ProbabilisticSamplerConfig(samplingPercentage: Float(p.percent), hashSeed: v.seed)
            let kept = probabilisticSampleOne(config, traceID: v.traceID)
            let expectSampled = v.bucket < p.accepted
            #expect((kept != nil) == expectSampled, "\(p.percent)%")
            if let kept {
                #expect(kept.traceState == "ot=rv:\(v.rv);th:\(p.tValue)")
            }
        }
    }

    @Test func zeroPercentDropsAndHundredKeepsEverything() {
        for v in probabilisticHashVectors {
            #expect(probabilisticSampleOne(ProbabilisticSamplerConfig(samplingPercentage: 0, hashSeed: v.seed), traceID: v.traceID) == nil)
            let all = probabilisticSampleOne(ProbabilisticSamplerConfig(samplingPercentage: 100, hashSeed: v.seed), traceID: v.traceID)
            #expect(all?.traceState == "ot=rv:\(v.rv);th:0")
            let over = probabilisticSampleOne(ProbabilisticSamplerConfig(samplingPercentage: 250, hashSeed: v.seed), traceID: v.traceID)
            #expect(over != nil)
        }
    }

    @Test func samplingPriorityOverridesTheHash() {
        // seed 22, trace 0102…: bucket 13379, not sampled at 25 %.
        let config = ProbabilisticSamplerConfig(samplingPercentage: 25, hashSeed: 22)
        let trace = "0102030405060708090a0b0c0d0e0f10"
        #expect(probabilisticSampleOne(config, traceID: trace) == nil)
        let forced = probabilisticSampleOne(config, traceID: trace, attributes: [samplingAttribute("sampling.priority", .intValue(1))])
        #expect(forced?.traceState == "ot=rv:2ef3615663b443;th:0")
        #expect(probabilisticSampleOne(config, traceID: trace, attributes: [samplingAttribute("sampling.priority", .doubleValue(0.5))]) != nil)
        #expect(probabilisticSampleOne(config, traceID: trace, attributes: [samplingAttribute("sampling.priority", .stringValue("2"))]) != nil)
        // Negative or unparsable priorities defer to the hash.
        #expect(probabilisticSampleOne(config, traceID: trace, attributes: [samplingAttribute("sampling.priority", .intValue(-1))]) == nil)
        #expect(probabilisticSampleOne(config, traceID: trace, attributes: [samplingAttribute("sampling.priority", .stringValue("high"))]) == nil)
        // seed 0, trace 4bf9…: bucket 141, sampled at 25 % unless priority 0.
        let sampledTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
        let seed0 = ProbabilisticSamplerConfig(samplingPercentage: 25)
        #expect(probabilisticSampleOne(seed0, traceID: sampledTrace) != nil)
        #expect(probabilisticSampleOne(seed0, traceID: sampledTrace, attributes: [samplingAttribute("sampling.priority", .intValue(0))]) == nil)
        #expect(probabilisticSampleOne(seed0, traceID: sampledTrace, attributes: [samplingAttribute("sampling.priority", .stringValue("0"))]) == nil)
        // At 0 % a positive priority still samples, writing th:0 only.
        let none = ProbabilisticSamplerConfig(samplingPercentage: 0)
        #expect(
            probabilisticSampleOne(none, traceID: sampledTrace, attributes: [samplingAttribute("sampling.priority", .intValue(5))])?.traceState
                == "ot=th:0")
    }

    @Test func otherTraceStateMembersAreKeptAfterTheOTelMember() {
        let kept = probabilisticSampleOne(
            ProbabilisticSamplerConfig(samplingPercentage: 25), traceID: "4bf92f3577b34da6a3ce929d0e0e4736",
            traceState: "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7")
        #expect(kept?.traceState == "ot=rv:fdc8d0b520408d;th:c,congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
    }

    @Test func hashSeedModeFailsClosedOnExistingConsistentSamplingDataOrBadTraceState() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736"  // sampled at 25 % with seed 0
        let closed = ProbabilisticSamplerConfig(samplingPercentage: 25)
        #expect(probabilisticSampleOne(closed, traceID: trace, traceState: "ot=th:8") == nil)
        #expect(probabilisticSampleOne(closed, traceID: trace, traceState: "ot=rv:00112233445566") == nil)
        #expect(probabilisticSampleOne(closed, traceID: trace, traceState: "not a tracestate") == nil)
        #expect(probabilisticSampleOne(closed, traceID: "00000000000000000000000000000000") == nil)
        var open = closed
        open.failClosed = false
        // Fail open: kept, and its tracestate is left as it arrived.
        #expect(probabilisticSampleOne(open, traceID: trace, traceState: "ot=th:8")?.traceState == "ot=th:8")
        #expect(probabilisticSampleOne(open, traceID: trace, traceState: "not a tracestate")?.traceState == "not a tracestate")
    }

    @Test func consistentModeThresholdsMatchOtelcol() {
        for p in probabilisticConsistentPercentages {
            let t = ConsistentSampling.threshold(probability: Double(Float(p.percent)) / 100, precision: 4)
            #expect(t?.tValue == p.tValue, "\(p.percent)")
        }
        #expect(ConsistentSampling.threshold(probability: 1, precision: 4) == .alwaysSample)
        #expect(ConsistentSampling.threshold(probability: 0, precision: 4) == nil)
    }

    @Test func proportionalModeUsesTraceIDRandomnessAndMultipliesIncomingProbability() {
        let config = ProbabilisticSamplerConfig(samplingPercentage: 25, mode: .proportional)
        // Randomness = last 7 bytes: ce929d0e0e4736 ≥ c0000000000000 → sampled at 25 %.
        #expect(probabilisticSampleOne(config, traceID: "4bf92f3577b34da6a3ce929d0e0e4736")?.traceState == "ot=th:c")
        // 0a0b0c0d0e0f10 < c0… → dropped.
        #expect(probabilisticSampleOne(config, traceID: "0102030405060708090a0b0c0d0e0f10") == nil)
        // Incoming 50 % (th:8) × 25 % = 12.5 % → th:e; randomness ffff… passes.
        #expect(probabilisticSampleOne(config, traceID: "ffffffffffffffffffffffffffffffff", traceState: "ot=th:8")?.traceState == "ot=th:e")
        // Explicit rv overrides the trace ID: rv 00… fails 25 %.
        #expect(probabilisticSampleOne(config, traceID: "ffffffffffffffffffffffffffffffff", traceState: "ot=rv:00000000000001") == nil)
        // An incoming threshold the randomness contradicts fails closed …
        #expect(probabilisticSampleOne(config, traceID: "0102030405060708090a0b0c0d0e0f10", traceState: "ot=th:8") == nil)
        // … and fail open keeps the span with the threshold cleared and th:0 written.
        var open = config
        open.failClosed = false
        #expect(
            probabilisticSampleOne(open, traceID: "0102030405060708090a0b0c0d0e0f10", traceState: "ot=th:8;x:y,a=b")?.traceState == "ot=th:0;x:y,a=b")
    }

    @Test func equalizingModeNeverLowersAnIncomingThreshold() {
        let config = ProbabilisticSamplerConfig(samplingPercentage: 50, mode: .equalizing)
        #expect(probabilisticSampleOne(config, traceID: "ffffffffffffffffffffffffffffffff")?.traceState == "ot=th:8")
        // Incoming 25 % (th:c) is already lower than 50 %: kept as th:c.
        #expect(probabilisticSampleOne(config, traceID: "ffffffffffffffffffffffffffffffff", traceState: "ot=th:c")?.traceState == "ot=th:c")
        // Incoming 100 % (th:0) is raised to th:8.
        #expect(probabilisticSampleOne(config, traceID: "ffffffffffffffffffffffffffffffff", traceState: "ot=th:0")?.traceState == "ot=th:8")
        #expect(probabilisticSampleOne(config, traceID: "0102030405060708090a0b0c0d0e0f10") == nil)
    }

    @Test func emptyRequestsAreNotForwardedAndEmptyContainersAreRemoved() async throws {
        let sink = TracesSink()
        let sampler = ProbabilisticSampler(config: ProbabilisticSamplerConfig(samplingPercentage: 25), next: sink)
        try await sampler.consume(samplingOneSpanRequest(traceID: "0102030405060708090a0b0c0d0e0f10"))  // bucket 6693: dropped
        #expect(sink.receivedTraces.isEmpty)
        var request = samplingOneSpanRequest(traceID: "4bf92f3577b34da6a3ce929d0e0e4736")  // kept
        var droppedScope = ScopeSpans()
        var dropped = Span()
        dropped.traceID = samplingHexData("0102030405060708090a0b0c0d0e0f10")
        droppedScope.spans = [dropped]
        request.resourceSpans[0].scopeSpans.append(droppedScope)
        var droppedResource = ResourceSpans()
        droppedResource.scopeSpans = [droppedScope]
        request.resourceSpans.append(droppedResource)
        try await sampler.consume(request)
        let delivered = sink.receivedTraces
        #expect(delivered.count == 1)
        #expect(delivered.first?.resourceSpans.count == 1)
        #expect(delivered.first?.resourceSpans.first?.scopeSpans.count == 1)
        #expect(delivered.first?.spanCount == 1)
    }

    @Test func configDefaultsAreOtelcols() {
        let (config, problems) = readProbabilisticConfig("{}")
        #expect(problems.isEmpty)
        #expect(config == ProbabilisticSamplerConfig(samplingPercentage: 0, hashSeed: 0, mode: .hashSeed, failClosed: true, samplingPrecision: 4))
        let (set, _) = readProbabilisticConfig(
            "sampling_percentage: 15.3\nhash_seed: 22\nmode: proportional\nfail_closed: false\nsampling_precision: 6")
        #expect(
            set == ProbabilisticSamplerConfig(samplingPercentage: 15.3, hashSeed: 22, mode: .proportional, failClosed: false, samplingPrecision: 6))
    }

    @Test(arguments: [
        ("sampling_percentage: -1", "processors::probabilistic_sampler::sampling_percentage: must not be negative"),
        ("sampling_percentage: 1e-20", "processors::probabilistic_sampler::sampling_percentage: is too small"),
        ("sampling_percentage: 1e40", "processors::probabilistic_sampler::sampling_percentage: is not a valid percentage"),
        ("sampling_percentage: lots", "processors::probabilistic_sampler::sampling_percentage: expected a number"),
        ("hash_seed: -3", "processors::probabilistic_sampler::hash_seed: must be between 0 and 4294967295"),
        ("hash_seed: 4294967296", "processors::probabilistic_sampler::hash_seed: must be between 0 and 4294967295"),
        ("mode: downsample", "processors::probabilistic_sampler::mode: expected one of hash_seed, proportional, equalizing"),
        ("sampling_precision: 0", "processors::probabilistic_sampler::sampling_precision: must be between 1 and 14"),
        ("sampling_precision: 15", "processors::probabilistic_sampler::sampling_precision: must be between 1 and 14"),
        ("fail_closed: maybe", "processors::probabilistic_sampler::fail_closed: expected true or false"),
        ("from_attribute: id", "processors::probabilistic_sampler::from_attribute: is a logs-only setting"),
        ("sampling_percent: 10", "processors::probabilistic_sampler::sampling_percent: unknown key"),
    ])
    func badConfigIsReportedWithItsPath(yaml: String, expected: String) {
        let (_, problems) = readProbabilisticConfig(yaml)
        #expect(problems.contains { $0.hasPrefix(expected) }, "\(problems)")
    }
}
