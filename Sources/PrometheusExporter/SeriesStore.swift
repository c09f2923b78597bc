import Synchronization

/// One data point translated for the store: which series it updates and how.
public struct SeriesUpdate: Sendable {
    public enum Temporality: Sendable { case cumulative, delta }

    public var family: String
    public var type: ExpositionType
    public var help: String
    /// Rendered, sorted labels (the series identity within the family).
    public var labels: String
    public var value: SeriesValue
    public var temporality: Temporality
    public var startNanos: UInt64
    public var timeNanos: UInt64
    public var exemplars: [Exemplar?]
    /// The OTLP `NoRecordedValue` flag: the series ends now.
    public var noRecordedValue: Bool

    public init(family: String, type: ExpositionType, help: String, labels: String, value: SeriesValue,
                temporality: Temporality = .cumulative, startNanos: UInt64 = 0, timeNanos: UInt64 = 0,
                exemplars: [Exemplar?] = [], noRecordedValue: Bool = false) {
        self.family = family
        self.type = type
        self.help = help
        self.labels = labels
        self.value = value
        self.temporality = temporality
        self.startNanos = startNanos
        self.timeNanos = timeNanos
        self.exemplars = exemplars
        self.noRecordedValue = noRecordedValue
    }
}

/// The exporter's state: the last value of every series (delta points accumulated into cumulative ones, as
/// otelcol's accumulator does), expiring series not updated within `expiration`.
///
/// Identity rules keep the exposition valid: a family has one type (a point of another type under the same name is
/// dropped and counted), and no two families write the same sample name (`foo_count` the gauge vs. the `_count` of
/// histogram `foo`: the later one is dropped and counted). Writers take the lock briefly; ``snapshot(now:)`` copies
/// (copy-on-write) under the lock and the caller renders outside it.
public final class SeriesStore: Sendable {
    public let expiration: Duration
    private let state = Mutex(State())

    struct StoredSeries: Sendable {
        var value: SeriesValue
        var exemplars: [Exemplar?]
        var startNanos: UInt64
        var timeNanos: UInt64
        var updated: Duration
    }

    struct StoredFamily: Sendable {
        var type: ExpositionType
        var help: String
        var series: [String: StoredSeries] = [:]
    }

    struct State: Sendable {
        var families: [String: StoredFamily] = [:]
        /// Sample name → the family writing it.
        var sampleOwners: [String: String] = ["target_info": "target_info"]
        /// `target_info` series: rendered labels → last update.
        var targets: [String: Duration] = [:]
        var conflicts = 0
    }

    public init(expiration: Duration) {
        self.expiration = expiration
    }

    /// Applies `updates` (and `targets`, the `target_info` label sets of their resources) at `now`. Returns the
    /// number of points dropped for conflicting identity.
    @discardableResult
    public func apply(_ updates: [SeriesUpdate], targets: [String] = [], now: Duration) -> Int {
        state.withLock { s in
            for t in targets { s.targets[t] = now }
            var dropped = 0
            for u in updates where !Self.apply(u, to: &s, now: now) { dropped += 1 }
            s.conflicts += dropped
            return dropped
        }
    }

    /// Points dropped so far because their identity conflicted with another metric's.
    public var conflicts: Int { state.withLock { $0.conflicts } }

    /// Number of series held (without `target_info`).
    public var seriesCount: Int { state.withLock { $0.families.values.reduce(0) { $0 + $1.series.count } } }

    private static func apply(_ u: SeriesUpdate, to s: inout State, now: Duration) -> Bool {
        if s.families[u.family] == nil {
            if u.noRecordedValue { return true }
            let names = ExposedFamily(name: u.family, type: u.type, help: "", series: []).sampleNames
            if names.contains(where: { s.sampleOwners[$0] != nil && s.sampleOwners[$0] != u.family }) { return false }
            // OpenMetrics names a counter family without `_total`: it must not collide either.
            if u.type == .counter, u.family.hasSuffix("_total"), let owner = s.sampleOwners[String(u.family.dropLast(6))], owner != u.family { return false }
            for n in names { s.sampleOwners[n] = u.family }
            if u.type == .counter, u.family.hasSuffix("_total") { s.sampleOwners[String(u.family.dropLast(6))] = u.family }
            s.families[u.family] = StoredFamily(type: u.type, help: u.help)
        }
        guard s.families[u.family]?.type == u.type else { return false }
        if u.noRecordedValue {
            s.families[u.family]?.series[u.labels] = nil
            return true
        }
        let fresh = StoredSeries(value: u.value, exemplars: u.exemplars, startNanos: u.startNanos, timeNanos: u.timeNanos, updated: now)
        guard let old = s.families[u.family]?.series[u.labels] else {
            s.families[u.family]?.series[u.labels] = fresh
            return true
        }
        var next = fresh
        switch (u.temporality, old.value, u.value) {
        case (.delta, .number(let previous), .number(let delta)):
            if u.timeNanos < old.timeNanos { next = old; next.updated = now; break }
            if u.startNanos == old.timeNanos {
                next.value = .number(previous + delta)
                next.startNanos = old.startNanos
                if u.exemplars.allSatisfy({ $0 == nil }) { next.exemplars = old.exemplars }
            }
        case (.delta, .histogram(let previous), .histogram(let delta)):
            if u.startNanos != old.timeNanos {
                // Misaligned: a restart when it starts after the previous point, otherwise a second writer (dropped).
                if u.startNanos <= old.timeNanos { return true }
            } else if previous.bounds == delta.bounds {
                var merged = delta
                merged.sum += previous.sum
                merged.count += previous.count
                for i in merged.counts.indices where i < previous.counts.count { merged.counts[i] += previous.counts[i] }
                next.value = .histogram(merged)
                next.startNanos = old.startNanos
                next.exemplars = zip(u.exemplars + Array(repeating: nil, count: max(0, old.exemplars.count - u.exemplars.count)),
                                     old.exemplars + Array(repeating: nil, count: max(0, u.exemplars.count - old.exemplars.count))).map { $0 ?? $1 }
            }
        default:
            // Cumulative points and gauges: the newest one wins.
            if u.timeNanos < old.timeNanos { return true }
        }
        s.families[u.family]?.series[u.labels] = next
        return true
    }

    /// Removes series not updated within the expiration, then returns every family for rendering, sorted by name.
    /// The copy is taken under the lock (cheap, copy-on-write); building the result happens outside it.
    public func snapshot(now: Duration, includeTimestamps: Bool = false) -> [ExposedFamily] {
        let cutoff = now - expiration
        let copy = state.withLock { $0 }
        // Expire outside the lock first, then remove under it only what is still stale.
        var stale: [(String, String)] = []
        for (name, family) in copy.families {
            for (labels, series) in family.series where series.updated < cutoff { stale.append((name, labels)) }
        }
        let staleTargets = copy.targets.filter { $0.value < cutoff }.map(\.key)
        if !stale.isEmpty || !staleTargets.isEmpty {
            state.withLock { s in
                for (name, labels) in stale where (s.families[name]?.series[labels]?.updated ?? now) < cutoff {
                    s.families[name]?.series[labels] = nil
                }
                for t in staleTargets where (s.targets[t] ?? now) < cutoff { s.targets[t] = nil }
                for name in Set(stale.map(\.0)) where s.families[name]?.series.isEmpty == true {
                    for n in ExposedFamily(name: name, type: s.families[name]?.type ?? .gauge, help: "", series: []).sampleNames { s.sampleOwners[n] = nil }
                    if name.hasSuffix("_total") { s.sampleOwners[String(name.dropLast(6))] = nil }
                    s.families[name] = nil
                }
            }
        }
        var out: [ExposedFamily] = []
        out.reserveCapacity(copy.families.count + 1)
        for name in copy.families.keys.sorted() {
            guard let family = copy.families[name] else { continue }
            var series: [ExposedSeries] = []
            series.reserveCapacity(family.series.count)
            for (labels, s) in family.series {
                if s.updated < cutoff { continue }
                series.append(ExposedSeries(labels: labels, value: s.value, exemplars: s.exemplars,
                                            timestampMillis: includeTimestamps && s.timeNanos > 0 ? Int64(s.timeNanos / 1_000_000) : nil))
            }
            if !series.isEmpty { out.append(ExposedFamily(name: name, type: family.type, help: family.help, series: series)) }
        }
        let targets = copy.targets.filter { $0.value >= cutoff }.keys.sorted()
        if !targets.isEmpty {
            let info = ExposedFamily(name: "target_info", type: .gauge, help: "Target metadata",
                                     series: targets.map { ExposedSeries(labels: $0, value: .number(1)) })
            let i = out.firstIndex { $0.name > "target_info" } ?? out.endIndex
            out.insert(info, at: i)
        }
        return out
    }
}
