/// The component types otelsink knows, by kind and type name. Built once from a list of factories.
public struct ComponentRegistry: Sendable {
    public private(set) var receivers: [String: any ReceiverFactory] = [:]
    public private(set) var processors: [String: any ProcessorFactory] = [:]
    public private(set) var exporters: [String: any ExporterFactory] = [:]
    public private(set) var extensions: [String: any ExtensionFactory] = [:]
    public private(set) var connectors: [String: any ConnectorFactory] = [:]

    public init(_ factories: [any ComponentFactory]) {
        for f in factories {
            if let r = f as? any ReceiverFactory { receivers[f.type] = r }
            if let p = f as? any ProcessorFactory { processors[f.type] = p }
            if let e = f as? any ExporterFactory { exporters[f.type] = e }
            if let x = f as? any ExtensionFactory { extensions[f.type] = x }
            if let c = f as? any ConnectorFactory { connectors[f.type] = c }
        }
    }

    /// The factory for `type` of `kind`, if registered.
    public func factory(kind: ComponentKind, type: String) -> (any ComponentFactory)? {
        switch kind {
        case .receiver: receivers[type]
        case .processor: processors[type]
        case .exporter: exporters[type]
        case .extension: extensions[type]
        case .connector: connectors[type]
        }
    }

    /// Registered type names of `kind`, sorted.
    public func types(of kind: ComponentKind) -> [String] {
        switch kind {
        case .receiver: receivers.keys.sorted()
        case .processor: processors.keys.sorted()
        case .exporter: exporters.keys.sorted()
        case .extension: extensions.keys.sorted()
        case .connector: connectors.keys.sorted()
        }
    }

    /// Every factory, ordered by kind then type.
    public var all: [any ComponentFactory] {
        ComponentKind.allCases.flatMap { kind in types(of: kind).compactMap { factory(kind: kind, type: $0) } }
    }
}
