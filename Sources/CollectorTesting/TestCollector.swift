import CollectorCore
import CollectorService
import Foundation
import Logging
import ServiceLifecycle

/// A real collector for tests: built from YAML, listening on the ports it is given (use port 0), stopped gracefully.
public final class TestCollector: Sendable {
    public let collector: Collector
    private let group: ServiceGroup
    private let task: Task<Void, any Error>
    /// Why the collector stopped, once it has (a receiver that could not bind, a component that failed to start).
    private let ended = LockedValue<String?>(nil)

    /// Starts a collector and waits until every receiver protocol in the config is listening.
    /// - Parameter selfTelemetryAddress: where self-telemetry listens; a free loopback port by default (tests run many
    ///   collectors at once), `nil` for none.
    public init(
        yaml: String, registry: ComponentRegistry = .builtin, environment: [String: String] = [:],
        selfTelemetryAddress: String? = "127.0.0.1:0"
    ) async throws {
        var config = try CollectorConfig.load(yaml: yaml, environment: environment, registry: registry)
        config.telemetryMetricsAddress = selfTelemetryAddress
        var logger = Logger(label: "test-collector")
        logger.logLevel = .warning
        collector = try Collector(config: config, logger: logger)
        let group = collector.serviceGroup(logger: logger, signals: [])
        self.group = group
        let ended = self.ended
        task = Task {
            do {
                try await group.run()
                ended.withLock { $0 = "stopped" }
            } catch {
                ended.withLock { $0 = "failed: \(error)" }
                throw error
            }
        }
    }

    /// The `host:port` that `receiver` serves `protocolName` (`grpc`, `http`) on; waits (up to 60 s) until it listens.
    public func address(_ receiver: String = "otlp", _ protocolName: String) async throws -> (host: String, port: Int) {
        let key = "\(receiver)/\(protocolName)"
        // Generous: in the full debug test run the suites share two cores, and a collector has taken ~20 s to listen.
        let deadline = ContinuousClock.now + .seconds(60)
        while collector.listening.all[key] == nil, ContinuousClock.now < deadline {
            if let why = ended.withLock({ $0 }) { throw TestCollectorError.notListening("\(key) (the collector \(why))") }
            try await Task.sleep(for: .milliseconds(10))
        }
        guard let text = collector.listening.all[key],
            let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...])
        else { throw TestCollectorError.notListening("\(receiver)/\(protocolName)") }
        return (String(text[..<colon]), port)
    }

    /// Graceful shutdown, as on SIGTERM; returns when every component has stopped.
    public func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }
}

public enum TestCollectorError: Error { case notListening(String) }
