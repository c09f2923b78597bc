import CollectorCore
import OTLP

/// The part of a request that one backend (an index into the ring's backends) receives.
struct RoutedPart: Sendable {
    var backend: Int
    var request: OutgoingRequest
}

/// Splits requests by ``RoutingKey`` over a ``HashRing``. A request whose items all belong to one backend goes
/// there as the bytes received; otherwise each backend gets a request holding only its items, under their own
/// resource and scope. Traces are split at the wire level, without decoding.
enum LoadBalancedRouting {
    static func route(_ traces: EncodedTraces, key: RoutingKey, ring: HashRing) -> [RoutedPart] {
        guard !ring.isEmpty, traces.spanCount > 0 else { return [] }
        var owners = [Int](repeating: 0, count: traces.spanCount)
        traces.bytes.withUnsafeBytes { buffer in
            for resource in traces.resources {
                var resourceOwner: Int?
                if key != .traceID {
                    resourceOwner = ring.owner(of: key == .service ? serviceKey(resource, buffer) : resourceKey(resource.key))
                }
                for scopeIndex in resource.scopes {
                    for spanIndex in traces.scopes[scopeIndex].spans {
                        owners[spanIndex] =
                            resourceOwner
                            ?? ring.owner(of: UnsafeRawBufferPointer(rebasing: buffer[traces.spans[spanIndex].traceID])) ?? 0
                    }
                }
            }
        }
        let distinct = Set(owners)
        if distinct.count == 1, let only = distinct.first {
            return [RoutedPart(backend: only, request: OutgoingRequest(signal: .traces, bytes: traces.bytes, items: traces.spanCount))]
        }
        return distinct.sorted().map { backend in
            let part = traces.subset { owners[$0] == backend }
            return RoutedPart(backend: backend, request: OutgoingRequest(signal: .traces, bytes: part.bytes, items: part.spanCount))
        }
    }

    static func route(_ metrics: ExportMetricsRequest, key: RoutingKey, ring: HashRing) throws -> [RoutedPart] {
        guard !ring.isEmpty else { return [] }
        var groups: [Int: ExportMetricsRequest] = [:]
        for rm in metrics.resourceMetrics {
            let backend = ring.owner(of: key == .resource ? resourceKey(rm.resource) : serviceKey(rm.resource)) ?? 0
            groups[backend, default: ExportMetricsRequest()].resourceMetrics.append(rm)
        }
        if groups.count == 1, let (backend, _) = groups.first {
            return [
                RoutedPart(
                    backend: backend,
                    request: OutgoingRequest(
                        signal: .metrics, bytes: try metrics.serializedBytes(),
                        items: metrics.dataPointCount))
            ]
        }
        return try groups.sorted { $0.key < $1.key }.map { backend, part in
            RoutedPart(backend: backend, request: OutgoingRequest(signal: .metrics, bytes: try part.serializedBytes(), items: part.dataPointCount))
        }
    }

    static func route(_ logs: ExportLogsRequest, key: RoutingKey, ring: HashRing) throws -> [RoutedPart] {
        guard !ring.isEmpty else { return [] }
        var groups: [Int: ExportLogsRequest] = [:]
        for rl in logs.resourceLogs {
            let resourceOwner: Int? =
                switch key {
                case .traceID: nil
                case .service: ring.owner(of: serviceKey(rl.resource))
                case .resource: ring.owner(of: resourceKey(rl.resource))
                }
            if let resourceOwner {
                groups[resourceOwner, default: ExportLogsRequest()].resourceLogs.append(rl)
                continue
            }
            // By trace ID, record by record; records without one go by their service.
            let fallback = ring.owner(of: serviceKey(rl.resource)) ?? 0
            var parts: [Int: ResourceLogs] = [:]
            for sl in rl.scopeLogs {
                var scoped: [Int: Opentelemetry_Proto_Logs_V1_ScopeLogs] = [:]
                for record in sl.logRecords {
                    let backend = record.traceID.count == 16 ? ring.owner(of: record.traceID) ?? fallback : fallback
                    if scoped[backend] == nil {
                        var empty = sl
                        empty.logRecords = []
                        scoped[backend] = empty
                    }
                    scoped[backend]?.logRecords.append(record)
                }
                for (backend, part) in scoped {
                    if parts[backend] == nil {
                        var empty = rl
                        empty.scopeLogs = []
                        parts[backend] = empty
                    }
                    parts[backend]?.scopeLogs.append(part)
                }
            }
            for (backend, part) in parts { groups[backend, default: ExportLogsRequest()].resourceLogs.append(part) }
        }
        return try groups.sorted { $0.key < $1.key }.map { backend, part in
            RoutedPart(backend: backend, request: OutgoingRequest(signal: .logs, bytes: try part.serializedBytes(), items: part.logRecordCount))
        }
    }

    /// Routes a request handed back by a backend that went away.
    static func route(_ request: OutgoingRequest, key: RoutingKey, ring: HashRing) throws -> [RoutedPart] {
        switch request.signal {
        case .traces:
            if let indexed = EncodedTraces(indexing: request.bytes) { return route(indexed, key: key, ring: ring) }
            return route(try EncodedTraces(encoding: try ExportTraceRequest(serializedBytes: request.bytes)), key: key, ring: ring)
        case .metrics:
            return try route(try ExportMetricsRequest(serializedBytes: request.bytes), key: key, ring: ring)
        case .logs:
            return try route(try ExportLogsRequest(serializedBytes: request.bytes), key: key, ring: ring)
        }
    }

    static func serviceKey(_ resource: Resource) -> [UInt8] {
        for kv in resource.attributes where kv.key == "service.name" {
            if case .stringValue(let s)? = kv.value.value { return Array(s.utf8) }
        }
        return []
    }

    static func serviceKey(_ resource: EncodedTraces.ResourceEntry, _ buffer: UnsafeRawBufferPointer) -> [UInt8] {
        resource.serviceName.map { Array(UnsafeRawBufferPointer(rebasing: buffer[$0])) } ?? []
    }

    /// The resource's attributes, sorted by key: the same resource gives the same key whatever the order sent.
    static func resourceKey(_ resource: Resource) -> [UInt8] {
        var out: [UInt8] = []
        for kv in resource.attributes.sorted(by: { $0.key < $1.key }) {
            out.append(contentsOf: kv.key.utf8)
            out.append(0)
            out.append(contentsOf: (try? kv.value.serializedBytes()) ?? [])
            out.append(0)
        }
        return out
    }

    /// The resource key of an indexed `ResourceSpans` (its encoding without the scopes).
    static func resourceKey(_ encodedResourceSpans: [UInt8]) -> [UInt8] {
        resourceKey((try? ResourceSpans(serializedBytes: encodedResourceSpans))?.resource ?? Resource())
    }
}

extension ExportLogsRequest {
    var logRecordCount: Int { resourceLogs.reduce(0) { $0 + $1.scopeLogs.reduce(0) { $0 + $1.logRecords.count } } }
}
