import CollectorCore
import Logging
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

    /// Builds every component. Throws when a component cannot be built (e.g. a database cannot be opened).
    public init(config: CollectorConfig, logger: Logger) throws {
        self.config = config
        let listening = ListeningAddresses()
        self.listening = listening
        func context(_ id: ComponentID, _ kind: ComponentKind) -> ComponentContext {
            var l = logger
            l[metadataKey: "component"] = "\(kind)/\(id)"
            return ComponentContext(id: id, logger: l, listening: listening)
        }

        var exporters: [ComponentID: any Exporter] = [:]
        for (id, configured) in config.exporters.sorted(by: { $0.key < $1.key }) {
            guard let factory = configured.factory as? any ExporterFactory else { continue }
            exporters[id] = try factory.makeExporter(config: configured.config, context: context(id, .exporter))
        }

        var processors: [any Processor] = []
        var heads: [PipelineID: SignalConsumers] = [:]
        for (pid, pipeline) in config.pipelines.sorted(by: { $0.key < $1.key }) {
            var next = SignalConsumers.fanout(pipeline.exporters.compactMap { exporters[$0]?.consumers.only(pid.signal) })
            for id in pipeline.processors.reversed() {
                guard let configured = config.processors[id], let factory = configured.factory as? any ProcessorFactory else { continue }
                let p = try factory.makeProcessor(config: configured.config, next: next, context: context(id, .processor))
                processors.append(p)
                next = p.consumers.only(pid.signal)
            }
            heads[pid] = next
        }

        pipelineEntries = heads

        // Extensions are built after exporters so that they can use them (the query API reads the sqlite store).
        var extensions: [any Extension] = []
        let host = ExtensionHost(exporters: exporters)
        for id in config.serviceExtensions {
            guard let configured = config.extensions[id], let factory = configured.factory as? any ExtensionFactory else { continue }
            extensions.append(try factory.makeExtension(config: configured.config, host: host, context: context(id, .extension)))
        }

        var receivers: [any Receiver] = []
        for (id, configured) in config.receivers.sorted(by: { $0.key < $1.key }) {
            guard let factory = configured.factory as? any ReceiverFactory else { continue }
            let feeds = config.pipelines.filter { $0.value.receivers.contains(id) }.compactMap { heads[$0.key] }
            receivers.append(try factory.makeReceiver(config: configured.config, next: .fanout(feeds), context: context(id, .receiver)))
        }
        services = exporters.sorted(by: { $0.key < $1.key }).map { $0.value as any Service } + processors + extensions + receivers
    }

    /// The service group that runs every component; graceful shutdown stops receivers first and exporters last.
    /// - Parameter signals: signals that start a graceful shutdown (none in tests, which trigger it directly).
    public func serviceGroup(logger: Logger, signals: [UnixSignal] = [.sigterm, .sigint]) -> ServiceGroup {
        var configuration = ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
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
