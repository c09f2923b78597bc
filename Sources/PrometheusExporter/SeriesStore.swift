import Synchronization

/// One data point translated for the store: which series it updates and how.
public struct SeriesUpdate: Sendable, Equatable {
    public enum Temporality: Sendable, Equatable { case cumulative, delta }

    public var family: String
    public var type: ExpositionType
    public var help: String
    /// Rendered, sorted labels (the series identity within the family).
    public var labels: LabelSet
    public var value: SeriesValue
    public var temporality: Temporality
    public var startNanos: UInt64
    public var timeNanos: UInt64
    public var exemplars: [Exemplar?]
    /// The OTLP `NoRecordedValue` flag: the series ends now.
    public var noRecordedValue: Bool

    public init(
        family: String, type: ExpositionType, help: String, labels: LabelSet, value: SeriesValue,
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
///
/// Series are held by label set, and within one label set by family: the metrics of one export mostly share their
/// label sets (one set of attributes per instrument call site), so the points of a request land in a few small arrays
/// found by a few hash lookups, instead of one lookup in a large table per point. On a server that sleeps between
/// requests each of those lookups is a handful of cache misses.
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
        var name: String
        var type: ExpositionType
        var help: String
        var seriesCount = 0
    }

    /// One series of a label set: its family's slot and its state.
    struct Member: Sendable {
        var family: Int
        var series: StoredSeries
    }

    struct State: Sendable {
        /// Families by slot. A slot is given to another family only after its family left with its last series.
        var families: [StoredFamily?] = []
        var freeSlots: [Int] = []
        /// Family name → slot.
        var slots: [String: Int] = [:]
        /// Label set → its series, at most one per family; in shards by the label set's hash, so that the first
        /// write after a scrape (whose snapshot shares the tables) copies one shard, not the whole table.
        var shards = [[LabelSet: [Member]]](repeating: [:], count: SeriesStore.shardCount)
        /// Sample name → the family writing it.
        var sampleOwners: [String: String] = ["target_info": "target_info"]
        /// `target_info` series: rendered labels → last update.
        var targets: [String: Duration] = [:]
        var conflicts = 0
        var seriesTotal = 0
    }

    /// What happened to one point.
    enum Outcome {
        case applied, conflict, overLimit
        /// Applied: the point ended its series (`NoRecordedValue`), the last one its family had.
        case endedFamily(slot: Int)
    }

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
            // One `target_info` series per resource, held within `maxSeries` of their own (a new resource beyond it
            // gets none until others expire; its points are bounded as every point is).
            for t in targets where s.targets[t] != nil || s.targets.count < limit { s.targets[t] = now }
            var dropped = Dropped()
            // Consecutive points mostly belong to one family: look its slot and type up once per run.
            var run: (name: String, family: Family)?
            var found = FoundLabelSets()
            var ended: [Int] = []
            updates.withUnsafeBufferPointer { updates in
                guard let first = updates.baseAddress else { return }
                for i in updates.indices {
                    let update = first + i
                    if run?.name != update.pointee.family {
                        let name = update.pointee.family
                        run = s.slots[name].flatMap { slot in s.families[slot].map { (name, Family(slot: slot, type: $0.type)) } }
                    }
                    switch Self.apply(update, family: run?.family, to: &s, found: &found, now: now, maxSeries: limit) {
                    case .applied: break
                    case .endedFamily(let slot): ended.append(slot)
                    case .conflict: dropped.conflicts += 1
                    case .overLimit: dropped.overLimit += 1
                    }
                }
            }
            // A family left without series frees its name (as when its series expire): otherwise every name a client
            // ever used would stay registered.
            for slot in ended where s.families[slot]?.seriesCount == 0 { Self.unregister(slot, in: &s) }
            s.conflicts += dropped.conflicts
            return dropped
        }
    }

    /// Points dropped so far because their identity conflicted with another metric's.
    public var conflicts: Int { state.withLock { $0.conflicts } }

    /// Number of families registered.
    var familyCount: Int { state.withLock { $0.slots.count } }

    /// Number of series held (without `target_info`).
    public var seriesCount: Int { state.withLock { $0.seriesTotal } }

    /// A registered family's slot and type.
    struct Family {
        var slot: Int
        var type: ExpositionType
    }

    /// Applies the point `update` points at; `family` is its family's (nil when it has none yet). The update is read
    /// in place, field by field: taken as a value, it was copied for every point (a retain and a release per field).
    @inline(__always)
    private static func apply(
        _ update: UnsafePointer<SeriesUpdate>, family: Family?, to s: inout State, found: inout FoundLabelSets, now: Duration,
        maxSeries: Int
    ) -> Outcome {
        let noRecordedValue = update.pointee.noRecordedValue
        var family = family
        if family == nil {
            if noRecordedValue { return .applied }
            if s.seriesTotal >= maxSeries { return .overLimit }
            family = register(update.pointee, in: &s).map { Family(slot: $0, type: update.pointee.type) }
        }
        guard let family, family.type == update.pointee.type else { return .conflict }
        let f = family.slot
        // One hash of each label set per call (``FoundLabelSets``); the rest is index-based access, which modifies in place.
        let fresh = StoredSeries(
            value: update.pointee.value, exemplars: update.pointee.exemplars, startNanos: update.pointee.startNanos,
            timeNanos: update.pointee.timeNanos, updated: now)
        let sh = shard(update.pointee.labels)
        let known = found.position(of: update.pointee.labels)
        guard let gi = known ?? s.shards[sh].index(forKey: update.pointee.labels) else {
            if noRecordedValue { return .applied }
            guard s.seriesTotal < maxSeries else { return .overLimit }
            s.shards[sh][update.pointee.labels] = [Member(family: f, series: fresh)]
            found.forget(shard: sh)
            added(f, in: &s)
            return .applied
        }
        if known == nil { found.remember(update.pointee.labels, at: gi, shard: sh) }
        guard let mi = s.shards[sh].values[gi].firstIndex(where: { $0.family == f }) else {
            if noRecordedValue { return .applied }
            guard s.seriesTotal < maxSeries else { return .overLimit }
            s.shards[sh].values[gi].append(Member(family: f, series: fresh))
            added(f, in: &s)
            return .applied
        }
        if noRecordedValue {
            remove(member: mi, at: gi, of: sh, in: &s)
            found.forget(shard: sh)
            return s.families[f]?.seriesCount == 0 ? .endedFamily(slot: f) : .applied
        }
        if update.pointee.temporality == .cumulative {
            // Cumulative points and gauges: the newest one wins. Compared in place (through the dictionary's modify
            // accessor): reading `.timeNanos` through its getter copied the whole stored series first.
            Self.keepNewer(&s.shards[sh].values[gi][mi].series, fresh)
            return .applied
        }
        let old = s.shards[sh].values[gi][mi].series
        guard let next = merged(old, update.pointee, fresh, now: now) else { return .applied }
        s.shards[sh].values[gi][mi].series = next
        return .applied
    }

    private static func added(_ family: Int, in s: inout State) {
        s.seriesTotal += 1
        s.families[family]?.seriesCount += 1
    }

    static let shardBits = 6
    static let shardCount = 1 << shardBits

    /// The shard of `labels`: the top bits of its hash.
    private static func shard(_ labels: LabelSet) -> Int { Int(UInt(bitPattern: labels.digest) >> (UInt.bitWidth - shardBits)) }

    /// Removes member `mi` of the label set at `gi` of shard `sh` (and the label set when it was its last series).
    private static func remove(member mi: Int, at gi: Dictionary<LabelSet, [Member]>.Index, of sh: Int, in s: inout State) {
        let family = s.shards[sh].values[gi][mi].family
        if s.shards[sh].values[gi].count == 1 {
            s.shards[sh].remove(at: gi)
        } else {
            s.shards[sh].values[gi].swapAt(mi, s.shards[sh].values[gi].count - 1)
            s.shards[sh].values[gi].removeLast()
        }
        s.seriesTotal -= 1
        s.families[family]?.seriesCount -= 1
    }

    /// `stored` replaced by `fresh` unless `stored` is newer.
    @inline(__always)
    private static func keepNewer(_ stored: inout StoredSeries, _ fresh: StoredSeries) {
        if fresh.timeNanos >= stored.timeNanos { stored = fresh }
    }

    /// Creates the family of `u` and returns its slot, unless one of its sample names belongs to another family.
    private static func register(_ u: SeriesUpdate, in s: inout State) -> Int? {
        let names = ExposedFamily(name: u.family, type: u.type, help: "", series: []).sampleNames
        if names.contains(where: { s.sampleOwners[$0] != nil && s.sampleOwners[$0] != u.family }) { return nil }
        // OpenMetrics names a counter family without `_total`: it must not collide either.
        let openMetricsName = u.type == .counter && u.family.hasSuffix("_total") ? String(u.family.dropLast(6)) : nil
        if let om = openMetricsName, let owner = s.sampleOwners[om], owner != u.family { return nil }
        for n in names { s.sampleOwners[n] = u.family }
        if let om = openMetricsName { s.sampleOwners[om] = u.family }
        let family = StoredFamily(name: u.family, type: u.type, help: u.help)
        let slot: Int
        if let free = s.freeSlots.popLast() {
            slot = free
            s.families[slot] = family
        } else {
            slot = s.families.count
            s.families.append(family)
        }
        s.slots[u.family] = slot
        return slot
    }

    /// Removes the family in `slot` and frees its sample names.
    private static func unregister(_ slot: Int, in s: inout State) {
        guard let family = s.families[slot] else { return }
        var names = ExposedFamily(name: family.name, type: family.type, help: "", series: []).sampleNames
        if family.type == .counter, family.name.hasSuffix("_total") { names.append(String(family.name.dropLast(6))) }
        for n in names where s.sampleOwners[n] == family.name { s.sampleOwners[n] = nil }
        s.slots[family.name] = nil
        s.families[slot] = nil
        s.freeSlots.append(slot)
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
        // Expire outside the lock first, then remove under it only what is still stale (a member found stale may
        // have been updated since, or removed and its family's slot given to another family: both are checked).
        var stale: [(LabelSet, Int)] = []
        for shard in copy.shards {
            for (labels, members) in shard {
                for m in members where m.series.updated < cutoff { stale.append((labels, m.family)) }
            }
        }
        let staleTargets = copy.targets.filter { $0.value < cutoff }.map(\.key)
        if !stale.isEmpty || !staleTargets.isEmpty {
            state.withLock { s in
                var emptied = Set<Int>()
                for (labels, family) in stale {
                    let sh = Self.shard(labels)
                    guard let gi = s.shards[sh].index(forKey: labels),
                        let mi = s.shards[sh].values[gi].firstIndex(where: { $0.family == family && $0.series.updated < cutoff })
                    else { continue }
                    Self.remove(member: mi, at: gi, of: sh, in: &s)
                    emptied.insert(family)
                }
                for t in staleTargets where (s.targets[t] ?? now) < cutoff { s.targets[t] = nil }
                for slot in emptied where s.families[slot]?.seriesCount == 0 { Self.unregister(slot, in: &s) }
            }
        }
        var bySlot = [[ExposedSeries]](repeating: [], count: copy.families.count)
        for shard in copy.shards {
            for (labels, members) in shard {
                for m in members where m.series.updated >= cutoff && m.family < bySlot.count {
                    let s = m.series
                    bySlot[m.family].append(
                        ExposedSeries(
                            labels: labels.text, value: s.value, exemplars: s.exemplars,
                            timestampMillis: includeTimestamps && s.timeNanos > 0 ? Int64(s.timeNanos / 1_000_000) : nil))
                }
            }
        }
        var out: [ExposedFamily] = []
        out.reserveCapacity(copy.slots.count + 1)
        for (name, slot) in copy.slots.sorted(by: { $0.key < $1.key }) {
            guard let family = copy.families[slot], !bySlot[slot].isEmpty else { continue }
            out.append(ExposedFamily(name: name, type: family.type, help: family.help, series: bySlot[slot]))
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
