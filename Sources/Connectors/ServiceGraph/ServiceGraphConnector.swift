import CollectorCore
import Foundation
import OTLP
import ServiceLifecycle
import Synchronization

/// The `servicegraph` connector: the requests between services, from the spans both sides record, as otelcol's
/// service graph metrics (what Grafana's service graph panel reads from Prometheus).
///
/// A CLIENT (or PRODUCER) span and the SERVER (or CONSUMER) span whose parent it is describe one request; they
/// meet in a bounded store under (trace ID, client span ID) and wait there up to `store.ttl` for each other. A
/// complete pair counts one request on the edge (client service, server service, connection type, failed,
/// dimensions): `traces_service_graph_request_total`, `…_failed_total` and the server- and client-side latency
/// histograms `traces_service_graph_request_server` / `_client` (seconds). A client span with a database name
/// attribute completes at once with the database as server. An edge that expires unpaired is counted, removed,
/// and recorded with a virtual node for its missing side when otelcol would: a root server span's caller is
/// `user`; a client span's server is named by its first `virtual_node_peer_attributes` value (else `unknown`).
///
/// `consume` reads each span's side before taking the lock, then pairs the whole request under it once. Expiry,
/// stale-series removal and flushing down the metrics pipelines run on timers in `run()`, and the metrics are
/// flushed once more at shutdown.
public final class ServiceGraphConnector: Connector, TracesConsumer, Sendable {
    let config: ServiceGraphConfig
    let next: any MetricsConsumer
    let context: ComponentContext
    let attributes: ServiceGraphAttributes
    /// Spans not kept because the store was full (`otelcol_connector_servicegraph_dropped_spans`).
    let droppedSpans: TelemetryCounter
    /// Edges that expired before their other side arrived (`otelcol_connector_servicegraph_expired_edges`).
    let expiredEdges: TelemetryCounter
    /// Edges created (`otelcol_connector_servicegraph_total_edges`).
    let totalEdges: TelemetryCounter
    /// Requests counted in the overflow series because `max_series` was reached.
    let overflowEdges: TelemetryCounter
    let state: Mutex<State>
    private let startNanos = UInt64(Date().timeIntervalSince1970 * 1e9)

    struct State: Sendable {
        var store: ServiceGraphEdgeStore
        var series: ServiceGraphSeries
        var names = ServiceGraphNames()
    }

    /// What one pass under the lock did, for the counters (updated after the lock is released).
    struct Tally {
        var dropped = 0
        var expired = 0
        var created = 0
        var overflowed = 0
    }

    public init(config: ServiceGraphConfig, next: any MetricsConsumer, context: ComponentContext) {
        self.config = config
        self.next = next
        self.context = context
        attributes = ServiceGraphAttributes(
            peers: config.virtualNodePeerAttributes, databases: config.databaseNameAttributes,
            dimensions: config.dimensions)
        state = Mutex(
            State(
                store: ServiceGraphEdgeStore(maxItems: config.storeMaxItems, ttl: config.storeTTL),
                series: ServiceGraphSeries(bounds: config.latencyHistogramBuckets, maxSeries: config.maxSeries)))
        let labels: TelemetryLabels = ["connector": context.id.description]
        let t = context.telemetry
        droppedSpans = t.counter(
            "otelcol_connector_servicegraph_dropped_spans_total",
            help: "Number of spans dropped when trying to add edges (store.max_items reached).", labels: labels)
        expiredEdges = t.counter(
            "otelcol_connector_servicegraph_expired_edges_total",
            help: "Number of edges that expired before finding their matching span.", labels: labels)
        totalEdges = t.counter("otelcol_connector_servicegraph_total_edges_total", help: "Total number of unique edges.", labels: labels)
        overflowEdges = t.counter(
            "otelsink_servicegraph_overflow_edges_total",
            help: "Requests counted in the overflow series because max_series was reached.", labels: labels)
    }

    public var consumers: SignalConsumers { SignalConsumers(traces: self) }

    /// Edges waiting for their other side now.
    public var pendingEdges: Int { state.withLock { $0.store.count } }

    public func consume(_ request: ExportTraceRequest) async throws {
        var sides: [ServiceGraphSpanSide] = []
        sides.reserveCapacity(request.spanCount)
        let attributes = self.attributes
        let wantsDimensions = !attributes.dimensionNames.isEmpty
        for rs in request.resourceSpans {
            let resourceAttributes = rs.resource.attributes
            guard let service = Self.serviceName(resourceAttributes) else { continue }  // otelcol skips these too
            let fromResource = attributes.values(resourceAttributes)
            for ss in rs.scopeSpans {
                for span in ss.spans {
                    guard let (side, messaging) = ServiceGraphSide.of(kind: span.kind.rawValue) else { continue }
                    guard let trace = Self.traceWords(span.traceID) else { continue }
                    let keySpan: UInt64
                    if side == .client {
                        guard let id = Self.spanWord(span.spanID), id != 0 else { continue }
                        keySpan = id
                    } else {
                        let parent = span.parentSpanID
                        if parent.isEmpty {
                            keySpan = 0
                        } else {
                            guard let id = Self.spanWord(parent) else { continue }
                            keySpan = id
                        }
                    }
                    let start = span.startTimeUnixNano
                    let end = span.endTimeUnixNano
                    var s = ServiceGraphSpanSide(
                        key: ServiceGraphEdgeKey(traceHigh: trace.0, traceLow: trace.1, span: keySpan), side: side, messaging: messaging,
                        service: service, seconds: end > start ? Double(end - start) * 1e-9 : 0, failed: span.statusCode == .error,
                        peer: nil, database: nil, dimensions: [])
                    if side == .client || wantsDimensions {
                        let fromSpan = attributes.values(span.attributes, onlyDimensions: side == .server)
                        attributes.resolve(into: &s, resource: fromResource, span: fromSpan)
                    }
                    sides.append(s)
                }
            }
        }
        let now = context.clock.now
        let tally = state.withLock { s in Self.pair(sides, now: now, state: &s, config: config) }
        count(tally)
        if config.metricsFlushInterval == .zero { await flush() }
    }

    /// Folds the spans into the store, records what completes and what had to expire to make room.
    static func pair(_ sides: [ServiceGraphSpanSide], now: Duration, state s: inout State, config: ServiceGraphConfig) -> Tally {
        var tally = Tally()
        var expired: [ServiceGraphEdge] = []
        var memo = ServiceGraphNames.Memo()
        let hashes = sides.map { ServiceGraphEdgeStore.hash($0.key) }
        s.store.keep(s.store.warm(hashes))
        for (side, hash) in zip(sides, hashes) {
            let interned = s.names.intern(side, memo: &memo)
            // The edge that stays holds a reference to each of its names; what it held before and the side's own
            // references are given back (a name in both is counted up before it is counted down).
            switch s.store.upsert(interned, hash: hash, now: now, expired: &expired) {
            case .completed(let old, let edge):
                if old == nil { tally.created += 1 }
                if !s.series.record(edge, now: now, names: &s.names) { tally.overflowed += 1 }
                if let old { s.names.release(old) }
            case .inserted(let edge):
                tally.created += 1
                s.names.retain(edge)
            case .updated(let old, let edge):
                s.names.retain(edge)
                s.names.release(old)
            case .dropped: tally.dropped += 1
            }
            s.names.release(interned)
        }
        s.names.end(memo)
        for edge in expired { expire(edge, now: now, state: &s, config: config, tally: &tally) }
        return tally
    }

    /// Counts an expired edge and records it with a virtual node for its missing side, as otelcol does (with the
    /// `connector.servicegraph.virtualNode` feature gate on, its default): only when `virtual_node_peer_attributes`
    /// is not empty; a server side without a parent gets the client `user`; a client side gets the server named by
    /// its peer attribute, else `unknown`. A server side whose parent span never arrived is not recorded. The
    /// edge's names are given back.
    static func expire(_ edge: ServiceGraphEdge, now: Duration, state s: inout State, config: ServiceGraphConfig, tally: inout Tally) {
        tally.expired += 1
        defer { s.names.release(edge) }
        guard !config.virtualNodePeerAttributes.isEmpty else { return }
        var e = edge
        e.connectionType = .virtualNode
        if e.client < 0 && e.key.isRootServer {
            e.client = s.names.user
            if config.virtualNodeExtraLabel { e.virtualNode = .client }
            if !s.series.record(e, now: now, names: &s.names) { tally.overflowed += 1 }
        }
        if e.server < 0 {
            e.server = e.peer >= 0 ? e.peer : s.names.unknown
            if config.virtualNodeExtraLabel { e.virtualNode = .server }
            if !s.series.record(e, now: now, names: &s.names) { tally.overflowed += 1 }
        }
    }

    func count(_ tally: Tally) {
        if tally.dropped > 0 { droppedSpans.add(tally.dropped) }
        if tally.expired > 0 { expiredEdges.add(tally.expired) }
        if tally.created > 0 { totalEdges.add(tally.created) }
        if tally.overflowed > 0 { overflowEdges.add(tally.overflowed) }
    }

    /// Removes the edges that have waited `store.ttl`, counting them and recording virtual nodes; at most
    /// ``expiryBatch`` per hold of the lock, so that `consume` calls wait for a short stretch of it, not for the
    /// whole tick's work (tens of thousands of edges at high rates).
    public func expire() {
        let now = context.clock.now
        var more = true
        while more {
            let (tally, full) = state.withLock { s -> (Tally, Bool) in
                var tally = Tally()
                var edges: [ServiceGraphEdge] = []
                edges.reserveCapacity(Self.expiryBatch)
                // In runs of 64: the table entries of a run are read together before it is removed.
                while edges.count < Self.expiryBatch, s.store.popExpired(now: now, limit: 64, into: &edges) > 0 {}
                for edge in edges { Self.expire(edge, now: now, state: &s, config: config, tally: &tally) }
                return (tally, edges.count >= Self.expiryBatch)
            }
            count(tally)
            more = full
        }
    }

    /// Edges expired per hold of the lock.
    static let expiryBatch = 256

    /// Removes series not updated for 15 minutes (otelcol's rule).
    public func removeStaleSeries() {
        let now = context.clock.now
        state.withLock { s in _ = s.series.removeStale(now: now, names: &s.names) }
    }

    /// The cumulative metrics as of now.
    public func metrics(nowNanos: UInt64 = UInt64(Date().timeIntervalSince1970 * 1e9)) -> ExportMetricsRequest {
        let (entries, names) = state.withLock { ($0.series.entries, $0.names) }
        let offset = config.metricsTimestampOffset.components
        let offsetNanos = UInt64(clamping: offset.seconds) &* 1_000_000_000 &+ UInt64(clamping: offset.attoseconds / 1_000_000_000)
        return ServiceGraphSeries.metrics(
            entries, names: names, bounds: config.latencyHistogramBuckets, dimensionNames: config.dimensions,
            virtualNodeLabel: config.virtualNodeExtraLabel, startNanos: startNanos,
            timeNanos: nowNanos > offsetNanos ? nowNanos - offsetNanos : 0)
    }

    /// Sends the cumulative metrics downstream (nothing before the first request is recorded).
    public func flush() async {
        let request = metrics()
        guard !request.resourceMetrics.isEmpty else { return }
        do { try await next.consume(request) } catch {
            context.logger.warning("service graph metrics were not accepted downstream", metadata: ["error": "\(error)"])
        }
    }

    public func run() async throws {
        let clock = context.clock
        let config = self.config
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await Self.every(config.storeExpirationLoop, clock) { self.expire() } }
                group.addTask { await Self.every(config.cacheLoop, clock) { self.removeStaleSeries() } }
                if config.metricsFlushInterval > .zero {
                    group.addTask { await Self.every(config.metricsFlushInterval, clock) { await self.flush() } }
                }
            }
        }
        await flush()
    }

    /// Runs `body` every `interval` until the task is cancelled.
    static func every(_ interval: Duration, _ clock: any MonotonicClock, _ body: @Sendable () async -> Void) async {
        while !Task.isCancelled {
            do { try await clock.sleep(for: interval) } catch { return }
            await body()
        }
    }

    /// `service.name` as text (otelcol takes any value type); nil when absent or empty.
    static func serviceName(_ attributes: [KeyValue]) -> String? {
        for kv in attributes where kv.key == "service.name" {
            guard let s = ServiceGraphAttributes.text(kv.value), !s.isEmpty else { return nil }
            return s
        }
        return nil
    }

    @inline(__always)
    static func traceWords(_ id: Data) -> (UInt64, UInt64)? {
        guard id.count == 16 else { return nil }
        let words = id.withUnsafeBytes { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
        return words.0 | words.1 == 0 ? nil : words
    }

    @inline(__always)
    static func spanWord(_ id: Data) -> UInt64? {
        guard id.count == 8 else { return nil }
        return id.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
    }
}

extension ServiceGraphAttributes {
    /// Sets the span side's peer, database and dimensions from the values found on its resource and on the span
    /// (slots as ``values(_:onlyDimensions:)`` gives them).
    @inline(__always)
    func resolve(into s: inout ServiceGraphSpanSide, resource: [String?]?, span: [String?]?) {
        guard resource != nil || span != nil else {
            if !dimensionNames.isEmpty { s.dimensions = Array(repeating: nil, count: dimensionNames.count) }
            return
        }
        if s.side == .client {
            // Peers: span attributes only, first present name wins.
            if let span { s.peer = span[0..<peerNames.count].lazy.compactMap { $0 }.first }
            // Database: for each name in order, the resource's value, then the span's.
            for i in 0..<databaseNames.count {
                let slot = peerNames.count + i
                if let v = resource?[slot] ?? span?[slot] {
                    s.database = v
                    break
                }
            }
        }
        if !dimensionNames.isEmpty {
            let first = peerNames.count + databaseNames.count
            s.dimensions = (0..<dimensionNames.count).map { resource?[first + $0] ?? span?[first + $0] }
        }
    }
}

/// Registers the `servicegraph` connector.
public struct ServiceGraphConnectorFactory: ConnectorFactory {
    public init() {}
    public var type: String { "servicegraph" }
    public var kind: ComponentKind { .connector }
    public var signals: Set<Signal> { [.traces, .metrics] }
    public var exporterSignals: Set<Signal> { [.traces] }
    public var receiverSignals: Set<Signal> { [.metrics] }
    public var summary: String {
        "service graph metrics (requests between services, failures, latency) from client/server span pairs: traces in, metrics out"
    }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { ServiceGraphConfig(reading: reader) }

    public func makeConnector(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Connector {
        guard let metrics = next.metrics else { throw PipelineError.permanent("servicegraph needs a metrics pipeline to feed") }
        return ServiceGraphConnector(config: try config.as(ServiceGraphConfig.self, for: type), next: metrics, context: context)
    }
}
