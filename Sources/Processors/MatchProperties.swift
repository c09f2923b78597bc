import CollectorCore
import OTLP

/// A set of properties an item must all have to match (otelcol's `filterconfig.MatchProperties` and its filter
/// processor variants), compiled when the config is read. A property left out matches everything.
public struct MatchProperties: Sendable {
    /// What each config key of a properties block stands for.
    public enum Field: Sendable, Hashable {
        case services, spanNames, spanKinds, statusCodes, eventNames
        case logBodies, severityTexts, severityNumber
        case metricNames
        /// Attributes of the item itself (span, event, log record, data point).
        case attributes
        /// Resource attributes.
        case resources
        case libraries
    }

    /// The YAML path of the block, for errors found when the processor is built.
    public let path: String
    public let matchType: MatchType
    /// Fields given with a non-empty value, with the key they were written under.
    public internal(set) var given: [Field: String]

    var services: StringMatcher?
    var spanNames: StringMatcher?
    var spanKinds: StringMatcher?
    var statusCodes: StringMatcher?
    var eventNames: StringMatcher?
    var logBodies: StringMatcher?
    var severityTexts: StringMatcher?
    var severityNumber: SeverityNumberMatcher?
    var metricNames: StringMatcher?
    var attributes: AttributesMatcher?
    var resources: AttributesMatcher?
    var libraries: [LibraryMatcher] = []

    static let spanKindNames = ["SPAN_KIND_CLIENT", "SPAN_KIND_CONSUMER", "SPAN_KIND_INTERNAL", "SPAN_KIND_PRODUCER", "SPAN_KIND_SERVER"]
    static let statusCodeNames = ["STATUS_CODE_ERROR", "STATUS_CODE_OK", "STATUS_CODE_UNSET"]

    /// The keys of otelcol's `filterconfig.MatchProperties` (attributes processor `include`/`exclude`, filter
    /// `spans.include`/`exclude`).
    public static let generalKeys: [String: Field] = [
        "services": .services, "span_names": .spanNames, "span_kinds": .spanKinds,
        "log_bodies": .logBodies, "log_severity_texts": .severityTexts, "log_severity_number": .severityNumber,
        "metric_names": .metricNames, "attributes": .attributes, "resources": .resources, "libraries": .libraries,
    ]

    /// Reads a properties block. `keys` maps the config keys this block accepts to fields; `match_type` (required)
    /// and `regexp` (otelcol's regex cache settings, accepted and ignored) are always accepted.
    public static func read(_ r: ConfigReader, keys: [String: Field]) -> MatchProperties {
        var matchType = MatchType.strict
        if let text = r.optionalString("match_type") {
            if let t = MatchType(rawValue: text) {
                matchType = t
            } else if text == "expr" {
                r.report("match_type", "expr (expr-lang expressions) is not supported by otelsink; use strict or regexp")
            } else {
                r.report("match_type", "unknown match type \"\(text)\"; expected strict or regexp")
            }
        } else {
            r.report("match_type", "required; expected strict or regexp")
        }
        if r.contains("regexp") {
            let cache = r.child("regexp")
            _ = cache.bool("cacheenabled", default: false)
            _ = cache.int("cachemaxnumentries", default: 0, range: 0...Int.max)
        }

        var p = MatchProperties(path: r.pathString(), matchType: matchType, given: [:])
        var given: [Field: String] = [:]
        for (key, field) in keys.sorted(by: { $0.key < $1.key }) where r.contains(key) {
            switch field {
            case .attributes, .resources:
                let m = AttributesMatcher.read(r, key: key, matchType: matchType)
                if field == .attributes { p.attributes = m } else { p.resources = m }
                if m != nil { given[field] = key }
            case .libraries:
                for item in r.mappingList(key) {
                    let name = item.string("name", default: "")
                    let version = item.optionalString("version")
                    let nameMatcher = StringMatcher([name], matchType: matchType, reader: item, key: "name")
                    let versionMatcher = version.map { StringMatcher([$0], matchType: matchType, reader: item, key: "version") }
                    p.libraries.append(LibraryMatcher(name: nameMatcher, version: versionMatcher))
                }
                if !p.libraries.isEmpty { given[field] = key }
            case .severityNumber:
                let s = r.child(key)
                let minText = s.optionalString("min")
                let matchUndefined = s.bool("match_undefined", default: false)
                guard let minText else {
                    s.report("min", "required: a severity such as INFO, WARN2 or a number 1–24")
                    continue
                }
                guard let minimum = SeverityNumberMatcher.parse(minText) else {
                    s.report(
                        "min",
                        "\"\(minText)\" is not a severity; expected TRACE, DEBUG, INFO, WARN, ERROR, FATAL (optionally 2–4, e.g. INFO3) or 1–24")
                    continue
                }
                p.severityNumber = SeverityNumberMatcher(minimum: minimum, matchUndefined: matchUndefined)
                given[field] = key
            default:
                let items = r.stringList(key)
                guard !items.isEmpty else { continue }
                if matchType == .strict, field == .spanKinds || field == .statusCodes {
                    let valid = field == .spanKinds ? spanKindNames : statusCodeNames
                    for (i, item) in items.enumerated() where !valid.contains(item) {
                        r.problems.add(
                            path: r.pathString(key) + "::\(i)",
                            "unknown \(field == .spanKinds ? "span kind" : "status code") \"\(item)\"; with match_type strict expected one of \(valid.joined(separator: ", "))"
                        )
                    }
                }
                let m = StringMatcher(items, matchType: matchType, reader: r, key: key)
                given[field] = key
                switch field {
                case .services: p.services = m
                case .spanNames: p.spanNames = m
                case .spanKinds: p.spanKinds = m
                case .statusCodes: p.statusCodes = m
                case .eventNames: p.eventNames = m
                case .logBodies: p.logBodies = m
                case .severityTexts: p.severityTexts = m
                case .metricNames: p.metricNames = m
                default: break
                }
            }
        }
        p.given = given
        return p
    }

    private init(path: String, matchType: MatchType, given: [Field: String]) {
        self.path = path
        self.matchType = matchType
        self.given = given
    }

    // MARK: - Validation per kind of item (otelcol's ValidateForSpans / ValidateForLogs)

    /// Why these properties cannot be used to select spans, or nil.
    public func problemForSpans() -> String? {
        for field in [Field.logBodies, .severityTexts, .severityNumber] {
            if let key = given[field] { return "\(key) should not be specified for trace spans" }
        }
        let spanFields: [Field] = [.services, .spanNames, .spanKinds, .statusCodes, .attributes, .resources, .libraries, .eventNames]
        if !spanFields.contains(where: { given[$0] != nil }) {
            return "at least one of \"services\", \"span_names\", \"span_kinds\", \"attributes\", \"resources\" or \"libraries\" must be specified"
        }
        return nil
    }

    /// Why these properties cannot be used to select log records, or nil.
    public func problemForLogs() -> String? {
        if given[.services] != nil || given[.spanNames] != nil || given[.spanKinds] != nil {
            return "services, span_names, and span_kinds are not valid for log records"
        }
        let logFields: [Field] = [.attributes, .libraries, .resources, .logBodies, .severityTexts, .severityNumber]
        if !logFields.contains(where: { given[$0] != nil }) {
            return
                "at least one of \"attributes\", \"libraries\", \"resources\", \"log_bodies\", \"log_severity_texts\" or \"log_severity_number\" must be specified"
        }
        return nil
    }

    // MARK: - Evaluation

    /// `service.name` of a resource as otelcol's span matcher reads it.
    @inline(__always)
    static func serviceName(_ resource: [KeyValue]) -> String {
        guard let i = AttributeActions.index(of: "service.name", in: resource) else { return "<nil-service-name>" }
        return AttributeValueText.asString(resource[i].value)
    }

    static func kindName(_ kind: Span.SpanKind) -> String {
        switch kind {
        case .unspecified: "SPAN_KIND_UNSPECIFIED"
        case .internal: "SPAN_KIND_INTERNAL"
        case .server: "SPAN_KIND_SERVER"
        case .client: "SPAN_KIND_CLIENT"
        case .producer: "SPAN_KIND_PRODUCER"
        case .consumer: "SPAN_KIND_CONSUMER"
        case .UNRECOGNIZED: ""
        }
    }

    static func statusName(_ code: SpanStatus.StatusCode) -> String {
        switch code {
        case .unset: "STATUS_CODE_UNSET"
        case .ok: "STATUS_CODE_OK"
        case .error: "STATUS_CODE_ERROR"
        case .UNRECOGNIZED: ""
        }
    }

    /// The span-level checks shared by spans and span events: service, span name, kind, status, libraries,
    /// resource attributes.
    @inline(__always)
    func matchesSpanContext(_ span: Span, resource: [KeyValue], scope: InstrumentationScope) -> Bool {
        if let services, !services.matches(Self.serviceName(resource)) { return false }
        if let spanNames, !spanNames.matches(span.name) { return false }
        if let spanKinds, !spanKinds.matches(Self.kindName(span.kind)) { return false }
        if let statusCodes, !statusCodes.matches(Self.statusName(span.status.code)) { return false }
        for library in libraries where !library.matches(scope) { return false }
        if let resources, !resources.matches(resource) { return false }
        return true
    }

    /// Whether a span has every property.
    public func matchesSpan(_ span: Span, resource: [KeyValue], scope: InstrumentationScope) -> Bool {
        guard matchesSpanContext(span, resource: resource, scope: scope) else { return false }
        if let attributes, !attributes.matches(span.attributes) { return false }
        return true
    }

    /// Whether a span event has every property: its name and attributes, and the properties of its span.
    public func matchesSpanEvent(_ event: Span.Event, span: Span, resource: [KeyValue], scope: InstrumentationScope) -> Bool {
        if let eventNames, !eventNames.matches(event.name) { return false }
        guard matchesSpanContext(span, resource: resource, scope: scope) else { return false }
        if let attributes, !attributes.matches(event.attributes) { return false }
        return true
    }

    /// Whether a log record has every property.
    public func matchesLogRecord(_ record: Opentelemetry_Proto_Logs_V1_LogRecord, resource: [KeyValue], scope: InstrumentationScope) -> Bool {
        if let logBodies, !logBodies.matches(AttributeValueText.asString(record.body)) { return false }
        if let severityTexts, !severityTexts.matches(record.severityText) { return false }
        if let severityNumber, !severityNumber.matches(record.severityNumber.rawValue) { return false }
        for library in libraries where !library.matches(scope) { return false }
        if let resources, !resources.matches(resource) { return false }
        if let attributes, !attributes.matches(record.attributes) { return false }
        return true
    }

    /// Whether a metric's name matches `metric_names`; nil when no names were given (otelcol then matches by
    /// name nothing and everything: the property is simply absent).
    public func matchesMetricName(_ name: String) -> Bool? {
        metricNames.map { $0.matches(name) }
    }

    /// Whether resource attributes match `resources`/`resource_attributes`; nil when none were given.
    public func matchesResource(_ resource: [KeyValue]) -> Bool? {
        resources.map { $0.matches(resource) }
    }

    /// Whether a data point has every property: its metric's name, its attributes, its resource's attributes.
    public func matchesDataPoint(metricName: String, attributes pointAttributes: [KeyValue], resource: [KeyValue]) -> Bool {
        if let metricNames, !metricNames.matches(metricName) { return false }
        if let resources, !resources.matches(resource) { return false }
        if let attributes, !attributes.matches(pointAttributes) { return false }
        return true
    }
}

/// An `include`/`exclude` pair: an item is selected when it matches `include` (if given) and does not match
/// `exclude` (if given); include is checked first, as in otelcol.
public struct MatchConfig: Sendable {
    public let include: MatchProperties?
    public let exclude: MatchProperties?

    public init(include: MatchProperties?, exclude: MatchProperties?) {
        self.include = include
        self.exclude = exclude
    }

    /// Reads `include` and `exclude` from `r` when present.
    public init(reading r: ConfigReader, keys: [String: MatchProperties.Field]) {
        include = r.contains("include") ? MatchProperties.read(r.child("include"), keys: keys) : nil
        exclude = r.contains("exclude") ? MatchProperties.read(r.child("exclude"), keys: keys) : nil
    }

    public var isEmpty: Bool { include == nil && exclude == nil }

    @inline(__always)
    public func selects(_ matches: (MatchProperties) -> Bool) -> Bool {
        if let include, !matches(include) { return false }
        if let exclude, matches(exclude) { return false }
        return true
    }
}
