import CollectorCore
import Logging
import PrometheusExporter
import ServiceLifecycle
import UnixSignals

/// The running collector: every component built from a config and wired receivers → processors → exporters.
///
/// Start order is exporters, processors, extensions (those `service.extensions` lists), receivers; on graceful
/// shutdown (SIGTERM) the service group stops them in reverse order, so receivers stop taking data first, in-flight
/// requests finish against live exporters, extensions (the query API) stop next, and exporters drain and close last.
public struct Collector: Sendable {
    public let services: [any Service]
    /// Each pipeline's entry point: what its receivers deliver to (the first processor, or the exporters' fan-out).
    /// Benchmarks and tests feed pipelines through these without a network hop.
    public let pipelineEntries: [PipelineID: SignalConsumers]
    public let listening: ListeningAddresses
    public let config: CollectorConfig
    /// otelsink's own metrics, served by ``selfTelemetry`` (`service.telemetry.metrics.address`).
    public let telemetry: TelemetryRegistry
    /// The `GET /metrics` server for ``telemetry``; `nil` when `service.telemetry.metrics.level` is `none`. It runs
    /// first and stops last (see ``serviceGroup(logger:signals:)``), so the final counts stay scrapeable.
    public let selfTelemetry: (any Service)?
    /// Starting, ready (every receiver listens) or stopping: what the `health_check` extension reports.
    public let status: CollectorStatus

    /// Builds every component. Throws when a component cannot be built (e.g. a database cannot be opened).
    public init(config: CollectorConfig, logger: Logger) throws {
        self.config = config
        let listening = ListeningAddresses()
        self.listening = listening
        let telemetry = TelemetryRegistry()
        self.telemetry = telemetry
        let directory = ExtensionDirectory()
        let status = CollectorStatus()
        self.status = status
        func context(_ id: ComponentID, _ kind: ComponentKind) -> ComponentContext {
            var l = logger
            l[metadataKey: "component"] = "\(kind)/\(id)"
            return ComponentContext(id: id, logger: l, listening: listening, telemetry: telemetry, extensions: directory)
        }
        if let address = config.telemetryMetricsAddress {
            ProcessTelemetry.register(telemetry)
            selfTelemetry = SelfTelemetryServer(
                address: address, listener: config.telemetryListener, registry: telemetry,
                context: context(ComponentID(type: "telemetry"), .extension))
        } else {
            selfTelemetry = nil
        }

        // Storage extensions come first: exporters open their persistent queues in them when they are built.
        var storage: [any Extension] = []
        for id in config.serviceExtensions {
            guard let configured = config.extensions[id], let factory = configured.factory as? any StorageExtensionFactory else { continue }
            let built = try factory.makeExtension(config: configured.config, host: ExtensionHost(exporters: [:]), context: context(id, .extension))
            directory.register(built, as: id)
            storage.append(built)
        }

        var exporters: [ComponentID: any Exporter] = [:]
        var exporterInputs: [ComponentID: SignalConsumers] = [:]
        for (id, configured) in config.exporters.sorted(by: { $0.key < $1.key }) {
            guard let factory = configured.factory as? any ExporterFactory else { continue }
            let exporter = try factory.makeExporter(config: configured.config, context: context(id, .exporter))
            exporters[id] = exporter
            let used = Set(config.pipelines.filter { $0.value.exporters.contains(id) }.map(\.key.signal))
            let inputs = exporter.consumers.restricted(to: used)
            exporterInputs[id] = exporter.countsItsOwnDelivery ? inputs : inputs.observedAsExporter(id, registry: telemetry)
        }
        // Connectors are built before the pipelines they feed exist; their output is bound once those are built.
        var connectors: [ComponentID: any Connector] = [:]
        var connectorOutputs: [ComponentID: LateBoundConsumers] = [:]
        var pipelineOutputs: [PipelineID: LateBoundConsumers] = [:]
        for (id, configured) in config.connectors.sorted(by: { $0.key < $1.key }) {
            guard let factory = configured.factory as? any ConnectorFactory else { continue }
            let output = LateBoundConsumers()
            connectorOutputs[id] = output
            let fed = Set(config.pipelines.filter { $0.value.receivers.contains(id) }.keys)
            var byPipeline: [PipelineID: SignalConsumers] = [:]
            for pid in fed {
                let late = pipelineOutputs[pid] ?? LateBoundConsumers()
                pipelineOutputs[pid] = late
                byPipeline[pid] = late.consumers([pid.signal])
            }
            let selected = byPipeline
            let outputs = ConnectorOutputs(
                all: output.consumers(factory.receiverSignals), pipelines: fed,
                select: { ids in .fanout(ids.compactMap { selected[$0] }) })
            let connector = try factory.makeConnector(config: configured.config, outputs: outputs, context: context(id, .connector))
            connectors[id] = connector
            exporterInputs[id] = connector.consumers
        }

        var processors: [any Processor] = []
        var heads: [PipelineID: SignalConsumers] = [:]
        for (pid, pipeline) in config.pipelines.sorted(by: { $0.key < $1.key }) {
            var next = SignalConsumers.fanout(pipeline.exporters.compactMap { exporterInputs[$0]?.only(pid.signal) })
            for id in pipeline.processors.reversed() {
                guard let configured = config.processors[id], let factory = configured.factory as? any ProcessorFactory else { continue }
                let p = try factory.makeProcessor(
                    config: configured.config, next: next.observedAsProcessorOutput(id, registry: telemetry),
                    context: context(id, .processor))
                processors.append(p)
                next = p.consumers.only(pid.signal).observedAsProcessorInput(id, registry: telemetry)
            }
            heads[pid] = next
        }

        pipelineEntries = heads
        for (id, output) in connectorOutputs {
            output.bind(.fanout(config.pipelines.filter { $0.value.receivers.contains(id) }.compactMap { heads[$0.key] }))
        }
        for (pid, output) in pipelineOutputs {
            if let head = heads[pid] { output.bind(head) }
        }

        // Extensions are built after exporters so that they can use them (the query API reads the sqlite store).
        var extensions: [any Extension] = []
        let host = ExtensionHost(exporters: exporters, status: status)
        for id in config.serviceExtensions {
            guard let configured = config.extensions[id], let factory = configured.factory as? any ExtensionFactory,
                !(factory is any StorageExtensionFactory)
            else { continue }
            let built = try factory.makeExtension(config: configured.config, host: host, context: context(id, .extension))
            directory.register(built, as: id)
            extensions.append(built)
        }

        var receivers: [any Receiver] = []
        var receiverIDs: [ComponentID] = []
        for (id, configured) in config.receivers.sorted(by: { $0.key < $1.key }) {
            guard let factory = configured.factory as? any ReceiverFactory else { continue }
            let feeds = config.pipelines.filter { $0.value.receivers.contains(id) }.compactMap { heads[$0.key] }
            let next = ReceiverObserver(registry: telemetry, receiver: id).wrap(.fanout(feeds))
            receivers.append(try factory.makeReceiver(config: configured.config, next: next, context: context(id, .receiver)))
            receiverIDs.append(id)
        }
        // Connectors stop after receivers and the query API, and before the processors and exporters they feed;
        // storage stops last, after the exporters that keep their queues in it. The readiness marker comes last so
        // that it is the first to hear of a shutdown: health probes fail before receivers stop taking data.
        let marker = ReadinessMarker(status: status, listening: listening, receivers: receiverIDs)
        var all: [any Service] = storage
        all += exporters.sorted(by: { $0.key < $1.key }).map { $0.value as any Service }
        all += processors as [any Service]
        all += connectors.sorted(by: { $0.key < $1.key }).map { $0.value as any Service }
        all += extensions as [any Service]
        all += receivers as [any Service]
        all.append(marker)
        services = all
    }

    /// The service group that runs every component; graceful shutdown stops receivers first and exporters last.
    /// - Parameter signals: signals that start a graceful shutdown (none in tests, which trigger it directly).
    public func serviceGroup(logger: Logger, signals: [UnixSignal] = [.sigterm, .sigint]) -> ServiceGroup {
        var configuration = ServiceGroupConfiguration(
            services: ((selfTelemetry.map { [$0] } ?? []) + services).map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: signals,
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = .seconds(30)
        return ServiceGroup(configuration: configuration)
    }

    /// Runs until SIGTERM/SIGINT, then shuts down gracefully.
    public func run(logger: Logger) async throws {
        try await serviceGroup(logger: logger).run()
    }
}
