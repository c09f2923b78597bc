import CollectorCore
import Foundation
import OTTL

/// Settings of the `routing` connector (otelcol-contrib's `routingconnector`): a `table` of routes, each an OTTL
/// `condition` (or a `statement` of the form `route() where <condition>`) with the `pipelines` that get what it
/// matches; `default_pipelines` for what no route matches; `error_mode`.
///
/// A route's `context` is `resource` (the default: the condition sees a resource and its attributes, and the
/// resource goes with all it holds), or `span`, `log` or `metric` (each item is routed on its own, with its
/// resource and scope). otelcol's `request` context (request headers) and `datapoint` are refused.
public struct RoutingConnectorConfig: ComponentConfig {
    public struct Route: Sendable {
        /// The condition as the signal it applies to binds it (a route holds one per signal it can route).
        public var conditions: [Signal: OTTLCondition]
        public var context: OTTLContext
        public var pipelines: [PipelineID]
        /// What the config wrote, for messages.
        public var text: String
        /// The route's place in `table`.
        public var index: Int
    }

    public var routes: [Route]
    public var defaultPipelines: [PipelineID]
    public var errorMode: OTTLErrorMode

    static let contexts: [OTTLContext] = [.resource, .span, .log, .metric]

    public init(reading r: ConfigReader) {
        errorMode = OTTLErrorMode.read(r)
        defaultPipelines = Self.pipelines(r, "default_pipelines")
        if r.contains("match_once") {
            _ = r.raw("match_once")
            r.report("match_once", "removed from otelcol's routing connector: a route's first match always wins")
        }
        routes = []
        for (index, route) in r.mappingList("table").enumerated() {
            let contextText = route.string("context", default: "resource")
            guard let context = OTTLContext(rawValue: contextText), Self.contexts.contains(context) else {
                route.report(
                    "context",
                    contextText == "request"
                        ? "the request context (routing on request headers) is not supported by otelsink"
                        : "expected one of \(Self.contexts.map(\.rawValue).joined(separator: ", ")); got \"\(contextText)\"")
                _ = route.raw("statement")
                _ = route.raw("condition")
                _ = route.raw("pipelines")
                continue
            }
            let statement = route.optionalString("statement")
            let condition = route.optionalString("condition")
            let pipelines = Self.pipelines(route, "pipelines")
            if pipelines.isEmpty { route.report("pipelines", "a route needs at least one pipeline") }
            var text: String
            switch (statement, condition) {
            case (let s?, nil):
                guard let c = Self.condition(ofStatement: s) else {
                    route.report("statement", "a routing statement is route() or route() where <condition>, got \"\(s)\"")
                    continue
                }
                text = c
            case (nil, let c?): text = c
            case (nil, nil):
                route.report(nil, "a route needs a statement or a condition")
                continue
            case (_?, _?):
                route.report(nil, "a route has either a statement or a condition, not both")
                continue
            }
            let key = statement != nil ? "statement" : "condition"
            // Bind the condition for each signal whose context it can use; the connector uses the one for the
            // signal it is routing.
            var conditions: [Signal: OTTLCondition] = [:]
            var firstError: OTTLParseError?
            for signal in Signal.allCases where OTTLContext.contexts(for: signal).contains(context) {
                do {
                    conditions[signal] = try OTTLCondition(text, context: context, signal: signal)
                } catch {
                    if firstError == nil { firstError = error }
                }
            }
            if let firstError {
                route.report(key, "condition \(firstError)")
                continue
            }
            routes.append(Route(conditions: conditions, context: context, pipelines: pipelines, text: text, index: index))
        }
    }

    /// `route()` → "true"; `route() where X` → X; nil for anything else.
    public static func condition(ofStatement s: String) -> String? {
        let trimmed = s.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("route") else { return nil }
        var rest = trimmed.dropFirst("route".count).drop { $0 == " " }
        guard rest.hasPrefix("(") else { return nil }
        rest = rest.dropFirst().drop { $0 == " " }
        guard rest.hasPrefix(")") else { return nil }
        rest = rest.dropFirst().drop { $0 == " " }
        if rest.isEmpty { return "true" }
        guard rest.hasPrefix("where"), rest.dropFirst(5).first == " " else { return nil }
        return String(rest.dropFirst(5)).trimmingCharacters(in: .whitespaces)
    }

    private static func pipelines(_ r: ConfigReader, _ key: String) -> [PipelineID] {
        var out: [PipelineID] = []
        for (i, name) in r.stringList(key).enumerated() {
            do {
                out.append(try PipelineID(parsing: name))
            } catch {
                r.problems.add(path: r.pathString(key) + "::\(i)", error.message)
            }
        }
        return out
    }

    /// Pipelines the table names that do not list this connector as a receiver.
    func problems(feeds: [PipelineID]) -> [String] {
        var out: [String] = []
        let fed = Set(feeds)
        for route in routes {
            for p in route.pipelines where !fed.contains(p) {
                out.append("table::\(route.index) routes to pipeline \(p), which does not list this connector as a receiver")
            }
        }
        for p in defaultPipelines where !fed.contains(p) {
            out.append("default_pipelines lists pipeline \(p), which does not list this connector as a receiver")
        }
        return out
    }
}
