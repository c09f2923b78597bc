import CollectorCore
import Logging
import NIOCore
import NIOPosix
import NIOServing
import SQLiteStore
import ServiceLifecycle

/// The `query` extension: serves the Jaeger-compatible query API over the database of a `sqlite` exporter.
public struct QueryExtension: Extension {
    let config: QueryConfig
    let service: TraceQueryService
    let context: ComponentContext

    public init(config: QueryConfig, reader: TraceReader, context: ComponentContext) {
        self.config = config
        self.service = TraceQueryService(reader: reader, config: config)
        self.context = context
    }

    /// Listens until graceful shutdown; then stops accepting, lets requests in flight finish (bounded) and returns.
    public func run() async throws {
        let latency = QueryAPILatency(registry: context.telemetry)
        let authenticator = try config.auth.map { try context.extensions.authenticator($0) }
        let router = QueryRouter(service: service, observe: { route, took in latency.observe(route: route, took) }, authenticator: authenticator)
        let options = try ListenerOptions(config.listener, applicationProtocols: ["http/1.1"])
        let group = MultiThreadedEventLoopGroup(numberOfThreads: Self.eventLoops)
        do {
            let server = try await QueryHTTPServer.bind(
                endpoint: config.endpoint, router: router, options: options, group: group, logger: context.logger)
            context.announceListening(protocolName: "http", address: server.localAddress)
            await withTaskCancellationOrGracefulShutdownHandler {
                await server.waitUntilClosed()
            } onCancelOrGracefulShutdown: {
                server.beginGracefulShutdown()
            }
            await server.drain()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try? await group.shutdownGracefully()
    }

    /// The query API's own event loops: point reads run on them (``QueryRouter/isPointRead(_:)``), so they must not
    /// be the receivers'. One per core, at least two (a large trace read on one loop leaves the other free), at most
    /// the store's concurrent readers; each costs about 0.5 MiB resident at idle.
    static let eventLoops = min(SQLiteTraceStore.maximumReaderCount, max(2, System.coreCount))
}

/// Registers the `query` extension.
public struct QueryExtensionFactory: ExtensionFactory {
    public init() {}
    public var type: String { "query" }
    public var kind: ComponentKind { .extension }
    public var signals: Set<Signal> { [] }
    public var summary: String { "Jaeger-compatible query API (/api/traces, /api/v3/…) over a sqlite exporter's database" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { QueryConfig(reading: reader) }

    public func checkReferences(config: any ComponentConfig, in collector: CollectorConfig, report: (String, String) -> Void) {
        guard let c = config as? QueryConfig else { return }
        guard let id = try? ComponentID(parsing: c.storage), let exporter = collector.exporters[id] else {
            report("storage", "references exporter \"\(c.storage)\", which is not defined under exporters")
            return
        }
        if !(exporter.factory is any QueryableExporterFactory) {
            report(
                "storage",
                "exporter \"\(c.storage)\" is of type \(exporter.factory.type), which cannot serve queries; the query API reads a sqlite exporter")
        }
    }

    public func makeExtension(config: any ComponentConfig, host: ExtensionHost, context: ComponentContext) throws -> any Extension {
        let c = try config.as(QueryConfig.self, for: "query")
        guard let id = try? ComponentID(parsing: c.storage), let exporter = host.exporters[id] as? any QueryableExporter else {
            throw ConfigProblem(
                path: "extensions::\(context.id)::storage",
                "exporter \"\(c.storage)\" is not built or cannot serve queries; the query API reads a sqlite exporter")
        }
        return QueryExtension(config: c, reader: TraceReader(store: exporter.queryableStore), context: context)
    }
}
