import CollectorCore
import OTLP
import ServiceLifecycle

/// The `forward` connector: hands what one pipeline exports to the pipelines that list it as a receiver, signal
/// for signal (traces to traces pipelines, and so on), unchanged. Used to join pipelines, e.g. several receiving
/// pipelines into one that processes and exports. `consume` returns when the downstream pipelines accepted the
/// data, so an acknowledgement still means the data reached the exporters.
public struct ForwardConnector: Connector {
    let next: SignalConsumers

    public init(next: SignalConsumers) { self.next = next }

    public var consumers: SignalConsumers { next }

    public func run() async throws {
        try? await gracefulShutdown()
    }
}

/// Registers the `forward` connector.
public struct ForwardConnectorFactory: ConnectorFactory {
    public init() {}
    public var type: String { "forward" }
    public var kind: ComponentKind { .connector }
    public var signals: Set<Signal> { [.traces, .metrics, .logs] }
    public var exporterSignals: Set<Signal> { [.traces, .metrics, .logs] }
    public var receiverSignals: Set<Signal> { [.traces, .metrics, .logs] }
    public func connects(_ from: Signal, to: Signal) -> Bool { from == to }
    public var summary: String { "passes data from one pipeline to others of the same signal, unchanged" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { ForwardConnectorConfig() }

    public func makeConnector(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Connector {
        ForwardConnector(next: next)
    }
}

/// The `forward` connector has no settings.
public struct ForwardConnectorConfig: ComponentConfig {}
