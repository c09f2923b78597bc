import CollectorCore
import Foundation
import GRDB

/// The latency baseline of every (service, operation, span kind) the store has seen: two decayed sketches of its
/// durations, one that follows the last days (``AnomalyDetectionConfig/baselineHalfLife``) and one the last hour
/// (``AnomalyDetectionConfig/recentHalfLife``). A stored span whose duration is above the baseline's p99 times
/// ``AnomalyDetectionConfig/factor`` is anomalous, once the baseline holds ``AnomalyDetectionConfig/minSamples``.
///
/// Aging is forward decay: a sample at time `t` is added with weight `2^((t - landmark) / halfLife)`, so nothing
/// is multiplied per sample; when the weights grow large the landmark moves to now and every sketch is scaled
/// down once. The decayed sample count of a baseline is its total weight divided by the weight of "now".
///
/// Owned by the store's writer (not thread-safe). Kept in the `latency_baselines` table, written with the spans
/// every ``saveInterval`` and at close, so it survives a restart.
final class LatencyBaselines {
    struct Key: Hashable { var service: String, name: String, kind: Int }

    final class Entry {
        let key: Key
        var baseline = LatencySketch()
        var recent = LatencySketch()
        /// Durations above this (nanoseconds) are anomalous; infinity while the baseline is too small.
        var threshold = Double.infinity
        /// Samples since ``threshold`` was computed (a new or loaded entry computes it at its first sample).
        var sinceRefresh = LatencyBaselines.refreshEvery
        var dirty = true

        init(key: Key) { self.key = key }
    }

    let config: AnomalyDetectionConfig
    private let baselineHalfLife: Double
    private let recentHalfLife: Double
    /// Entries by the writer's operation hash (``SpanBatchWriter/OperationHash``), colliding ones side by side.
    private var byHash: [UInt64: [Entry]] = [:]
    private(set) var count = 0
    /// Decay landmark (Unix nanoseconds).
    private(set) var landmark: Int64 = 0
    private var baselineWeight = 1.0
    private var recentWeight = 1.0
    private var now: Int64 = 0
    private var lastSave: Int64 = 0
    /// Entries forgotten (decayed to nothing) whose rows are still to be deleted.
    private var removed: [Key] = []
    /// Recompute a baseline's threshold after this many samples.
    static let refreshEvery = 16
    static let saveInterval: Int64 = 10_000_000_000
    /// The recent window's weight may grow to 2^32 before the landmark moves.
    static let maxExponent = 32.0

    init(config: AnomalyDetectionConfig) {
        self.config = config
        baselineHalfLife = max(1, Double(config.baselineHalfLife.components.seconds) * 1e9)
        recentHalfLife = max(1, Double(config.recentHalfLife.components.seconds) * 1e9)
    }

    /// Sets the clock for the spans of one transaction, moving the landmark first if the weights grew too large.
    func begin(now: Int64) {
        if landmark == 0 { landmark = now }
        self.now = max(now, landmark)
        let elapsed = Double(self.now - landmark)
        if elapsed / recentHalfLife > Self.maxExponent { moveLandmark() }
        baselineWeight = exp2(Double(self.now - landmark) / baselineHalfLife)
        recentWeight = exp2(Double(self.now - landmark) / recentHalfLife)
    }

    /// Adds a stored span's duration to its operation's baseline. Returns the baseline's p99 (nanoseconds) when the
    /// span is anomalous against it (judged before the span is added).
    func observe(hash: UInt64, service: String, name: UnsafeRawBufferPointer, kind: Int32, durationNanos: Int64) -> Double? {
        guard let entry = entry(hash: hash, service: service, name: name, kind: kind) else { return nil }
        if entry.sinceRefresh >= Self.refreshEvery { refresh(entry) }
        let p99 = Double(durationNanos) > entry.threshold ? entry.threshold / config.factor : nil
        let index = durationNanos > 0 ? LatencySketch.index(of: durationNanos) : 0
        entry.baseline.add(nanos: durationNanos, index: index, weight: baselineWeight)
        entry.recent.add(nanos: durationNanos, index: index, weight: recentWeight)
        entry.dirty = true
        entry.sinceRefresh += 1
        return p99
    }

    /// Decayed samples in `sketch` as of the current clock.
    private func samples(_ sketch: LatencySketch, weight: Double) -> Double { sketch.total / weight }

    private func refresh(_ entry: Entry) {
        entry.sinceRefresh = 0
        if samples(entry.baseline, weight: baselineWeight) >= Double(config.minSamples), let p99 = entry.baseline.quantile(0.99) {
            entry.threshold = max(p99, 1) * config.factor
        } else {
            entry.threshold = .infinity
        }
    }

    private func entry(hash: UInt64, service: String, name: UnsafeRawBufferPointer, kind: Int32) -> Entry? {
        if let list = byHash[hash] {
            for e in list where e.key.kind == Int(kind) && e.key.service == service && utf8(e.key.name, equals: name) {
                return e
            }
        }
        guard count < config.maxOperations else { return nil }
        let e = Entry(key: Key(service: service, name: String(decoding: name, as: UTF8.self), kind: Int(kind)))
        byHash[hash, default: []].append(e)
        count += 1
        return e
    }

    /// Scales every sketch to a landmark at the current clock; baselines decayed to almost nothing are forgotten.
    private func moveLandmark() {
        let elapsed = Double(now - landmark)
        let baselineScale = exp2(-elapsed / baselineHalfLife)
        let recentScale = exp2(-elapsed / recentHalfLife)
        landmark = now
        for (hash, list) in byHash {
            var kept: [Entry] = []
            for e in list {
                e.baseline.scale(by: baselineScale)
                e.recent.scale(by: recentScale)
                e.dirty = true
                if e.baseline.total < 0.01 {
                    removed.append(e.key)
                    count -= 1
                } else {
                    kept.append(e)
                }
            }
            byHash[hash] = kept.isEmpty ? nil : kept
        }
    }

    // MARK: - Storage

    /// Writes changed baselines (and the landmark) when ``saveInterval`` has passed since the last save, or always
    /// with `force`. Runs inside the writer's transaction.
    func saveIfDue(_ db: Database, force: Bool = false) throws {
        guard force || now - lastSave >= Self.saveInterval else { return }
        lastSave = now
        try db.execute(
            sql: "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?), (?, ?), (?, ?)",
            arguments: [
                Self.landmarkKey, String(landmark),
                Self.baselineHalfLifeKey, String(Int64(baselineHalfLife)),
                Self.recentHalfLifeKey, String(Int64(recentHalfLife)),
            ])
        for key in removed {
            try db.execute(
                sql: "DELETE FROM latency_baselines WHERE service = ? AND name = ? AND kind = ?",
                arguments: [key.service, key.name, key.kind])
        }
        removed.removeAll()
        let insert = try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO latency_baselines(service, name, kind, baseline, recent) VALUES (?, ?, ?, ?, ?)
                """)
        for list in byHash.values {
            for e in list where e.dirty {
                try insert.execute(arguments: [e.key.service, e.key.name, e.key.kind, Data(e.baseline.encoded()), Data(e.recent.encoded())])
                e.dirty = false
            }
        }
    }

    /// After a rolled-back transaction: what it saved is gone, so everything is saved again next time.
    func markUnsaved() {
        for list in byHash.values { for e in list { e.dirty = true } }
        lastSave = 0
    }

    /// Loads the stored baselines (at open).
    func load(_ db: Database) throws {
        byHash.removeAll()
        count = 0
        landmark = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [Self.landmarkKey]).flatMap { Int64($0) } ?? 0
        let rows = try Row.fetchCursor(db, sql: "SELECT service, name, kind, baseline, recent FROM latency_baselines")
        while let row = try rows.next(), count < config.maxOperations {
            let service: String = row[0]
            let name: String = row[1]
            let kind: Int = row[2]
            guard let baseline = LatencySketch(encoded: [UInt8](row[3] as Data)),
                let recent = LatencySketch(encoded: [UInt8](row[4] as Data))
            else { continue }
            let e = Entry(key: Key(service: service, name: name, kind: kind))
            e.baseline = baseline
            e.recent = recent
            e.dirty = false
            var utf8 = name
            let hash = utf8.withUTF8 { buffer in
                SpanBatchWriter.OperationHash.of(
                    serviceHash: SpanBatchWriter.OperationHash.of(service: service), name: UnsafeRawBufferPointer(buffer), kind: Int32(clamping: kind)
                )
            }
            byHash[hash, default: []].append(e)
            count += 1
        }
    }

    static let landmarkKey = "latency_landmark_ns"
    static let baselineHalfLifeKey = "latency_baseline_half_life_ns"
    static let recentHalfLifeKey = "latency_recent_half_life_ns"
}
