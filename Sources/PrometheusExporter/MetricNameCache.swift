import Synchronization

/// Translated metric names by (OTLP name, unit, kind): name translation is string work that the same few metrics
/// would otherwise repeat for every request. Bounded: cleared when it reaches `limit` entries.
final class MetricNameCache: Sendable {
    struct Key: Hashable {
        var name: String
        var unit: String
        var kind: PrometheusNaming.Kind
    }

    private let cache = Mutex<[Key: String]>([:])
    let limit: Int

    init(limit: Int = 10_000) { self.limit = limit }

    func name(_ name: String, unit: String, kind: PrometheusNaming.Kind, make: () -> String) -> String {
        let key = Key(name: name, unit: unit, kind: kind)
        if let hit = cache.withLock({ $0[key] }) { return hit }
        let made = make()
        cache.withLock { c in
            if c.count >= limit { c.removeAll(keepingCapacity: true) }
            c[key] = made
        }
        return made
    }
}
