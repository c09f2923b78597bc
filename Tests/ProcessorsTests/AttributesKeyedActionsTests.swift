import CollectorCore
import CollectorTesting
import OTLP
import Testing

@testable import Processors

/// The one-scan path for key-only action lists must give exactly what running the actions one by one gives.
@Suite struct AttributesKeyedActionsTests {
    typealias B = OTLPBuild

    @Test func theOneScanPathMatchesRunningActionsOneByOne() {
        // Few keys, so actions hit present, absent, repeated and just-inserted or just-deleted keys.
        let keys = ["a", "b", "c", "dd", "é", ""]
        var random = SplitMix64(seed: 42)
        var keyedRuns = 0
        for _ in 0..<5_000 {
            var actions: [AttributeAction] = []
            for _ in 0..<(1 + random.below(5)) {
                let key = keys[random.below(keys.count)]
                let value = B.str("v\(random.below(3))")
                switch random.below(4) {
                case 0: actions.append(.insert(key: key, source: .value(value)))
                case 1: actions.append(.update(key: key, source: .value(value)))
                case 2: actions.append(.upsert(key: key, source: .value(value)))
                default: actions.append(.delete(key: key, pattern: nil))
                }
            }
            var attributes: [KeyValue] = []
            for _ in 0..<random.below(6) {
                attributes.append(B.kv(keys[random.below(keys.count)], B.str("o\(random.below(3))")))
            }
            let list = AttributeActions(actions)
            var oneByOne = attributes
            list.applyOneByOne(to: &oneByOne)
            var applied = attributes
            list.apply(to: &applied)
            #expect(applied == oneByOne, "actions \(actions) on \(attributes)")
            var viaKeyed = attributes
            if let keyed = KeyedActions(actions), keyed.apply(to: &viaKeyed) {
                keyedRuns += 1
                #expect(viaKeyed == oneByOne, "actions \(actions) on \(attributes)")
            }
        }
        // Most generated lists have no repeated key, so the one-scan path really ran.
        #expect(keyedRuns > 2_500)
    }

    @Test func listsWithOtherActionsOrRepeatedKeysTakeTheGeneralPath() throws {
        #expect(KeyedActions([.insert(key: "a", source: .fromAttribute("b"))]) == nil)
        #expect(KeyedActions([.delete(key: nil, pattern: try AttributeRegex("^a"))]) == nil)
        #expect(KeyedActions([.convert(key: "a", to: .int)]) == nil)
        let keyed = try #require(KeyedActions([.delete(key: "a", pattern: nil)]))
        var repeated = [B.kv("a", B.str("1")), B.kv("a", B.str("2"))]
        #expect(!keyed.apply(to: &repeated))
        #expect(repeated == [B.kv("a", B.str("1")), B.kv("a", B.str("2"))])
        // Through AttributeActions the repeated key is handled one by one: the first "a" goes.
        AttributeActions([.delete(key: "a", pattern: nil)]).apply(to: &repeated)
        #expect(repeated == [B.kv("a", B.str("2"))])
    }
}
