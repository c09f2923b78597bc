import CollectorCore
import CollectorTesting
import Logging
import OTLP
import Testing

@testable import PrometheusExporter

/// The wire-form path (``OTLPMetricsTranslator/translate(_:)-(EncodedMetrics)``, what the OTLP receiver feeds the
/// exporter) must translate exactly as the decoded path the other tests pin, cache cold or warm.
@Suite struct EncodedMetricsTranslationTests {
    /// Translator settings that change labels and names: defaults; namespace and const labels; resource to
    /// telemetry; no suffixes and no scope info.
    static func configure(_ t: inout OTLPMetricsTranslator, _ n: Int) {
        switch n {
        case 1:
            t.namespace = "ns"
            t.constLabels = [("a", "const"), ("zone", "z1")]
        case 2:
            t.resourceToTelemetry = true
        case 3:
            t.addMetricSuffixes = false
            t.withoutScopeInfo = true
        default:
            break
        }
    }

    @Test(arguments: 0..<4)
    func wireFormTranslatesLikeTheDecodedRequest(configuration: Int) throws {
        var translator = OTLPMetricsTranslator()
        Self.configure(&translator, configuration)
        var g = SplitMix64(seed: UInt64(100 + configuration))
        var points = 0
        for _ in 0..<400 {
            let request = RandomMetricsRequests.request(&g)
            let encoded = try #require(EncodedMetrics(indexing: try request.serializedBytes()))
            let expected = translator.translate(request)
            points += expected.updates.count
            // Twice: the first fills the label-set cache, the second reads from it.
            #expect(try translator.translate(encoded) == expected)
            #expect(try translator.translate(encoded) == expected)
        }
        #expect(points > 1000)
        #expect(translator.labelSets.count > 0)
    }

    /// The same through the exporter: a stream of requests consumed in wire form and decoded renders the same.
    @Test func exporterRendersTheSameWhicheverFormItIsFed() async throws {
        let clock = ManualClock()
        func exporter() -> PrometheusExporter {
            PrometheusExporter(
                config: PrometheusExporterConfig(),
                context: ComponentContext(id: ComponentID(type: "prometheus"), logger: Logger(label: "test"), clock: clock))
        }
        let wire = exporter()
        let decoded = exporter()
        var g = SplitMix64(seed: 5)
        for i in 0..<200 {
            let request = RandomMetricsRequests.request(&g)
            try await wire.consume(try #require(EncodedMetrics(indexing: try request.serializedBytes())))
            try await decoded.consume(request)
            // A scrape now and then: the next request writes to a store whose state a snapshot shares.
            if i % 25 == 0 { _ = (wire.render(format: .text), decoded.render(format: .text)) }
        }
        for format in [ExpositionFormat.text, .openMetrics] {
            // Series within a family come in dictionary order, which differs between two stores.
            let a = String(decoding: wire.render(format: format), as: UTF8.self)
            let b = String(decoding: decoded.render(format: format), as: UTF8.self)
            #expect(a.split(separator: "\n").sorted() == b.split(separator: "\n").sorted())
            #expect(a.contains("_bucket{"))
            #expect(a.utf8.count > 10_000)
        }
    }

    /// Byte-flipped requests that still index translate like their decoding too.
    @Test func mutatedRequestsThatIndexTranslateLikeTheirDecoding() throws {
        let translator = OTLPMetricsTranslator()
        var g = SplitMix64(seed: 23)
        var compared = 0
        for _ in 0..<80 {
            let bytes: [UInt8] = try RandomMetricsRequests.request(&g).serializedBytes()
            guard !bytes.isEmpty else { continue }
            for _ in 0..<40 {
                var mutated = bytes
                mutated[g.below(mutated.count)] = UInt8(truncatingIfNeeded: g.next())
                guard let encoded = EncodedMetrics(indexing: mutated) else { continue }
                let request = try ExportMetricsRequest(serializedBytes: mutated)
                #expect(try translator.translate(encoded) == translator.translate(request))
                compared += 1
            }
        }
        #expect(compared > 200)
    }

    @Test func labelSetCacheKeepsTwoBoundedGenerations() {
        let cache = LabelSetCache(generationSize: 4)
        func key(_ i: Int) -> LabelSetCache.Key { LabelSetCache.Key(context: 0, reserved: .none, attributes: [UInt8(i)]) }
        for i in 0..<20 { cache.insert(key(i), LabelSet("l\(i)")) }
        #expect(cache.count <= 8)
        #expect(cache.lookup(key(19)) == .some("l19"))
        #expect(cache.lookup(key(0)) == nil)
        // A hit in the older generation survives the next rotation.
        for i in 20..<24 { cache.insert(key(i), LabelSet("l\(i)")) }
        #expect(cache.lookup(key(19)) == .some("l19"))
        for i in 24..<27 { cache.insert(key(i), LabelSet("l\(i)")) }
        #expect(cache.lookup(key(19)) == .some("l19"))
        // "Not representable" is cached too, as distinct from a miss.
        cache.insert(LabelSetCache.Key(context: 0, reserved: .le, attributes: [1]), nil)
        #expect(cache.lookup(LabelSetCache.Key(context: 0, reserved: .le, attributes: [1])) == .some(nil))
    }

    @Test func labelSetCacheBoundsItsBytesAndSkipsLargeKeys() {
        let cache = LabelSetCache(generationSize: 1_000, generationBytes: 1_000, maxKeyBytes: 100)
        let big = LabelSetCache.Key(context: 0, reserved: .none, attributes: [UInt8](repeating: 1, count: 101))
        cache.insert(big, "x")
        #expect(cache.lookup(big) == nil)
        // 20 entries of ~150 bytes each (key, label, overhead) in 1,000-byte generations: at most two generations.
        for i in 0..<20 {
            cache.insert(
                LabelSetCache.Key(context: 0, reserved: .none, attributes: [UInt8](repeating: UInt8(i), count: 50)),
                LabelSet(String(repeating: "l", count: 40))
            )
        }
        #expect(cache.count <= 2 * (1_000 / 150 + 1))
        #expect(cache.lookup(LabelSetCache.Key(context: 0, reserved: .none, attributes: [UInt8](repeating: 19, count: 50))) != nil)
    }

    @Test func scopeLabelsCacheIsBoundedByEntriesAndBytes() {
        let cache = ScopeLabelsCache(limit: 3, limitBytes: 100, maxKeyBytes: 60)
        let labels = ScopeLabelsCache.Labels(target: nil, resourcePairs: [], fixed: [], context: 0)
        var made = 0
        for i in 0..<10 {
            _ = cache.labels(ByteKey([UInt8](repeating: UInt8(i), count: 40))) {
                made += 1
                return labels
            }
            #expect(cache.count <= 2)  // 40-byte keys in 100 bytes
        }
        _ = cache.labels(ByteKey([UInt8](repeating: 9, count: 40))) {
            made += 1
            return labels
        }
        #expect(made == 10)  // the last key was still held
        _ = cache.labels(ByteKey([UInt8](repeating: 0, count: 61))) { labels }
        #expect(cache.count <= 2)
    }

    @Test func metricNameCacheTellsNamesUnitsAndKindsApartAndIsBounded() {
        let cache = MetricNameCache(limit: 4, maxKeyBytes: 16)
        var made = 0
        func entry(_ name: String, _ unit: String, _ kind: PrometheusNaming.Kind) -> MetricNameCache.Entry {
            cache.entry(name: name, unit: unit, kind: kind) {
                made += 1
                return MetricNameCache.Entry(family: "\(name)|\(unit)|\(kind)", writable: true)
            }
        }
        // Where the name ends matters ("ab" + "c" is not "a" + "bc"), and so do the unit and the kind.
        let keys: [(String, String, PrometheusNaming.Kind)] = [("ab", "c", .gauge), ("a", "bc", .gauge), ("ab", "c", .counter), ("ab", "", .gauge)]
        for (name, unit, kind) in keys { #expect(entry(name, unit, kind).family == "\(name)|\(unit)|\(kind)") }
        #expect(made == 4)
        for (name, unit, kind) in keys { #expect(entry(name, unit, kind).family == "\(name)|\(unit)|\(kind)") }
        #expect(made == 4)  // all four were held
        _ = entry("x", "", .gauge)  // the fifth clears the cache first
        #expect(cache.count == 1)
        _ = entry(String(repeating: "n", count: 10), String(repeating: "u", count: 7), .gauge)  // over 16 bytes: not kept
        #expect(cache.count == 1 && made == 6)
    }

    @Test func contextNumbersAreNeverReusedAfterTheContextsAreForgotten() {
        let cache = LabelSetCache(generationSize: 16, maxContexts: 2)
        let a = cache.context("a")
        let b = cache.context("b")
        #expect(cache.context("a") == a)
        let c = cache.context("c")  // forgets a and b
        let a2 = cache.context("a")
        #expect(Set([a, b, c, a2]).count == 4)
    }
}
