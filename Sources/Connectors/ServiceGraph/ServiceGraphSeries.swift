import CollectorCore
import OTLP

/// The cumulative request counts and latency histograms of every edge of the graph seen so far, one series per
/// (client, server, connection type, failed, dimensions), and their OTLP form with otelcol's metric names.
///
/// Bounded: at most `maxSeries` series; edges of further series are counted in one overflow series. Series not
/// updated for ``ServiceGraphConfig/staleSeriesAge`` are removed by ``removeStale(now:)``. Not thread-safe; the
/// connector holds it under its lock.
struct ServiceGraphSeries: Sendable {
    /// A series' identity, its names as numbers of ``ServiceGraphNames`` (each holding a reference): a few plain
    /// words, hashed without reading any string.
    struct Key: Hashable, Sendable {
        var client: Int32
        var server: Int32
        var clientDimensions: Int32
        var serverDimensions: Int32
        var connectionType: ServiceGraphConnectionType
        var failed: Bool
        var virtualNode: ServiceGraphVirtualNode
        var overflow = false

        static let overflowKey = Key(
            client: -1, server: -1, clientDimensions: -1, serverDimensions: -1, connectionType: .unset, failed: false,
            virtualNode: .none, overflow: true)
    }

    /// A series' identity in text, for output.
    struct Labels: Sendable {
        var client: String
        var server: String
        var connectionType: ServiceGraphConnectionType
        var failed: Bool
        var clientDimensions: [String?]
        var serverDimensions: [String?]
        var virtualNode: String
        var overflow: Bool

        init(_ key: Key, names: ServiceGraphNames) {
            client = names.text[key.client] ?? ""
            server = names.text[key.server] ?? ""
            connectionType = key.connectionType
            failed = key.failed
            clientDimensions = names.dimensions[key.clientDimensions] ?? []
            serverDimensions = names.dimensions[key.serverDimensions] ?? []
            virtualNode = key.virtualNode.label
            overflow = key.overflow
        }
    }

    struct Entry: Sendable {
        var total: UInt64 = 0
        var failed: UInt64 = 0
        var serverCounts: [UInt64]
        var serverSum: Double = 0
        var clientCounts: [UInt64]
        var clientSum: Double = 0
        var lastUpdated: Duration
    }

    let bounds: [Double]
    let maxSeries: Int
    private(set) var entries: [Key: Entry] = [:]

    init(bounds: [Double], maxSeries: Int) {
        self.bounds = bounds
        self.maxSeries = max(1, maxSeries)
    }

    /// Records one request; a new series takes references to the edge's names. Returns false when it went to the
    /// overflow series.
    @discardableResult
    mutating func record(_ edge: ServiceGraphEdge, now: Duration, names: inout ServiceGraphNames) -> Bool {
        let key = Key(
            client: edge.client, server: edge.server, clientDimensions: edge.clientDimensions,
            serverDimensions: edge.serverDimensions, connectionType: edge.connectionType, failed: edge.failed,
            virtualNode: edge.virtualNode)
        var index = entries.index(forKey: key)
        var counted = true
        if index == nil {
            var newKey = key
            if entries.count >= maxSeries {
                newKey = .overflowKey
                counted = false
                index = entries.index(forKey: newKey)
            }
            if index == nil {
                names.retain(newKey)
                entries[newKey] = Entry(
                    serverCounts: Array(repeating: 0, count: bounds.count + 1),
                    clientCounts: Array(repeating: 0, count: bounds.count + 1), lastUpdated: now)
                index = entries.index(forKey: newKey)
            }
        }
        guard let i = index else { return counted }
        entries.values[i].total += 1
        if edge.failed { entries.values[i].failed += 1 }
        entries.values[i].serverCounts[bucket(edge.serverSeconds)] += 1
        entries.values[i].serverSum += edge.serverSeconds
        entries.values[i].clientCounts[bucket(edge.clientSeconds)] += 1
        entries.values[i].clientSum += edge.clientSeconds
        entries.values[i].lastUpdated = now
        return counted
    }

    /// The bucket of `value`: the first whose upper bound is at least `value` (bounds are inclusive, as in
    /// Prometheus and otelcol), or the last, unbounded one.
    func bucket(_ value: Double) -> Int {
        var lo = 0
        var hi = bounds.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if bounds[mid] < value { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Removes series last updated before `now - age`, giving back their names; returns how many.
    @discardableResult
    mutating func removeStale(now: Duration, names: inout ServiceGraphNames, age: Duration = ServiceGraphConfig.staleSeriesAge) -> Int {
        let stale = entries.filter { now - $0.value.lastUpdated >= age }
        guard !stale.isEmpty else { return 0 }
        for key in stale.keys {
            entries[key] = nil
            names.release(key)
        }
        return stale.count
    }

    /// The series as OTLP metrics: `traces_service_graph_request_total`, `…_failed_total` (series with failures),
    /// and the `traces_service_graph_request_server` / `_client` histograms in seconds, all cumulative, in one
    /// resource without attributes and the scope `traces_service_graph`. Empty when nothing was recorded.
    static func metrics(
        _ entries: [Key: Entry], names: ServiceGraphNames, bounds: [Double], dimensionNames: [String], virtualNodeLabel: Bool,
        startNanos: UInt64, timeNanos: UInt64
    ) -> ExportMetricsRequest {
        var request = ExportMetricsRequest()
        guard !entries.isEmpty else { return request }
        let sorted = entries.map { (key: Labels($0.key, names: names), entry: $0.value) }.sorted { Self.precedes($0.key, $1.key) }

        var total = Opentelemetry_Proto_Metrics_V1_Sum()
        total.isMonotonic = true
        total.aggregationTemporality = .cumulative
        var failed = total
        var server = Opentelemetry_Proto_Metrics_V1_Histogram()
        server.aggregationTemporality = .cumulative
        var client = server
        for (key, entry) in sorted {
            let attributes = Self.attributes(key, dimensionNames: dimensionNames, virtualNodeLabel: virtualNodeLabel)
            var p = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
            p.attributes = attributes
            p.startTimeUnixNano = startNanos
            p.timeUnixNano = timeNanos
            p.asInt = Int64(clamping: entry.total)
            total.dataPoints.append(p)
            if entry.failed > 0 {
                p.asInt = Int64(clamping: entry.failed)
                failed.dataPoints.append(p)
            }
            var h = Opentelemetry_Proto_Metrics_V1_HistogramDataPoint()
            h.attributes = attributes
            h.startTimeUnixNano = startNanos
            h.timeUnixNano = timeNanos
            h.explicitBounds = bounds
            h.count = entry.total
            h.bucketCounts = entry.serverCounts
            h.sum = entry.serverSum
            server.dataPoints.append(h)
            h.bucketCounts = entry.clientCounts
            h.sum = entry.clientSum
            client.dataPoints.append(h)
        }
        var metrics: [Opentelemetry_Proto_Metrics_V1_Metric] = []
        var m = Opentelemetry_Proto_Metrics_V1_Metric()
        m.name = "traces_service_graph_request_total"
        m.sum = total
        metrics.append(m)
        if !failed.dataPoints.isEmpty {
            m = Opentelemetry_Proto_Metrics_V1_Metric()
            m.name = "traces_service_graph_request_failed_total"
            m.sum = failed
            metrics.append(m)
        }
        m = Opentelemetry_Proto_Metrics_V1_Metric()
        m.name = "traces_service_graph_request_server"
        m.unit = "s"
        m.histogram = server
        metrics.append(m)
        m = Opentelemetry_Proto_Metrics_V1_Metric()
        m.name = "traces_service_graph_request_client"
        m.unit = "s"
        m.histogram = client
        metrics.append(m)

        var sm = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
        sm.scope.name = "traces_service_graph"
        sm.metrics = metrics
        var rm = ResourceMetrics()
        rm.scopeMetrics = [sm]
        request.resourceMetrics = [rm]
        return request
    }

    /// The labels of a series: `client`, `server`, `connection_type`, `failed`, then `client_<d>` and
    /// `server_<d>` for each dimension with a value, then `virtual_node` when asked for.
    static func attributes(_ key: Labels, dimensionNames: [String], virtualNodeLabel: Bool) -> [KeyValue] {
        if key.overflow {
            var kv = KeyValue()
            kv.key = "otel.metric.overflow"
            kv.value.boolValue = true
            return [kv]
        }
        var out = [kv("client", key.client), kv("server", key.server), kv("connection_type", key.connectionType.label)]
        var failed = KeyValue()
        failed.key = "failed"
        failed.value.boolValue = key.failed
        out.append(failed)
        for (i, name) in dimensionNames.enumerated() {
            if i < key.clientDimensions.count, let v = key.clientDimensions[i] { out.append(kv("client_" + name, v)) }
            if i < key.serverDimensions.count, let v = key.serverDimensions[i] { out.append(kv("server_" + name, v)) }
        }
        if virtualNodeLabel { out.append(kv("virtual_node", key.virtualNode)) }
        return out
    }

    static func kv(_ key: String, _ value: String) -> KeyValue {
        var kv = KeyValue()
        kv.key = key
        kv.value = .string(value)
        return kv
    }

    /// A fixed order of series, so that output is stable.
    static func precedes(_ a: Labels, _ b: Labels) -> Bool {
        if a.overflow != b.overflow { return !a.overflow }
        if a.client != b.client { return a.client < b.client }
        if a.server != b.server { return a.server < b.server }
        if a.connectionType != b.connectionType { return a.connectionType.rawValue < b.connectionType.rawValue }
        if a.failed != b.failed { return !a.failed }
        if a.virtualNode != b.virtualNode { return a.virtualNode < b.virtualNode }
        // Absent values (and a side without any) sort first: the client's values, then the server's.
        func text(_ d: [String?]) -> [String] { d.map { $0.map { "+" + $0 } ?? "" } }
        if a.clientDimensions != b.clientDimensions { return text(a.clientDimensions).lexicographicallyPrecedes(text(b.clientDimensions)) }
        return text(a.serverDimensions).lexicographicallyPrecedes(text(b.serverDimensions))
    }
}
