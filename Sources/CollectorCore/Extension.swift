import ServiceLifecycle

/// An extension: a service beside the pipelines (otelcol's `extensions`), such as the query API. It runs only when
/// listed in `service.extensions`; it starts after exporters and processors and before receivers, and stops after
/// receivers and before processors and exporters.
///
/// What it offers other components (an authenticator, a storage) it registers in the ``ExtensionDirectory`` when
/// built; they find it there by ID and role, never by type, and call it concurrently. Storage extensions are
/// built before exporters (exporters open their queues in them) and outlive them. `run` serves until graceful
/// shutdown and returns once what it serves is closed.
public protocol Extension: Service {}

/// What an extension may use of the rest of the collector when it is built.
public struct ExtensionHost: Sendable {
    /// The exporters that were built, by ID (an extension reading an exporter's storage finds it here).
    public var exporters: [ComponentID: any Exporter]
    /// Whether the collector is starting, serving or stopping (what a health probe reports).
    public var status: CollectorStatus

    public init(exporters: [ComponentID: any Exporter], status: CollectorStatus = CollectorStatus()) {
        self.exporters = exporters
        self.status = status
    }
}

public protocol ExtensionFactory: ComponentFactory {
    /// Checks what the extension's settings refer to elsewhere in the config (e.g. an exporter), once the whole
    /// config has been read. Problems go to `report(key, message)`, the key relative to the extension's settings.
    func checkReferences(config: any ComponentConfig, in collector: CollectorConfig, report: (String, String) -> Void)

    func makeExtension(config: any ComponentConfig, host: ExtensionHost, context: ComponentContext) throws -> any Extension
}

extension ExtensionFactory {
    public func checkReferences(config: any ComponentConfig, in collector: CollectorConfig, report: (String, String) -> Void) {}
}
