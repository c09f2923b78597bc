import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// The traces of each partition not yet in its `trace_ids_b` table (the tail), in memory, and the sweeps that move
/// them into it in key order.
///
/// An index keyed by a random trace ID puts each new trace on a random page, so every transaction rewrote about
/// one 4 KiB page per new trace (half of all bytes written at ingest: docs/performance.md). Here a new trace is
/// only added to the tail. Each transaction also moves the tail's entries in the next ``groups`` key ranges (by
/// the ID's first 12 bits; a cursor goes round them so that one sweep of the whole key space takes about
/// ``sweepTraces`` new traces) into the table, sorted, so that the pages it writes hold many of them each.
///
/// The writer looks a trace up here, then in the table. Readers in the same process look here *before* opening
/// their read transaction: an entry is added before its trace's commit and removed only after the commit that
/// moved it into the table, so a reader that does not find it here finds it in the table (or the trace was not
/// committed when the read began). Readers in another process scan the partition's traces from its mark
/// (`trace_id_marks`): every trace numbered below it is in the table — at the start of a sweep, the mark becomes
/// where the sweep before began, since each trace is moved by the end of the sweep after the one it arrived in; when
/// the tail empties, the partition's next number.
public final class TraceIDTails: Sendable {
    /// Key ranges per sweep.
    static let groups = 4096
    /// New traces one sweep is paced to take.
    let sweepTraces: Int
    /// Entries all tails hold at most, about: four sweeps' worth (some 12 MiB).
    var maxEntries: Int { 4 * sweepTraces }
    static let defaultSweepTraces = 65_536

    struct Key: Hashable, Sendable {
        var high: UInt64, low: UInt64

        init(high: UInt64, low: UInt64) {
            self.high = high
            self.low = low
        }

        /// The key of a 16-byte trace ID (nil for any other length).
        init?(_ id: Data) {
            guard id.count == 16 else { return nil }
            (high, low) = id.withUnsafeBytes { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
        }

        /// The ID's bytes in memory order (`high` and `low` are loaded from them as they lie).
        var bytes: (UInt64, UInt64) { (high, low) }
        /// The key range of the ID: its first 12 bits.
        var group: Int { Int(UInt8(truncatingIfNeeded: high)) << 4 | Int(UInt8(truncatingIfNeeded: high >> 8) >> 4) }
        /// Whether this ID sorts before `other` as SQLite compares blobs (byte by byte).
        func precedes(_ other: Key) -> Bool {
            let a = high.byteSwapped
            let b = other.high.byteSwapped
            return a != b ? a < b : low.byteSwapped < other.low.byteSwapped
        }
    }

    struct Tail {
        var groups = [[Key: Int64]](repeating: [:], count: TraceIDTails.groups)
        var count = 0
        /// Writer's bookkeeping: the next group to move, and the `seq` the current sweep began at (the mark to
        /// store when it ends).
        var cursor = 0
        var sweepStart: Int64 = 0
    }

    /// Partitions whose tail is known, by partition. A partition absent here is read from its mark.
    private let tails = Mutex<[Int64: Tail]>([:])

    init(sweepTraces: Int = defaultSweepTraces) { self.sweepTraces = max(1, sweepTraces) }

    /// The `seq` of trace `key` in partition `bucket` when it is in the tail; `nil` when it is not, or when that
    /// partition's tail is not known here (`known` false: read it from the mark).
    func seq(bucket: Int64, key: Key) -> (seq: Int64?, known: Bool) {
        tails.withLock { t in
            guard let tail = t[bucket] else { return (nil, false) }
            return (tail.groups[key.group][key], true)
        }
    }

    /// For readers: the tail entries of `ids` per partition, and the partitions whose tails are known.
    func lookup(_ ids: [Data]) -> (found: [Int64: [(id: Data, seq: Int64)]], known: Set<Int64>) {
        let keys = ids.map(Key.init)
        return tails.withLock { t in
            var found: [Int64: [(id: Data, seq: Int64)]] = [:]
            for (bucket, tail) in t {
                for (id, key) in zip(ids, keys) {
                    if let key, let seq = tail.groups[key.group][key] { found[bucket, default: []].append((id, seq)) }
                }
            }
            return (found, Set(t.keys))
        }
    }

    func add(bucket: Int64, key: Key, seq: Int64) {
        tails.withLock { t in
            guard t[bucket] != nil else { return }
            if t[bucket]?.groups[key.group].updateValue(seq, forKey: key) == nil { t[bucket]?.count += 1 }
        }
    }

    /// Starts knowing partition `bucket`'s tail: `entries` (read from the database), the next sweep beginning at
    /// `nextSeq`.
    func load(bucket: Int64, entries: [(Key, Int64)], nextSeq: Int64) {
        var tail = Tail()
        for (key, seq) in entries where tail.groups[key.group].updateValue(seq, forKey: key) == nil { tail.count += 1 }
        tail.sweepStart = nextSeq
        tails.withLock { $0[bucket] = tail }
    }

    func isKnown(_ bucket: Int64) -> Bool { tails.withLock { $0[bucket] != nil } }

    /// Forgets every tail (after a rolled-back transaction): readers read them from the marks until reloaded.
    func forgetAll() { tails.withLock { $0.removeAll() } }

    func forget(bucket: Int64) { _ = tails.withLock { $0.removeValue(forKey: bucket) } }

    /// Removes entries whose trace rows were deleted (retention by size), so that their numbers are never found.
    func remove(bucket: Int64, keys: [Key]) {
        tails.withLock { t in
            for key in keys where t[bucket]?.groups[key.group].removeValue(forKey: key) != nil { t[bucket]?.count -= 1 }
        }
    }

    /// Entries moved into a table by ``sweep(bucket:newTraces:nextSeq:)``, to remove once that transaction has committed.
    struct Moved {
        var bucket: Int64
        var entries: [(Key, Int64)]
    }

    /// The next key ranges of partition `bucket` to move, paced by `newTraces` (this transaction's new traces in it):
    /// their entries sorted by ID, and the mark to store when this step ends a sweep. Advances the cursor.
    func sweep(bucket: Int64, newTraces: Int, nextSeq: Int64) -> (moved: Moved, mark: Int64?)? {
        tails.withLock { t -> (Moved, Int64?)? in
            guard var tail = t[bucket], tail.count > 0 || newTraces > 0 else { return nil }
            let (quotient, remainder) = (Self.groups * newTraces).quotientAndRemainder(dividingBy: sweepTraces)
            var steps = min(Self.groups - tail.cursor, max(1, quotient + (remainder > 0 ? 1 : 0)))
            // Traces spread over many partitions at once (a backfill of days) would keep a tail of up to two sweeps in
            // each: past `maxEntries` in all, each partition ends its sweep now, whatever it writes at once.
            if t.values.reduce(0, { $0 + $1.count }) > maxEntries { steps = Self.groups - tail.cursor }
            var entries: [(Key, Int64)] = []
            for g in tail.cursor..<(tail.cursor + steps) { entries += tail.groups[g].map { ($0.key, $0.value) } }
            entries.sort { $0.0.precedes($1.0) }
            tail.cursor += steps
            var mark: Int64?
            if entries.count == tail.count {
                // The tail empties: every trace numbered so far is in the table once this commits, and a new sweep
                // begins (so that a partition no longer written to is read back from its mark with nothing to scan).
                mark = nextSeq
                tail.cursor = 0
                tail.sweepStart = nextSeq
            } else if tail.cursor == Self.groups {
                // A sweep ended: every trace numbered below where it began has been moved.
                mark = tail.sweepStart
                tail.cursor = 0
                tail.sweepStart = nextSeq
            }
            t[bucket] = tail
            return (Moved(bucket: bucket, entries: entries), mark)
        }
    }

    /// Drops what a committed transaction moved.
    func committed(_ moved: [Moved]) {
        guard !moved.isEmpty else { return }
        tails.withLock { t in
            for m in moved {
                for (key, seq) in m.entries where t[m.bucket]?.groups[key.group][key] == seq {
                    t[m.bucket]?.groups[key.group][key] = nil
                    t[m.bucket]?.count -= 1
                }
            }
        }
    }
}
