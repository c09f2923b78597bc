import CollectorCore
import Logging
import OTLP
import ServiceLifecycle
import Synchronization

/// The `loadbalancing` exporter: sends each span (log record, metric resource) to one of several OTLP/gRPC
/// backends chosen on a consistent-hash ring by ``RoutingKey``, so every span of a trace reaches the same backend
/// even across requests. Each backend has its own connection, in-memory ``SendingQueue``, retries and circuit
/// breaker, so a retry resends only what that backend failed. When the resolver drops a backend, what was queued
/// or in flight for it is routed again over the remaining ones.
public final class LoadBalancingExporter: Exporter, TracesConsumer, MetricsConsumer, LogsConsumer {
    /// One backend: its upstream and queue, and the signal that retires it.
    final class Backend: Sendable {
        let endpoint: String
        let upstream: GRPCUpstream
        let queue: SendingQueue
        let retirement: AsyncStream<Void>
        let retire: AsyncStream<Void>.Continuation

        init(endpoint: String, upstream: GRPCUpstream, queue: SendingQueue) {
            self.endpoint = endpoint
            self.upstream = upstream
            self.queue = queue
            (retirement, retire) = AsyncStream.makeStream()
        }
    }

    private struct State {
        var ring = HashRing(backends: [])
        /// Indexed like `ring.backends`.
        var backends: [Backend] = []
        var closed = false
        var start: AsyncStream<Event>.Continuation?
    }

    private enum Event: Sendable {
        case start(Backend)
        case shutdown
    }

    let config: LoadBalancingExporterConfig
    let context: ComponentContext
    let resolver: any BackendResolver
    private let state = Mutex(State())
    private let telemetry: ForwardingTelemetry
    private let resolutions: [Bool: TelemetryCounter]

    public init(config: LoadBalancingExporterConfig, context: ComponentContext, resolver: (any BackendResolver)? = nil) {
        self.config = config
        self.context = context
        switch config.resolver {
        case .fixed(let hostnames): self.resolver = resolver ?? StaticResolver(hostnames: hostnames)
        case .dns(let hostname, let port, let interval, let timeout):
            self.resolver = resolver ?? DNSResolver(hostname: hostname, port: port, interval: interval, timeout: timeout)
        }
        telemetry = ForwardingTelemetry(context: context)
        let name = self.resolver.name
        resolutions = [
            true: context.telemetry.counter(
                "otelcol_loadbalancer_num_resolutions_total", help: "Number of times the resolver was asked for backends.",
                labels: ["exporter": context.id.description, "resolver": name, "success": "true"]),
            false: context.telemetry.counter(
                "otelcol_loadbalancer_num_resolutions_total", help: "Number of times the resolver was asked for backends.",
                labels: ["exporter": context.id.description, "resolver": name, "success": "false"]),
        ]
        context.telemetry.gauge(
            "otelcol_loadbalancer_num_backends", help: "Current number of backends in use.",
            labels: ["exporter": context.id.description, "resolver": name]
        ) { [weak self] in
            Double(self?.state.withLock { $0.backends.count } ?? 0)
        }
    }

    public var consumers: SignalConsumers { SignalConsumers(traces: self, metrics: self, logs: self) }
    public var countsItsOwnDelivery: Bool { true }

    /// The backends in use now, sorted.
    public var backendEndpoints: [String] { state.withLock { $0.ring.backends } }

    // MARK: - Routing

    private func routed(_ split: (HashRing) throws -> [RoutedPart]) throws -> [(Backend, OutgoingRequest)] {
        let (ring, backends) = state.withLock { ($0.ring, $0.backends) }
        guard !ring.isEmpty else { throw PipelineError.retryable("no backend is available yet (resolver \(resolver.name))") }
        return try split(ring).map { (backends[$0.backend], $0.request) }
    }

    /// Queues each part with its backend. A part whose backend was retired meanwhile is routed again; a part that
    /// cannot be queued fails the export (retryably), so the sender resends it, and the backends that took their
    /// parts may then receive those twice.
    private func submit(_ parts: [(Backend, OutgoingRequest)], rerouting: Bool = true) async throws {
        var failures: [PipelineError] = []
        for (backend, request) in parts {
            do { try await backend.queue.submit(request) } catch {
                if rerouting && backend.queue.isHandingOff,
                    let again = try? routed({ try LoadBalancedRouting.route(request, key: key(for: request.signal), ring: $0) })
                {
                    do {
                        try await submit(again, rerouting: false)
                        continue
                    } catch {
                        failures.append(PipelineError.classify(error))
                        continue
                    }
                }
                telemetry.recordEnqueueFailed(request.signal, items: request.items)
                failures.append(PipelineError.classify(error))
            }
        }
        if let failure = PipelineError.combine(failures) { throw failure }
    }

    private var tracesKey: RoutingKey { config.routingKey ?? .traceID }
    private var metricsKey: RoutingKey { config.routingKey == .resource ? .resource : .service }
    private var logsKey: RoutingKey { config.routingKey ?? .traceID }

    public func consume(_ traces: EncodedTraces) async throws {
        try await submit(try routed { LoadBalancedRouting.route(traces, key: tracesKey, ring: $0) })
    }

    public func consume(_ traces: ExportTraceRequest) async throws {
        try await consume(try EncodedTraces(encoding: traces))
    }

    public func consume(_ metrics: ExportMetricsRequest) async throws {
        try await submit(try routed { try LoadBalancedRouting.route(metrics, key: metricsKey, ring: $0) })
    }

    public func consume(_ metrics: EncodedMetrics) async throws {
        try await consume(try metrics.decoded())
    }

    public func consume(_ logs: ExportLogsRequest) async throws {
        try await submit(try routed { try LoadBalancedRouting.route(logs, key: logsKey, ring: $0) })
    }

    // MARK: - Backends

    private func makeBackend(_ endpoint: String) throws -> Backend {
        var settings = config.backend
        guard let parsed = Self.hostAndPort(endpoint) else {
            throw PipelineError.permanent("backend \"\(endpoint)\" is not host:port")
        }
        settings.host = parsed.host
        settings.port = parsed.port
        let upstream = try GRPCUpstream(config: settings, credentials: UpstreamCredentials(settings.auth, context: context))
        let telemetry = self.telemetry
        var outcome: [Bool: TelemetryCounter] = [:]
        for success in [true, false] {
            outcome[success] = context.telemetry.counter(
                "otelcol_loadbalancer_backend_outcome_total", help: "Requests finished per backend: delivered (success) or dropped.",
                labels: ["exporter": context.id.description, "endpoint": endpoint, "success": "\(success)"])
        }
        let outcomes = outcome
        var logger = context.logger
        logger[metadataKey: "backend"] = "\(endpoint)"
        let queue = SendingQueue(
            settings: settings.queue, retry: settings.retry, breaker: settings.circuitBreaker, sender: upstream,
            clock: context.clock, logger: logger
        ) { report in
            telemetry.record(report)
            switch report.outcome {
            case .delivered: outcomes[true]?.add(1)
            case .dropped: outcomes[false]?.add(1)
            case .kept: break
            }
        }
        let backend = Backend(endpoint: endpoint, upstream: upstream, queue: queue)
        telemetry.registerQueueGauges(extraLabels: ["backend": endpoint], breakerEnabled: settings.circuitBreaker.enabled) { [weak self] in
            self?.state.withLock { $0.backends.first { $0.endpoint == endpoint }?.queue }
        }
        return backend
    }

    /// `host:port` or `[v6]:port`.
    static func hostAndPort(_ endpoint: String) -> (host: String, port: Int)? {
        guard let colon = endpoint.lastIndex(of: ":"), let port = Int(endpoint[endpoint.index(after: colon)...]), (1...65535).contains(port) else {
            return nil
        }
        var host = Substring(endpoint[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        return host.isEmpty ? nil : (String(host), port)
    }

    /// Makes `endpoints` the backends: new ones are connected, removed ones retired (their data routed again).
    /// Called by one task at a time (the resolver loop); backends are built outside the lock, since building one
    /// registers gauges whose readers take it.
    func apply(_ endpoints: [String]) {
        let wanted = Set(endpoints)
        let current = state.withLock { $0.closed ? nil : $0.backends }
        guard let current, wanted != Set(current.map(\.endpoint)) else { return }
        var kept: [String: Backend] = [:]
        var retired: [Backend] = []
        for b in current {
            if wanted.contains(b.endpoint) { kept[b.endpoint] = b } else { retired.append(b) }
        }
        var started: [Backend] = []
        for endpoint in wanted.sorted() where kept[endpoint] == nil {
            do {
                let b = try makeBackend(endpoint)
                kept[endpoint] = b
                started.append(b)
            } catch {
                context.logger.error("cannot use backend", metadata: ["backend": "\(endpoint)", "error": "\(error)"])
            }
        }
        let installed = state.withLock { s -> Bool in
            guard !s.closed else { return false }
            s.ring = HashRing(backends: kept.keys)
            s.backends = s.ring.backends.compactMap { kept[$0] }
            for b in started { s.start?.yield(.start(b)) }
            return true
        }
        guard installed else { return }
        context.logger.info(
            "backends changed",
            metadata: [
                "backends": "\(endpoints.sorted().joined(separator: ","))", "added": "\(started.map(\.endpoint).joined(separator: ","))",
                "removed": "\(retired.map(\.endpoint).joined(separator: ","))",
            ])
        for b in retired {
            b.queue.beginHandoff()
            b.retire.finish()
        }
    }

    /// Runs one backend until it is retired or the exporter stops; a retired backend's leftovers are routed again.
    private func run(_ backend: Backend) async {
        let client = backend.upstream.client
        await withDiscardingTaskGroup { group in
            group.addTask { await backend.queue.run() }
            for await _ in backend.retirement {}
            // Retired (or the exporter is stopping): in-flight sends end now.
            group.cancelAll()
        }
        client.close()
        let leftovers = backend.queue.takeLeftovers()
        guard !leftovers.isEmpty else { return }
        var moved = 0
        var lost = 0
        for request in leftovers {
            do {
                let parts = try routed { try LoadBalancedRouting.route(request, key: key(for: request.signal), ring: $0) }
                try await submit(parts)
                moved += request.items
            } catch {
                lost += request.items
                telemetry.record(DeliveryReport(signal: request.signal, items: request.items, outcome: .dropped, reason: "\(error)"))
            }
        }
        context.logger.info(
            "routed a removed backend's data to the others",
            metadata: [
                "backend": "\(backend.endpoint)", "items_moved": "\(moved)", "items_dropped": "\(lost)",
            ])
    }

    private func key(for signal: Signal) -> RoutingKey {
        switch signal {
        case .traces: tracesKey
        case .metrics: metricsKey
        case .logs: logsKey
        }
    }

    private func resolveLoop() async {
        var failedBefore = false
        while !Task.isCancelled {
            do {
                let endpoints = try await resolver.resolve()
                resolutions[true]?.add(1)
                if endpoints.isEmpty {
                    context.logger.warning("the resolver found no backends; keeping the current ones", metadata: ["resolver": "\(resolver.name)"])
                } else {
                    apply(endpoints)
                }
                failedBefore = false
            } catch {
                resolutions[false]?.add(1)
                if !failedBefore {
                    context.logger.warning(
                        "resolving backends failed; keeping the current ones",
                        metadata: ["resolver": "\(resolver.name)", "error": "\(error)"])
                }
                failedBefore = true
            }
            guard let interval = resolver.interval else { return }
            do { try await context.clock.sleep(for: interval) } catch { return }
        }
    }

    /// Resolves and sends until graceful shutdown; then takes nothing more, lets the queues drain for up to 10 s,
    /// drops what is left (in memory: logged and counted) and closes the connections.
    public func run() async throws {
        let (events, eventSink) = AsyncStream<Event>.makeStream()
        state.withLock { $0.start = eventSink }
        await withDiscardingTaskGroup { group in
            group.addTask {
                try? await gracefulShutdown()
                eventSink.yield(.shutdown)
            }
            let resolving = Task { await self.resolveLoop() }
            group.addTask {
                await withTaskCancellationHandler {
                    await resolving.value
                } onCancel: {
                    resolving.cancel()
                }
            }
            for await event in events {
                guard case .start(let backend) = event else { break }
                group.addTask { await self.run(backend) }
            }
            resolving.cancel()
            let backends = state.withLock { s in
                s.closed = true
                s.start = nil
                return s.backends
            }
            for b in backends { b.queue.close() }
            let deadline = ContinuousClock.now + .seconds(10)
            while backends.contains(where: { $0.queue.size > 0 }), ContinuousClock.now < deadline, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(20))
            }
            let left = backends.reduce(0) { $0 + $1.queue.size }
            if left > 0 { context.logger.warning("shutting down with exports still queued; they are dropped", metadata: ["queued": "\(left)"]) }
            for b in backends { b.retire.finish() }
            group.cancelAll()
        }
    }
}

/// Registers the `loadbalancing` exporter under its otelcol names, `loadbalancing` and `load_balancing`.
public struct LoadBalancingExporterFactory: ExporterFactory {
    public let type: String
    public init(type: String = "loadbalancing") { self.type = type }
    public var kind: ComponentKind { .exporter }
    public var signals: Set<Signal> { [.traces, .metrics, .logs] }
    public var summary: String { "spreads OTLP/gRPC over several backends by trace ID (or service, resource) on a consistent-hash ring" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { LoadBalancingExporterConfig(reading: reader) }

    public func makeExporter(config: any ComponentConfig, context: ComponentContext) throws -> any Exporter {
        LoadBalancingExporter(config: try config.as(LoadBalancingExporterConfig.self, for: type), context: context)
    }
}
