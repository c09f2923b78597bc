import Foundation
import Synchronization

/// Translated metric names by the bytes of (OTLP name, unit) and the kind: name translation is string work that
/// the same few metrics would otherwise repeat for every request. A lookup hashes the bytes where they lie in the
/// request and compares them with the stored ones: no string is built and nothing is allocated on a hit.
///
/// Bounded: cleared when it reaches `limit` entries; names and units over `maxKeyBytes` together are translated
/// every time instead of being kept.
final class MetricNameCache: Sendable {
    /// A metric's family name for one kind, and whether the metric can be written at all (its gauge name is a valid
    /// Prometheus name: a name with no letters or digits cannot be).
    struct Entry: Sendable, Equatable {
        var family: String
        var writable: Bool
    }

    private struct Stored {
        var kind: PrometheusNaming.Kind
        var name: [UInt8]
        var unit: [UInt8]
        var entry: Entry

        func matches(_ name: UnsafeRawBufferPointer, _ unit: UnsafeRawBufferPointer, _ kind: PrometheusNaming.Kind) -> Bool {
            self.kind == kind && Self.equal(self.name, name) && Self.equal(self.unit, unit)
        }

        /// `memcmp`: `elementsEqual` took ~350 instructions for a 20-byte name.
        private static func equal(_ stored: [UInt8], _ bytes: UnsafeRawBufferPointer) -> Bool {
            stored.withUnsafeBytes { s in
                guard s.count == bytes.count else { return false }
                guard let a = s.baseAddress, let b = bytes.baseAddress else { return true }
                return memcmp(a, b, s.count) == 0
            }
        }
    }

    /// By the hash of kind, name and unit. Two keys with one hash (which a seeded hash makes as good as impossible to
    /// arrange) take turns in the slot: each lookup compares the bytes, so neither ever gets the other's entry.
    private let cache = Mutex<[Int: Stored]>([:])
    let limit: Int
    let maxKeyBytes: Int

    init(limit: Int = 10_000, maxKeyBytes: Int = 1_024) {
        self.limit = limit
        self.maxKeyBytes = maxKeyBytes
    }

    /// The entry for the metric whose name and unit are the UTF-8 bytes `name` and `unit`; `make` builds it on a
    /// miss.
    func entry(
        name: UnsafeRawBufferPointer, unit: UnsafeRawBufferPointer, kind: PrometheusNaming.Kind, make: () -> Entry
    ) -> Entry {
        guard name.count + unit.count <= maxKeyBytes else { return make() }
        var hasher = Hasher()
        hasher.combine(kind)
        hasher.combine(name.count)
        hasher.combine(bytes: name)
        hasher.combine(bytes: unit)
        let digest = hasher.finalize()
        let hit = cache.withLock { c -> Entry? in
            guard let stored = c[digest], stored.matches(name, unit, kind) else { return nil }
            return stored.entry
        }
        if let hit { return hit }
        let made = make()
        let stored = Stored(kind: kind, name: Array(name), unit: Array(unit), entry: made)
        cache.withLock { c in
            if c.count >= limit { c.removeAll(keepingCapacity: true) }
            c[digest] = stored
        }
        return made
    }

    /// The same for a metric whose name and unit are strings.
    func entry(name: String, unit: String, kind: PrometheusNaming.Kind, make: () -> Entry) -> Entry {
        var name = name
        var unit = unit
        return name.withUTF8 { n in
            unit.withUTF8 { u in entry(name: UnsafeRawBufferPointer(n), unit: UnsafeRawBufferPointer(u), kind: kind, make: make) }
        }
    }

    /// Entries held (for tests).
    var count: Int { cache.withLock { $0.count } }
}
