import CollectorCore
import OTTL

/// Settings of the `transform` processor (otelcol-contrib's `transformprocessor`): `error_mode` and
/// `trace_statements`, `metric_statements`, `log_statements`. Each list mixes the flat form (a statement string whose
/// context is inferred from its path prefixes, `set(span.attributes["k"], "v")`) and the grouped form
/// (`context:`, optional `conditions:` and `error_mode:`, `statements:`). Every statement is parsed and bound when
/// the config is read, so one that does not parse, or uses a function or path otelsink lacks, is a config error
/// naming the statement and the column.
public struct TransformProcessorConfig: ComponentConfig {
    public var errorMode: OTTLErrorMode
    public var traces: [TransformGroup]
    public var metrics: [TransformGroup]
    public var logs: [TransformGroup]

    public init(errorMode: OTTLErrorMode = .propagate, traces: [TransformGroup] = [], metrics: [TransformGroup] = [], logs: [TransformGroup] = []) {
        self.errorMode = errorMode
        self.traces = traces
        self.metrics = metrics
        self.logs = logs
    }

    public init(reading r: ConfigReader) {
        errorMode = OTTLErrorMode.read(r)
        traces = Self.groups(r, "trace_statements", .traces)
        metrics = Self.groups(r, "metric_statements", .metrics)
        logs = Self.groups(r, "log_statements", .logs)
        for key in ["profile_statements", "flatten_data", "trace_conditions", "metric_conditions", "log_conditions"] where r.contains(key) {
            _ = r.raw(key)
            r.report(key, "not supported by otelsink's transform processor")
        }
    }

    /// The groups of one `*_statements` list; consecutive flat statements of the same context form one group.
    static func groups(_ r: ConfigReader, _ key: String, _ signal: Signal) -> [TransformGroup] {
        guard let node = r.node(key) else { return [] }
        guard case .sequence(let items) = node else {
            if node != .null { r.report(key, "expected a list of statements, got \(node.kindName)") }
            return []
        }
        var groups: [TransformGroup] = []
        for (i, item) in items.enumerated() {
            let path = r.pathString(key) + "::\(i)"
            switch item {
            case .scalar(let text):
                do {
                    let statement = try OTTLStatement(text, context: nil, signal: signal)
                    if let last = groups.last, last.isFlat, last.context == statement.context {
                        groups[groups.count - 1].statements.append(statement)
                    } else {
                        groups.append(TransformGroup(context: statement.context, statements: [statement], isFlat: true))
                    }
                } catch {
                    r.problems.add(path: path, "statement \(error)")
                }
            case .mapping:
                let g = ConfigReader(item, path: r.path + [key, String(i)], problems: r.problems)
                if let group = group(g, signal) { groups.append(group) }
                g.finish()
            default:
                r.problems.add(path: path, "expected a statement or a mapping with context and statements, got \(item.kindName)")
            }
        }
        return groups
    }

    private static func group(_ g: ConfigReader, _ signal: Signal) -> TransformGroup? {
        let allowed = OTTLContext.contexts(for: signal)
        let contextText = g.optionalString("context")
        var context: OTTLContext?
        if let contextText {
            context = OTTLContext(rawValue: contextText == "instrumentation_scope" ? "scope" : contextText)
            if context.map(allowed.contains) != true {
                g.report("context", "expected one of \(allowed.map(\.rawValue).joined(separator: ", ")); got \"\(contextText)\"")
                return nil
            }
        }
        let errorMode = g.contains("error_mode") ? OTTLErrorMode.read(g) : nil
        var statements: [OTTLStatement] = []
        for (i, text) in g.stringList("statements").enumerated() {
            do {
                statements.append(try OTTLStatement(text, context: context, signal: signal))
            } catch {
                g.problems.add(path: g.pathString("statements") + "::\(i)", "statement \(error)")
            }
        }
        if statements.isEmpty, !g.contains("statements") { g.report("statements", "a group needs its statements") }
        // Without a context, the group's statements must agree on the one they infer.
        let bound = context ?? statements.first?.context
        if context == nil, let bound, statements.contains(where: { $0.context != bound }) {
            g.report("statements", "these statements infer different contexts; give the group a context:")
            return nil
        }
        var conditions: [OTTLCondition] = []
        for (i, text) in g.stringList("conditions").enumerated() {
            do {
                conditions.append(try OTTLCondition(text, context: bound ?? .resource, signal: signal))
            } catch {
                g.problems.add(path: g.pathString("conditions") + "::\(i)", "condition \(error)")
            }
        }
        guard let bound else { return nil }
        return TransformGroup(context: bound, statements: statements, conditions: conditions, errorMode: errorMode)
    }
}

/// Statements that run in one context, in order, on each item; with `conditions`, only on items for which one of
/// them holds.
public struct TransformGroup: Sendable {
    public var context: OTTLContext
    public var statements: [OTTLStatement]
    public var conditions: [OTTLCondition] = []
    /// The group's own `error_mode`; the processor's when nil.
    public var errorMode: OTTLErrorMode?
    var isFlat = false

    public init(context: OTTLContext, statements: [OTTLStatement], conditions: [OTTLCondition] = [], errorMode: OTTLErrorMode? = nil) {
        self.context = context
        self.statements = statements
        self.conditions = conditions
        self.errorMode = errorMode
    }

    init(context: OTTLContext, statements: [OTTLStatement], isFlat: Bool) {
        self.init(context: context, statements: statements)
        self.isFlat = isFlat
    }
}
