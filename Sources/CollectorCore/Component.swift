import Logging
import OTLP
import ServiceLifecycle

/// Settings every component type reads from config. Each factory returns its own concrete type.
public protocol ComponentConfig: Sendable {}

/// What every factory says about itself: its type name, kind, signals and a one-line description.
public protocol ComponentFactory: Sendable {
    /// The name used in config (`otlp`, `sqlite`, `debug`).
    var type: String { get }
    var kind: ComponentKind { get }
    /// The signals it handles; empty for extensions.
    var signals: Set<Signal> { get }
    /// One line for `otelsink components`.
    var summary: String { get }
    /// Reads and validates the component's settings; problems go to `reader` (with their paths). The returned
    /// config is only used when the whole file had no problems.
    func readConfig(_ reader: ConfigReader) -> any ComponentConfig
}

/// Where a component reports the addresses it listens on (so tests and logs can see bound ports).
public final class ListeningAddresses: Sendable {
    private let store = LockedValue<[String: String]>([:])
    public init() {}

    /// Records that `component` serves `protocolName` on `address` (`127.0.0.1:4317`).
    public func record(component: ComponentID, protocolName: String, address: String) {
        store.withLock { $0["\(component)/\(protocolName)"] = address }
    }

    /// The address `component` serves `protocolName` on, once it is listening.
    public func address(component: ComponentID, protocolName: String) -> String? {
        store.withLock { $0["\(component)/\(protocolName)"] }
    }

    public var all: [String: String] { store.withLock { $0 } }

    /// Whether `component` has announced at least one address.
    public func isListening(component: ComponentID) -> Bool {
        let prefix = "\(component)/"
        return store.withLock { $0.keys.contains { $0.hasPrefix(prefix) } }
    }
}

/// What a component is given when it is built.
public struct ComponentContext: Sendable {
    public var id: ComponentID
    public var logger: Logger
    public var listening: ListeningAddresses
    /// The clock time-driven components (batch timeouts, decision windows, check intervals) use; tests pass a
    /// manual clock so they never sleep.
    public var clock: any MonotonicClock
    /// otelsink's own metrics; components register their instruments here when they are built.
    public var telemetry: TelemetryRegistry
    /// The running extensions that components refer to by ID: authenticators (`auth: {authenticator: ID}`, looked
    /// up when a listener starts) and storage (`sending_queue: {storage: ID}`, looked up when an exporter is built).
    public var extensions: ExtensionDirectory

    public init(
        id: ComponentID, logger: Logger, listening: ListeningAddresses = ListeningAddresses(), clock: any MonotonicClock = SystemClock(),
        telemetry: TelemetryRegistry = TelemetryRegistry(), extensions: ExtensionDirectory = ExtensionDirectory()
    ) {
        self.id = id
        self.logger = logger
        self.listening = listening
        self.clock = clock
        self.telemetry = telemetry
        self.extensions = extensions
    }
}

extension ComponentContext {
    /// Records that this component serves `protocolName` on `address` and logs the `listening` line that tests and
    /// operators read to find bound ports.
    public func announceListening(protocolName: String, address: String) {
        listening.record(component: id, protocolName: protocolName, address: address)
        logger.info("listening", metadata: ["protocol": "\(protocolName)", "address": "\(address)"])
    }
}

/// A receiver: serves until graceful shutdown, then stops taking new data, lets in-flight requests finish and returns.
///
/// It is built with its downstream consumers and owns what it listens on. `run` is its lifetime (swift-service-
/// lifecycle): it binds, announces its address (``ComponentContext/announceListening(protocolName:address:)``),
/// serves, and on graceful shutdown refuses new connections or calls, answers those in flight (within a bounded
/// drain) and returns. Receivers start last and stop first, so every request they accepted meets running
/// processors and exporters.
public protocol Receiver: Service {}

/// An exporter: the end of a pipeline. Its `run` keeps it alive until graceful shutdown, then it drains what it accepted.
///
/// It owns its destination (a database, a file, connections upstream) and its queue. Its ``consumers`` are called
/// concurrently (see ``TracesConsumer``) from the moment it is built; exporters start first and stop last, so
/// when `run` sees graceful shutdown no receiver is sending any more: it delivers or persists what it accepted,
/// closes its destination, and returns.
public protocol Exporter: Service {
    var consumers: SignalConsumers { get }
    /// True for exporters that count `otelcol_exporter_sent_*` and `send_failed_*` themselves, when their queue
    /// delivers or gives up (forwarding exporters); otherwise the collector counts what `consume` accepted.
    var countsItsOwnDelivery: Bool { get }
}

extension Exporter {
    public var countsItsOwnDelivery: Bool { false }
}

/// A processor sits between receivers and exporters; it is built with its downstream `next` consumers.
///
/// One instance serves one pipeline. Its ``consumers`` are called concurrently and pass data on to `next` (in the
/// same call, or later from its own task, as `batch` does); state shared between calls is its to guard. A
/// processor that holds data (`batch`, `tail_sampling`) sends or drops it before its `run` returns at graceful
/// shutdown, which comes after the receivers stopped and before the exporters stop.
public protocol Processor: Service {
    var consumers: SignalConsumers { get }
}

public protocol ReceiverFactory: ComponentFactory {
    /// Builds the receiver. `next` holds one consumer per signal it should deliver (those pipelines that list it).
    func makeReceiver(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Receiver
}

public protocol ExporterFactory: ComponentFactory {
    func makeExporter(config: any ComponentConfig, context: ComponentContext) throws -> any Exporter
}

public protocol ProcessorFactory: ComponentFactory {
    /// Builds one instance for one pipeline (processors are never shared between pipelines, as in otelcol).
    func makeProcessor(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Processor
}

/// A connector: the exporter of one pipeline and the receiver of another (`spanmetrics`: traces in, metrics out).
///
/// As an exporter its ``consumers`` are called concurrently; what it produces goes to the consumers of the
/// pipelines it feeds, given when it is built. It stops as an exporter of its input pipelines does, after their
/// receivers, and flushes what it holds (pending edges, metric state) before `run` returns.
public protocol Connector: Service {
    /// What the pipelines that list it as an exporter deliver to.
    var consumers: SignalConsumers { get }
}

public protocol ConnectorFactory: ComponentFactory {
    /// Signals it takes as an exporter.
    var exporterSignals: Set<Signal> { get }
    /// Signals it produces as a receiver.
    var receiverSignals: Set<Signal> { get }
    /// Whether data taken from a `from` pipeline comes out into `to` pipelines (`spanmetrics`: traces to metrics;
    /// `forward`: each signal to the same signal). By default any taken signal to any produced one.
    func connects(_ from: Signal, to: Signal) -> Bool
    /// Builds the connector; `next` feeds the pipelines that list it as a receiver.
    func makeConnector(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Connector
    /// Builds the connector with access to each pipeline it feeds (the `routing` connector sends data to some of
    /// them). By default, `makeConnector(config:next:context:)` with all of them.
    func makeConnector(config: any ComponentConfig, outputs: ConnectorOutputs, context: ComponentContext) throws -> any Connector
    /// Problems with the connector's settings given the pipelines it feeds (`feeds`, by signal), reported at the
    /// connector's path by validation; none by default.
    func problems(config: any ComponentConfig, feeds: [PipelineID]) -> [String]
}

extension ConnectorFactory {
    public func connects(_ from: Signal, to: Signal) -> Bool { exporterSignals.contains(from) && receiverSignals.contains(to) }

    public func makeConnector(config: any ComponentConfig, outputs: ConnectorOutputs, context: ComponentContext) throws -> any Connector {
        try makeConnector(config: config, next: outputs.all, context: context)
    }

    public func problems(config: any ComponentConfig, feeds: [PipelineID]) -> [String] { [] }
}

/// The pipelines a connector feeds: all of them together, or the ones it picks.
public struct ConnectorOutputs: Sendable {
    /// Every pipeline that lists the connector as a receiver.
    public let all: SignalConsumers
    /// Their IDs.
    public let pipelines: Set<PipelineID>
    private let select: @Sendable ([PipelineID]) -> SignalConsumers

    public init(all: SignalConsumers, pipelines: Set<PipelineID>, select: @escaping @Sendable ([PipelineID]) -> SignalConsumers) {
        self.all = all
        self.pipelines = pipelines
        self.select = select
    }

    /// The given pipelines together (each delivery goes to every one of them); IDs it does not feed are skipped.
    public func feeding(_ ids: [PipelineID]) -> SignalConsumers { select(ids) }
}

/// Raised when a factory is handed a config of another component's type (a programming error in the registry).
public struct ConfigTypeMismatch: Error, CustomStringConvertible {
    public var component: String
    public init(component: String) { self.component = component }
    public var description: String { "internal error: \(component) was given a config of another type" }
}

extension ComponentConfig {
    /// Casts to the factory's own config type.
    public func `as`<C: ComponentConfig>(_ type: C.Type, for component: String) throws -> C {
        guard let c = self as? C else { throw ConfigTypeMismatch(component: component) }
        return c
    }
}
