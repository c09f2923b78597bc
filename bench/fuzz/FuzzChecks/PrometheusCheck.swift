import OTLP
import PrometheusExporter

extension FuzzChecks {
    /// An OTLP metrics request in protobuf through the `prometheus` exporter's translation: whatever `EncodedMetrics`
    /// indexes translates from the wire exactly as from its swift-protobuf decoding (label-set caches cold, then
    /// warm), and the exposition rendered from it, in both formats, is one comment or one sample per line whatever
    /// the names, units, descriptions and label values hold.
    public static func prometheus(_ input: [UInt8]) {
        guard let encoded = EncodedMetrics(indexing: input) else { return }
        guard let decoded = try? ExportMetricsRequest(serializedBytes: input) else {
            fail("EncodedMetrics indexed what swift-protobuf rejects", input)
        }
        let translator = OTLPMetricsTranslator()
        let expected = translator.translate(decoded)
        for pass in ["cold", "warm"] {
            guard let wire = try? translator.translate(encoded) else { fail("the wire translation threw (\(pass) cache)", input) }
            // A NaN (a bound, a sum) is unequal to itself: outputs that differ only there print the same.
            guard wire == expected || String(reflecting: wire) == String(reflecting: expected) else {
                fail("the wire and decoded translations differ (\(pass) cache)", input)
            }
        }
        let store = SeriesStore(expiration: .seconds(300))
        store.apply(expected.updates, targets: expected.targets, now: .seconds(1))
        for format in [ExpositionFormat.text, .openMetrics] {
            var writer = ExpositionWriter(format: format)
            for family in store.snapshot(now: .seconds(1)) { writer.write(family) }
            writer.finish()
            for line in writer.bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast() {
                if line.first == UInt8(ascii: "#") { continue }
                let name = line.prefix { $0 != UInt8(ascii: "{") && $0 != UInt8(ascii: " ") }
                guard PrometheusNaming.isValidMetricName(String(decoding: name, as: UTF8.self)), name.count < line.count else {
                    fail("a \(format) exposition line is not a sample: \(String(decoding: line.prefix(80), as: UTF8.self).debugDescription)", input)
                }
            }
            guard writer.bytes.last == UInt8(ascii: "\n") || writer.bytes.isEmpty else { fail("the \(format) exposition does not end a line", input) }
        }
    }
}
