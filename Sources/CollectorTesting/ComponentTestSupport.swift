import CollectorCore
import Logging
import ServiceLifecycle

/// Reads one component's settings from YAML the way the collector does (path `processors::<type>`), returning the
/// config and every problem reported, unknown keys included.
public func readComponentConfig(
    _ factory: any ComponentFactory, yaml: String, id: String? = nil
) -> (config: any ComponentConfig, problems: [String]) {
    let parsed = ConfigLoader.parse(yaml: yaml, environment: [:])
    let problems = ConfigProblems()
    for p in parsed.problems { problems.add(p) }
    let reader = ConfigReader(parsed.node, path: [factory.kind.section, id ?? factory.type], problems: problems)
    let config = factory.readConfig(reader)
    reader.finish()
    return (config, problems.all.map(\.description))
}

/// Runs one service (a processor, an exporter) in its own service group, as the collector does, so tests can
/// trigger a graceful shutdown and wait for it to finish.
public final class RunningService: Sendable {
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    public init(_ service: any Service) {
        var logger = Logger(label: "test-service")
        logger.logLevel = .warning
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: service)], gracefulShutdownSignals: [], logger: logger))
        self.group = group
        task = Task { try await group.run() }
    }

    /// Graceful shutdown (as on SIGTERM); returns when the service's `run` has returned.
    public func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}
