import Synchronization

/// The labels around the points of one scope, by the wire bytes of the resource, scope and schema URL they come
/// from: the resource's `target_info` label set, its attributes as label candidates (with
/// `resource_to_telemetry_conversion`), the fixed labels (`job`, `instance`, const and `otel_scope_*` labels) and
/// the ``LabelSetCache`` context number. Building them decodes the resource and scope messages; exporters send the
/// same few with every request.
///
/// Bounded: cleared when it holds `limit` entries or `limitBytes` of keys; keys over `maxKeyBytes` are not cached.
final class ScopeLabelsCache: Sendable {
    struct Labels: Sendable {
        var target: String?
        var resourcePairs: [PrometheusLabels.Entry]
        var fixed: [PrometheusLabels.Entry]
        var context: UInt64
    }

    private let entries = Mutex<(labels: [ByteKey: Labels], bytes: Int)>(([:], 0))
    let limit: Int
    let limitBytes: Int
    let maxKeyBytes: Int

    init(limit: Int = 1_024, limitBytes: Int = 4 << 20, maxKeyBytes: Int = 64 << 10) {
        self.limit = max(1, limit)
        self.limitBytes = limitBytes
        self.maxKeyBytes = maxKeyBytes
    }

    /// The key for a resource, scope and schema URL (each a protobuf payload; lengths keep the parts apart).
    static func key(resource: ArraySlice<UInt8>, scope: ArraySlice<UInt8>, schemaURL: ArraySlice<UInt8>) -> ByteKey {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16 + resource.count + scope.count + schemaURL.count)
        for part in [resource, scope] {
            withUnsafeBytes(of: UInt64(part.count).littleEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: part)
        }
        bytes.append(contentsOf: schemaURL)
        return ByteKey(bytes)
    }

    func labels(_ key: ByteKey, make: () throws -> Labels) rethrows -> Labels {
        if let hit = entries.withLock({ $0.labels[key] }) { return hit }
        let made = try make()
        let size = key.bytes.count
        guard size <= maxKeyBytes else { return made }
        entries.withLock { e in
            if e.labels.count >= limit || e.bytes + size > limitBytes {
                e.labels.removeAll(keepingCapacity: true)
                e.bytes = 0
            }
            e.labels[key] = made
            e.bytes += size
        }
        return made
    }

    var count: Int { entries.withLock { $0.labels.count } }
}
