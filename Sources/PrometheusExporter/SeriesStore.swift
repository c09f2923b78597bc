import Synchronization

/// One data point translated for the store: which series it updates and how.
public struct SeriesUpdate: Sendable, Equatable {
    public enum Temporality: Sendable, Equatable { case cumulative, delta }

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

    public init(
        family: String, type: ExpositionType, help: String, labels: String, value: SeriesValue,
        temporality: Temporality = .cumulative, startNanos: UInt64 = 0, timeNanos: UInt64 = 0,
        exemplars: [Exemplar?] = [], noRecordedValue: Bool = false
    ) {
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
    /// Most series held; a point that would create one more is dropped (and counted) until others expire.
    public let maxSeries: Int
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
        var seriesTotal = 0
    }

    /// What happened to one point.
    enum Outcome { case applied, conflict, overLimit }

    /// Points dropped by one ``apply(_:targets:now:)``.
    public struct Dropped: Sendable, Equatable {
        /// Identity conflicts with another metric.
        public var conflicts = 0
        /// New series beyond `maxSeries`.
        public var overLimit = 0
    }

    public init(expiration: Duration, maxSeries: Int = 1_000_000) {
        self.expiration = expiration
        self.maxSeries = maxSeries
    }

    /// Applies `updates` (and `targets`, the `target_info` label sets of their resources) at `now`. Returns the
    /// number of points dropped for conflicting identity.
    @discardableResult
    public func apply(_ updates: [SeriesUpdate], targets: [String] = [], now: Duration) -> Dropped {
        let limit = maxSeries
        return state.withLock { s in
            for t in targets { s.targets[t] = now }
            var dropped = Dropped()
            // Consecutive points mostly belong to one family: look its index up once per run. Only registering
            // a family changes the dictionary's layout, and that happens only while no index is held.
            var family: (name: String, index: Dictionary<String, StoredFamily>.Index)?
            for u in updates {
                if family?.name != u.family { family = s.families.index(forKey: u.family).map { (u.family, $0) } }
                switch Self.apply(u, familyIndex: family?.index, to: &s, now: now, maxSeries: limit) {
                case .applied: break
                case .conflict: dropped.conflicts += 1
                case .overLimit: dropped.overLimit += 1
                }
            }
            s.conflicts += dropped.conflicts
            return dropped
        }
    }

    /// Points dropped so far because their identity conflicted with another metric's.
    public var conflicts: Int { state.withLock { $0.conflicts } }

    /// Number of series held (without `target_info`).
    public var seriesCount: Int { state.withLock { $0.seriesTotal } }

    /// Applies one point; `familyIndex` is where its family is (nil when it has none yet).
    private static func apply(
        _ u: SeriesUpdate, familyIndex: Dictionary<String, StoredFamily>.Index?, to s: inout State, now: Duration, maxSeries: Int
    ) -> Outcome {
        // At most one hash of the label set per point: index-based access modifies in place.
        var familyIndex = familyIndex
        if familyIndex == nil {
            if u.noRecordedValue { return .applied }
            if s.seriesTotal >= maxSeries { return .overLimit }
            guard register(u, in: &s) else { return .conflict }
            familyIndex = s.families.index(forKey: u.family)
        }
        guard let fi = familyIndex, s.families.values[fi].type == u.type else { return .conflict }
        if u.noRecordedValue {
            if s.families.values[fi].series.removeValue(forKey: u.labels) != nil { s.seriesTotal -= 1 }
            return .applied
        }
        let fresh = StoredSeries(value: u.value, exemplars: u.exemplars, startNanos: u.startNanos, timeNanos: u.timeNanos, updated: now)
        guard let si = s.families.values[fi].series.index(forKey: u.labels) else {
            guard s.seriesTotal < maxSeries else { return .overLimit }
            s.families.values[fi].series[u.labels] = fresh
            s.seriesTotal += 1
            return .applied
        }
        if u.temporality == .cumulative {
            // Cumulative points and gauges: the newest one wins. Compared in place (through the dictionaries' modify
            // accessors): reading `.timeNanos` through their getters copied the whole stored series first.
            Self.keepNewer(&s.families.values[fi].series.values[si], fresh)
            return .applied
        }
        let old = s.families.values[fi].series.values[si]
        guard let next = merged(old, u, fresh, now: now) else { return .applied }
        s.families.values[fi].series.values[si] = next
        return .applied
    }

    /// `stored` replaced by `fresh` unless `stored` is newer.
    @inline(__always)
    private static func keepNewer(_ stored: inout StoredSeries, _ fresh: StoredSeries) {
        if fresh.timeNanos >= stored.timeNanos { stored = fresh }
    }

    /// Creates the family of `u` unless one of its sample names belongs to another family.
    private static func register(_ u: SeriesUpdate, in s: inout State) -> Bool {
        let names = ExposedFamily(name: u.family, type: u.type, help: "", series: []).sampleNames
        if names.contains(where: { s.sampleOwners[$0] != nil && s.sampleOwners[$0] != u.family }) { return false }
        // OpenMetrics names a counter family without `_total`: it must not collide either.
        let openMetricsName = u.type == .counter && u.family.hasSuffix("_total") ? String(u.family.dropLast(6)) : nil
        if let om = openMetricsName, let owner = s.sampleOwners[om], owner != u.family { return false }
        for n in names { s.sampleOwners[n] = u.family }
        if let om = openMetricsName { s.sampleOwners[om] = u.family }
        s.families[u.family] = StoredFamily(type: u.type, help: u.help)
        return true
    }

    /// The stored state after `u` arrives on a series holding `old`; `nil` to keep `old` (an out-of-order or
    /// overlapping point). Delta points are accumulated as otelcol's accumulator does.
    private static func merged(_ old: StoredSeries, _ u: SeriesUpdate, _ fresh: StoredSeries, now: Duration) -> StoredSeries? {
        var next = fresh
        switch (u.temporality, old.value, u.value) {
        case (.delta, .number(let previous), .number(let delta)):
            if u.timeNanos < old.timeNanos { return nil }
            if u.startNanos == old.timeNanos {
                next.value = .number(previous + delta)
                next.startNanos = old.startNanos
                if u.exemplars.allSatisfy({ $0 == nil }) { next.exemplars = old.exemplars }
            }
        case (.delta, .histogram(let previous), .histogram(let delta)):
            if u.startNanos != old.timeNanos {
                // Misaligned: a restart when it starts after the previous point, otherwise a second writer (dropped).
                if u.startNanos <= old.timeNanos { return nil }
            } else if previous.bounds == delta.bounds {
                var sum = delta
                sum.sum += previous.sum
                sum.count &+= previous.count  // wrapping: hostile counts must not trap
                for i in sum.counts.indices where i < previous.counts.count { sum.counts[i] &+= previous.counts[i] }
                next.value = .histogram(sum)
                next.startNanos = old.startNanos
                let n = max(u.exemplars.count, old.exemplars.count)
                next.exemplars = (0..<n).map { i in
                    (i < u.exemplars.count ? u.exemplars[i] : nil) ?? (i < old.exemplars.count ? old.exemplars[i] : nil)
                }
            }
        default:
            // Cumulative points and gauges: the newest one wins.
            if u.timeNanos < old.timeNanos { return nil }
        }
        return next
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
                    if s.families[name]?.series.removeValue(forKey: labels) != nil { s.seriesTotal -= 1 }
                }
                for t in staleTargets where (s.targets[t] ?? now) < cutoff { s.targets[t] = nil }
                for name in Set(stale.map(\.0)) where s.families[name]?.series.isEmpty == true {
                    for n in ExposedFamily(name: name, type: s.families[name]?.type ?? .gauge, help: "", series: []).sampleNames {
                        s.sampleOwners[n] = nil
                    }
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
                series.append(
                    ExposedSeries(
                        labels: labels, value: s.value, exemplars: s.exemplars,
                        timestampMillis: includeTimestamps && s.timeNanos > 0 ? Int64(s.timeNanos / 1_000_000) : nil))
            }
            if !series.isEmpty { out.append(ExposedFamily(name: name, type: family.type, help: family.help, series: series)) }
        }
        let targets = copy.targets.filter { $0.value >= cutoff }.keys.sorted()
        if !targets.isEmpty {
            let info = ExposedFamily(
                name: "target_info", type: .gauge, help: "Target metadata",
                series: targets.map { ExposedSeries(labels: $0, value: .number(1)) })
            let i = out.firstIndex { $0.name > "target_info" } ?? out.endIndex
            out.insert(info, at: i)
        }
        return out
    }
}
