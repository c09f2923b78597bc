import Logging

/// A whole otelsink config, read and validated: components with their settings, and the pipelines that use them.
///
/// The shape is otelcol's: `receivers`, `processors`, `exporters`, `extensions`, `service.pipelines`,
/// `service.extensions`, `service.telemetry.logs.level`.
public struct CollectorConfig: Sendable {
    public struct Configured: Sendable {
        public var factory: any ComponentFactory
        public var config: any ComponentConfig
    }

    public struct Pipeline: Sendable {
        public var receivers: [ComponentID]
        public var processors: [ComponentID]
        public var exporters: [ComponentID]
    }

    public var receivers: [ComponentID: Configured] = [:]
    public var processors: [ComponentID: Configured] = [:]
    public var exporters: [ComponentID: Configured] = [:]
    public var extensions: [ComponentID: Configured] = [:]
    /// The extensions `service.extensions` lists, in order: the ones that run.
    public var serviceExtensions: [ComponentID] = []
    /// Connectors (`connectors:`): each is listed as an exporter in one or more pipelines and as a receiver in others.
    public var connectors: [ComponentID: Configured] = [:]
    public var pipelines: [PipelineID: Pipeline] = [:]
    public var logLevel: Logger.Level = .info
    /// `service.telemetry.logs.encoding`: `console` (one `key=value` line per event) or `json` (one JSON object per line).
    public var logEncoding: LogEncoding = .console

    public enum LogEncoding: String, Sendable { case console, json }
    /// Where otelsink serves its own metrics (`service.telemetry.metrics.address`, default `localhost:8888` as
    /// otelcol); `nil` when `service.telemetry.metrics.level` is `none`.
    public var telemetryMetricsAddress: String? = "localhost:8888"
    /// Connections, deadlines and TLS of the self-telemetry listener (`service.telemetry.metrics.tls`, …).
    public var telemetryListener = ListenerSettings(maxConnections: 64)
    /// The config as otelsink understood it, defaults filled in; what `print-config` prints.
    public var effective: ConfigNode = .null

    /// Reads a config from YAML. Every problem is collected and thrown together in ``ConfigErrors``.
    public static func load(yaml: String, environment: [String: String], registry: ComponentRegistry) throws(ConfigErrors) -> CollectorConfig {
        let (node, parseProblems) = ConfigLoader.parse(yaml: yaml, environment: environment)
        let problems = ConfigProblems()
        parseProblems.forEach(problems.add)
        if !parseProblems.isEmpty, case .null = node { throw ConfigErrors(problems.all) }
        let config = read(node, registry: registry, problems: problems)
        guard problems.isEmpty else { throw ConfigErrors(problems.all) }
        return config
    }

    static func read(_ node: ConfigNode, registry: ComponentRegistry, problems: ConfigProblems) -> CollectorConfig {
        var config = CollectorConfig()
        let root = ConfigReader(node, path: [], problems: problems)
        var effective: [(key: String, value: ConfigNode)] = []

        /// Components defined with a type otelsink does not have: reported once, where they are defined, and not
        /// again at every pipeline that refers to them.
        struct ComponentReference: Hashable {
            var kind: ComponentKind
            var id: ComponentID
        }
        var unknownTypes = Set<ComponentReference>()
        func readSection(_ kind: ComponentKind) -> [ComponentID: Configured] {
            let section = kind.section
            var out: [ComponentID: Configured] = [:]
            var sectionEffective: [(key: String, value: ConfigNode)] = []
            let raw = root.raw(section)
            let entries: [(key: String, value: ConfigNode)]
            switch raw {
            case .mapping(let e)?: entries = e
            case .null?, nil: entries = []
            case let other?:
                problems.add(path: section, "expected a mapping of component ids to settings, got \(other.kindName)")
                entries = []
            }
            for (key, value) in entries {
                let path = ConfigPath.render([section, key])
                let id: ComponentID
                do { id = try ComponentID(parsing: key) } catch {
                    problems.add(path: path, error.message)
                    continue
                }
                guard let factory = registry.factory(kind: kind, type: id.type) else {
                    unknownTypes.insert(ComponentReference(kind: kind, id: id))
                    let known = registry.types(of: kind)
                    let list = known.isEmpty ? "none are available yet" : "known types: " + known.joined(separator: ", ")
                    problems.add(path: path, "unknown \(kind) type \"\(id.type)\" (\(list))")
                    continue
                }
                let reader = ConfigReader(value, path: [section, key], problems: problems)
                let componentConfig = factory.readConfig(reader)
                sectionEffective.append((key, reader.finish()))
                out[id] = Configured(factory: factory, config: componentConfig)
            }
            if !sectionEffective.isEmpty { effective.append((section, .mapping(sectionEffective))) }
            return out
        }

        config.receivers = readSection(.receiver)
        config.processors = readSection(.processor)
        config.exporters = readSection(.exporter)
        config.extensions = readSection(.extension)
        config.connectors = readSection(.connector)
        for id in Set(config.connectors.keys).intersection(config.receivers.keys).union(
            Set(config.connectors.keys).intersection(config.exporters.keys)
        ).sorted() {
            problems.add(path: ConfigPath.render(["connectors", id.description]), "a connector may not have the id of a receiver or exporter")
        }
        var connectorAsExporter: [ComponentID: Set<Signal>] = [:]
        var connectorAsReceiver: [ComponentID: Set<Signal>] = [:]

        let service = root.child("service")
        let pipelines = service.child("pipelines")
        var usedReceivers = Set<ComponentID>()
        var usedProcessors = Set<ComponentID>()
        var usedExporters = Set<ComponentID>()
        for key in pipelines.keys {
            let pipelinePath = ["service", "pipelines", key]
            let pid: PipelineID
            do { pid = try PipelineID(parsing: key) } catch {
                problems.add(path: ConfigPath.render(pipelinePath), error.message)
                _ = pipelines.raw(key)
                continue
            }
            let p = pipelines.child(key)
            func ids(_ field: String, kind: ComponentKind, defined: [ComponentID: Configured], required: Bool) -> [ComponentID] {
                let names = p.stringList(field)
                if required && names.isEmpty && !p.contains(field) {
                    p.report(field, "a \(pid.signal) pipeline needs at least one \(kind)")
                } else if required && names.isEmpty {
                    p.report(field, "must list at least one \(kind)")
                }
                var out: [ComponentID] = []
                for (i, name) in names.enumerated() {
                    let itemPath = p.pathString(field) + "::\(i)"
                    guard let id = try? ComponentID(parsing: name) else {
                        problems.add(path: itemPath, "invalid component id \"\(name)\"")
                        continue
                    }
                    guard let configured = defined[id] ?? (kind == .processor ? nil : config.connectors[id]) else {
                        if unknownTypes.contains(ComponentReference(kind: kind, id: id))
                            || (kind != .processor && unknownTypes.contains(ComponentReference(kind: .connector, id: id)))
                        {
                            continue
                        }
                        let sections = kind == .processor || config.connectors.isEmpty ? kind.section : "\(kind.section) or connectors"
                        problems.add(path: itemPath, "references \(kind) \"\(name)\", which is not defined under \(sections)")
                        continue
                    }
                    let connector = configured.factory as? any ConnectorFactory
                    let signals = connector.map { kind == .receiver ? $0.receiverSignals : $0.exporterSignals } ?? configured.factory.signals
                    guard signals.contains(pid.signal) else {
                        let what = connector == nil ? "\(kind)" : "connector (as \(kind))"
                        let supported = signals.sorted().map(\.rawValue).joined(separator: ", ")
                        problems.add(path: itemPath, "\(what) \"\(name)\" does not support \(pid.signal) (it supports: \(supported))")
                        continue
                    }
                    if out.contains(id) {
                        problems.add(path: itemPath, "\"\(name)\" is listed twice")
                        continue
                    }
                    out.append(id)
                    if connector != nil {
                        if kind == .receiver {
                            connectorAsReceiver[id, default: []].insert(pid.signal)
                        } else {
                            connectorAsExporter[id, default: []].insert(pid.signal)
                        }
                    }
                }
                return out
            }
            let pipeline = Pipeline(
                receivers: ids("receivers", kind: .receiver, defined: config.receivers, required: true),
                processors: ids("processors", kind: .processor, defined: config.processors, required: false),
                exporters: ids("exporters", kind: .exporter, defined: config.exporters, required: true)
            )
            usedReceivers.formUnion(pipeline.receivers)
            usedProcessors.formUnion(pipeline.processors)
            usedExporters.formUnion(pipeline.exporters)
            config.pipelines[pid] = pipeline
        }
        if pipelines.keys.isEmpty {
            problems.add(path: "service::pipelines", "no pipelines are defined; at least one is needed")
        }
        for (kind, defined, used) in [
            (ComponentKind.receiver, Set(config.receivers.keys), usedReceivers),
            (.processor, Set(config.processors.keys), usedProcessors),
            (.exporter, Set(config.exporters.keys), usedExporters),
        ] {
            for id in defined.subtracting(used).sorted() {
                problems.add(path: ConfigPath.render([kind.section, id.description]), "defined but not used in any pipeline")
            }
        }
        for id in config.connectors.keys.sorted() {
            let path = ConfigPath.render(["connectors", id.description])
            if connectorAsExporter[id] == nil {
                problems.add(path: path, "connector is not used as an exporter in any pipeline (it must end one pipeline and start another)")
            }
            if connectorAsReceiver[id] == nil {
                problems.add(path: path, "connector is not used as a receiver in any pipeline (it must end one pipeline and start another)")
            }
            guard let factory = config.connectors[id]?.factory as? any ConnectorFactory else { continue }
            let feeds = config.pipelines.filter { $0.value.receivers.contains(id) }.keys.sorted()
            if let configured = config.connectors[id] {
                for problem in factory.problems(config: configured.config, feeds: feeds) { problems.add(path: path, problem) }
            }
            guard let into = connectorAsExporter[id], let outOf = connectorAsReceiver[id] else { continue }
            for signal in into.sorted() where !outOf.contains(where: { factory.connects(signal, to: $0) }) {
                problems.add(path: path, "connector takes \(signal) but no pipeline it feeds can receive what it makes of them")
            }
            for signal in outOf.sorted() where !into.contains(where: { factory.connects($0, to: signal) }) {
                problems.add(path: path, "connector feeds a \(signal) pipeline but no pipeline exports to it what it needs for \(signal)")
            }
        }
        if let cycle = Self.connectorCycle(config.pipelines, connectors: Set(config.connectors.keys)) {
            problems.add(
                path: "service::pipelines", "pipelines form a cycle through connectors: \(cycle.map(\.description).joined(separator: " → "))")
        }
        let serviceExtensions = service.stringList("extensions")
        for (i, name) in serviceExtensions.enumerated() {
            guard let id = try? ComponentID(parsing: name), config.extensions[id] != nil else {
                if let id = try? ComponentID(parsing: name), unknownTypes.contains(ComponentReference(kind: .extension, id: id)) { continue }
                problems.add(path: "service::extensions::\(i)", "references extension \"\(name)\", which is not defined under extensions")
                continue
            }
            if config.serviceExtensions.contains(id) {
                problems.add(path: "service::extensions::\(i)", "\"\(name)\" is listed twice")
                continue
            }
            config.serviceExtensions.append(id)
        }
        for reference in problems.extensionReferences {
            guard let id = try? ComponentID(parsing: reference.id), let configured = config.extensions[id] else {
                if let id = try? ComponentID(parsing: reference.id), unknownTypes.contains(ComponentReference(kind: .extension, id: id)) { continue }
                problems.add(path: reference.path, "references extension \"\(reference.id)\", which is not defined under extensions")
                continue
            }
            guard reference.role.accepts(configured.factory) else {
                problems.add(
                    path: reference.path,
                    "extension \"\(reference.id)\" is of type \(configured.factory.type), which is not \(reference.role.expected)")
                continue
            }
            if !config.serviceExtensions.contains(id) {
                problems.add(path: reference.path, "extension \"\(reference.id)\" must also be listed under service::extensions")
            }
        }
        for (id, configured) in config.extensions.sorted(by: { $0.key < $1.key }) {
            guard let factory = configured.factory as? any ExtensionFactory else { continue }
            factory.checkReferences(config: configured.config, in: config) { key, message in
                problems.add(path: ConfigPath.render(["extensions", id.description, key]), message)
            }
        }

        let telemetry = service.child("telemetry")
        let logs = telemetry.child("logs")
        let level = logs.string("level", default: "info").lowercased()
        switch level {
        case "debug": config.logLevel = .debug
        case "info": config.logLevel = .info
        case "warn", "warning": config.logLevel = .warning
        case "error": config.logLevel = .error
        default: logs.report("level", "expected one of debug, info, warn, error; got \"\(level)\"")
        }
        let encoding = logs.string("encoding", default: "console")
        if let e = LogEncoding(rawValue: encoding) {
            config.logEncoding = e
        } else {
            logs.report("encoding", "expected console or json; got \"\(encoding)\"")
        }
        let metrics = telemetry.child("metrics")
        let metricsLevel = metrics.string("level", default: "normal").lowercased()
        var address = metrics.string("address", default: "localhost:8888")
        if let pulled = Self.readPrometheusReader(metrics) {
            if metrics.contains("address") { metrics.report("address", "give either address or readers, not both") }
            address = pulled
        }
        switch metricsLevel {
        case "none": config.telemetryMetricsAddress = nil
        case "basic", "normal", "detailed":
            config.telemetryMetricsAddress = address
            if ListenEndpoint(parsing: address) == nil {
                metrics.report("address", "expected host:port with an IP address or localhost (e.g. \"localhost:8888\"), got \"\(address)\"")
            }
            config.telemetryListener = ListenerSettings.readHTTP(metrics, defaults: config.telemetryListener)
        default: metrics.report("level", "expected one of none, basic, normal, detailed; got \"\(metricsLevel)\"")
        }
        effective.append(("service", service.finish()))
        root.finish()
        config.effective = .mapping(effective)
        return config
    }
}

extension CollectorConfig {
    /// otelcol's current form of the self-telemetry endpoint, `readers: [{pull: {exporter: {prometheus: {host, port}}}}]`:
    /// the address it gives, or nil without `readers`. Push (`periodic`) readers and more than one reader are reported.
    static func readPrometheusReader(_ metrics: ConfigReader) -> String? {
        guard metrics.contains("readers") else { return nil }
        let readers = metrics.mappingList("readers")
        guard readers.count == 1, let reader = readers.first else {
            metrics.report("readers", "give exactly one reader: pull with a prometheus exporter (otelsink serves its metrics on one endpoint)")
            return nil
        }
        guard reader.contains("pull") else {
            reader.report(nil, "only a pull reader with a prometheus exporter is supported (periodic OTLP push is not)")
            return nil
        }
        let prometheus = reader.child("pull").child("exporter").child("prometheus")
        let host = prometheus.string("host", default: "localhost")
        let port = prometheus.int("port", default: 8888, range: 0...65535)
        let address = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)"
        if ListenEndpoint(parsing: address) == nil {
            prometheus.report("host", "expected an IP address or localhost, got \"\(host)\"")
        }
        return address
    }

    /// A chain of pipelines that leads back to its start through connectors (data would loop forever), if any.
    static func connectorCycle(_ pipelines: [PipelineID: Pipeline], connectors: Set<ComponentID>) -> [PipelineID]? {
        var feeds: [PipelineID: [PipelineID]] = [:]
        for (from, p) in pipelines {
            let into = Set(p.exporters).intersection(connectors)
            feeds[from] = pipelines.filter { q in q.value.receivers.contains { into.contains($0) } }.map(\.key).sorted()
        }
        var done = Set<PipelineID>()
        func visit(_ id: PipelineID, path: [PipelineID]) -> [PipelineID]? {
            if let start = path.firstIndex(of: id) { return Array(path[start...]) + [id] }
            guard !done.contains(id) else { return nil }
            for next in feeds[id] ?? [] {
                if let cycle = visit(next, path: path + [id]) { return cycle }
            }
            done.insert(id)
            return nil
        }
        for id in pipelines.keys.sorted() {
            if let cycle = visit(id, path: []) { return cycle }
        }
        return nil
    }
}
