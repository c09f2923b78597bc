import CollectorCore
import Logging
import OTLP
import ServiceLifecycle

/// The `sqlite` exporter: stores traces and logs durably in SQLite. An export completes when its spans or log
/// records are committed.
public struct SQLiteExporter: QueryableExporter, TracesConsumer, LogsConsumer {
    public let store: SQLiteTraceStore

    public var queryableStore: SQLiteTraceStore { store }

    public init(store: SQLiteTraceStore) { self.store = store }

    public var consumers: SignalConsumers { SignalConsumers(traces: self, logs: self) }

    public func consume(_ traces: ExportTraceRequest) async throws {
        try await store.append(traces)
    }

    /// Stores the spans' bytes as they arrived: no decode, no re-encode.
    public func consume(_ traces: EncodedTraces) async throws {
        try await store.append(traces)
    }

    public func consume(_ logs: ExportLogsRequest) async throws {
        try await store.append(logs)
    }

    /// Stores the records' bytes as they arrived.
    public func consume(_ logs: EncodedLogs) async throws {
        try await store.append(logs)
    }

    /// Checkpoints the WAL every second and applies retention (every 10 s) until shutdown, then commits what was
    /// accepted and closes.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                store.checkpointInBackground()
                store.scheduleRetention()
            }
        }
        await store.close()
    }
}

/// Registers the `sqlite` exporter.
public struct SQLiteExporterFactory: QueryableExporterFactory {
    public init() {}
    public var type: String { "sqlite" }
    public var kind: ComponentKind { .exporter }
    public var signals: Set<Signal> { [.traces, .logs] }
    public var summary: String { "stores traces and logs durably in a SQLite database (WAL, time partitions, retention)" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { SQLiteStoreConfig(reading: reader) }

    public func makeExporter(config: any ComponentConfig, context: ComponentContext) throws -> any Exporter {
        let c = try config.as(SQLiteStoreConfig.self, for: "sqlite")
        let id = context.id.description
        let store = try SQLiteTraceStore(
            config: c, logger: context.logger, telemetry: SQLiteStoreTelemetry(registry: context.telemetry, exporter: id))
        SQLiteStoreTelemetry.registerGauges(context.telemetry, exporter: id, store: store)
        return SQLiteExporter(store: store)
    }
}
