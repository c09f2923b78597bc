import CollectorTesting
import Testing

@testable import PrometheusExporter

/// The series store against a plain model, on random calls that repeat a few label sets (as the points of one export
/// do), end series (`NoRecordedValue`), and add label sets while others are being repeated: what a call remembers of
/// the label sets it has found must never outlive a change to their table.
@Suite struct SeriesStoreModelTests {
    @Test(arguments: [UInt64(1), 2, 3, TestSeed.next()])
    func storeAgreesWithAModelOnRandomCalls(seed: UInt64) {
        // Printed first as well: a position that outlived its table traps, and a trap records no issue.
        print("SeriesStoreModelTests seed \(seed)")
        var rng = SplitMix64(seed: seed)
        let store = SeriesStore(expiration: .seconds(3600))
        let families = (0..<6).map { "family_\($0)" }
        // Longer than a small string, so that a copy has storage of its own and compares by its bytes.
        let pool = (0..<400).map { #"item="\#($0)",kind="a-constant-value""# }
        var model: [String: [String: Double]] = [:]
        var time: UInt64 = 0
        for call in 0..<300 {
            // A few label sets repeated, and now and then one from the whole pool (often new to its shard).
            let hot = (0...rng.below(24)).map { _ in rng.pick(pool) }
            var updates: [SeriesUpdate] = []
            for _ in 0..<rng.below(150) {
                let text = rng.chance(0.85) ? rng.pick(hot) : rng.pick(pool)
                // The same label set as its own value half the time, as the translator's caches hand out.
                let labels = rng.chance(0.5) ? LabelSet(text) : LabelSet(String(decoding: Array(text.utf8), as: UTF8.self))
                let family = rng.pick(families)
                let ends = rng.chance(0.08)
                time += 1
                updates.append(
                    SeriesUpdate(
                        family: family, type: .gauge, help: "", labels: labels, value: .number(Double(time)), timeNanos: time,
                        noRecordedValue: ends))
                model[family, default: [:]][text] = ends ? nil : Double(time)
            }
            let dropped = store.apply(updates, now: .seconds(Int64(call)))
            #expect(dropped == SeriesStore.Dropped(), "seed \(seed) call \(call)")
            // A snapshot shares the tables, so the next call's first writes copy them.
            if rng.chance(0.3) || call == 299 {
                var held: [String: [String: Double]] = [:]
                for family in store.snapshot(now: .seconds(Int64(call))) {
                    for series in family.series {
                        guard case .number(let value) = series.value else {
                            Issue.record("seed \(seed) call \(call): \(family.name) holds a non-number")
                            continue
                        }
                        held[family.name, default: [:]][series.labels] = value
                    }
                }
                let expected = model.filter { !$0.value.isEmpty }
                #expect(held == expected, "seed \(seed) call \(call)")
                #expect(store.seriesCount == expected.values.map(\.count).reduce(0, +), "seed \(seed) call \(call)")
                #expect(store.familyCount == expected.count, "seed \(seed) call \(call)")
            }
        }
    }

    /// A client that names a new metric in every export and ends each series with `NoRecordedValue` leaves nothing
    /// registered behind, and a name freed this way may come back as another type.
    @Test func familiesWhoseLastSeriesEndedAreForgotten() {
        let store = SeriesStore(expiration: .seconds(3600))
        for i in 0..<1000 {
            let family = "metric_\(i)"
            store.apply([SeriesUpdate(family: family, type: .gauge, help: "", labels: "a=\"1\"", value: .number(1), timeNanos: 1)], now: .zero)
            store.apply(
                [SeriesUpdate(family: family, type: .gauge, help: "", labels: "a=\"1\"", value: .number(1), timeNanos: 2, noRecordedValue: true)],
                now: .zero)
        }
        #expect(store.familyCount == 0)
        #expect(store.seriesCount == 0)
        let dropped = store.apply(
            [SeriesUpdate(family: "metric_7", type: .counter, help: "", labels: "a=\"1\"", value: .number(3), timeNanos: 3)], now: .zero)
        #expect(dropped == SeriesStore.Dropped())
        #expect(store.snapshot(now: .zero).map(\.type) == [.counter])
    }

    /// `target_info` series (one per resource) stay within `maxSeries` too, however many resources a client invents;
    /// those held keep updating, and expiry makes room for new ones.
    @Test func targetInfoSeriesStayWithinMaxSeries() {
        let store = SeriesStore(expiration: .seconds(60), maxSeries: 5)
        store.apply([], targets: (0..<1000).map { #"job="j",instance="\#($0)""# }, now: .zero)
        let held = store.snapshot(now: .zero).first { $0.name == "target_info" }?.series.map(\.labels) ?? []
        #expect(held.count == 5)
        store.apply([], targets: held, now: .seconds(50))
        #expect(store.snapshot(now: .seconds(100)).first { $0.name == "target_info" }?.series.map(\.labels) == held)
        store.apply([], targets: [#"job="j",instance="new""#], now: .seconds(100))
        #expect(store.snapshot(now: .seconds(100)).first { $0.name == "target_info" }?.series.count == 5)
        _ = store.snapshot(now: .seconds(111))  // the five expire
        store.apply([], targets: [#"job="j",instance="new""#], now: .seconds(111))
        #expect(store.snapshot(now: .seconds(111)).first { $0.name == "target_info" }?.series.map(\.labels) == [#"job="j",instance="new""#])
    }
}
