import CollectorCore
import Foundation
import OTLP
import Processors
import Testing

/// Reads one processor's settings (YAML for the mapping under `processors::<id>`) through its factory, as
/// `CollectorConfig.load` does; returns the config and every problem as `path: message`.
func readProcessorConfig<C: ComponentConfig>(
    _ yaml: String, factory: some ProcessorFactory, id: String, as type: C.Type
) -> (config: C?, problems: [String]) {
    let (node, parseProblems) = ConfigLoader.parse(yaml: yaml, environment: [:])
    let problems = ConfigProblems()
    parseProblems.forEach(problems.add)
    let reader = ConfigReader(node, path: ["processors", id], problems: problems)
    let config = factory.readConfig(reader)
    reader.finish()
    return (problems.isEmpty ? config as? C : nil, problems.all.map(\.description))
}

/// Reads a config that must be valid, recording an issue with its problems otherwise.
func validProcessorConfig<C: ComponentConfig>(
    _ yaml: String, factory: some ProcessorFactory, id: String, as type: C.Type,
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> C {
    let (config, problems) = readProcessorConfig(yaml, factory: factory, id: id, as: type)
    guard let config else {
        Issue.record("config has problems: \(problems)", sourceLocation: sourceLocation)
        throw ConfigErrors(problems.map { ConfigProblem($0) })
    }
    return config
}

/// Small builders for OTLP values and items in tests.
enum OTLPBuild {
    static func kv(_ key: String, _ value: AnyValue) -> KeyValue {
        var kv = KeyValue()
        kv.key = key
        kv.value = value
        return kv
    }

    static func str(_ s: String) -> AnyValue { .string(s) }
    static func int(_ i: Int64) -> AnyValue {
        var v = AnyValue()
        v.intValue = i
        return v
    }
    static func double(_ d: Double) -> AnyValue {
        var v = AnyValue()
        v.doubleValue = d
        return v
    }
    static func bool(_ b: Bool) -> AnyValue {
        var v = AnyValue()
        v.boolValue = b
        return v
    }
    static func bytes(_ d: [UInt8]) -> AnyValue {
        var v = AnyValue()
        v.bytesValue = Data(d)
        return v
    }

    static func span(
        _ name: String, kind: Span.SpanKind = .internal, status: SpanStatus.StatusCode = .unset,
        attributes: [KeyValue] = [], events: [Span.Event] = []
    ) -> Span {
        var s = Span()
        s.traceID = Data(repeating: 1, count: 16)
        s.spanID = Data(repeating: 2, count: 8)
        s.name = name
        s.kind = kind
        s.status.code = status
        s.attributes = attributes
        s.events = events
        return s
    }

    static func event(_ name: String, attributes: [KeyValue] = []) -> Span.Event {
        var e = Span.Event()
        e.name = name
        e.attributes = attributes
        return e
    }

    static func traces(
        service: String? = "checkout", resource extra: [KeyValue] = [], scope: String = "lib", version: String = "",
        _ spans: [Span]
    ) -> ExportTraceRequest {
        var rs = ResourceSpans()
        rs.resource.attributes = (service.map { [kv("service.name", str($0))] } ?? []) + extra
        var ss = ScopeSpans()
        ss.scope.name = scope
        ss.scope.version = version
        ss.spans = spans
        rs.scopeSpans = [ss]
        var r = ExportTraceRequest()
        r.resourceSpans = [rs]
        return r
    }

    static func log(
        _ body: String, severityText: String = "", severity: Int = 0, attributes: [KeyValue] = []
    ) -> Opentelemetry_Proto_Logs_V1_LogRecord {
        var l = Opentelemetry_Proto_Logs_V1_LogRecord()
        l.body = str(body)
        l.severityText = severityText
        l.severityNumber = Opentelemetry_Proto_Logs_V1_SeverityNumber(rawValue: severity) ?? .unspecified
        l.attributes = attributes
        return l
    }

    static func logs(
        service: String = "checkout", resource extra: [KeyValue] = [], scope: String = "lib", _ records: [Opentelemetry_Proto_Logs_V1_LogRecord]
    ) -> ExportLogsRequest {
        var rl = ResourceLogs()
        rl.resource.attributes = [kv("service.name", str(service))] + extra
        var sl = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        sl.scope.name = scope
        sl.logRecords = records
        rl.scopeLogs = [sl]
        var r = ExportLogsRequest()
        r.resourceLogs = [rl]
        return r
    }

    /// A gauge named `name` with one data point per attribute list.
    static func gauge(_ name: String, points: [[KeyValue]]) -> Metric {
        var m = Metric()
        m.name = name
        var g = Opentelemetry_Proto_Metrics_V1_Gauge()
        g.dataPoints = points.map { attrs in
            var p = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
            p.attributes = attrs
            p.asInt = 1
            return p
        }
        m.gauge = g
        return m
    }

    /// A histogram named `name` with one data point per attribute list.
    static func histogram(_ name: String, points: [[KeyValue]]) -> Metric {
        var m = Metric()
        m.name = name
        var h = Opentelemetry_Proto_Metrics_V1_Histogram()
        h.dataPoints = points.map { attrs in
            var p = Opentelemetry_Proto_Metrics_V1_HistogramDataPoint()
            p.attributes = attrs
            p.count = 1
            return p
        }
        m.histogram = h
        return m
    }

    static func metrics(service: String = "checkout", resource extra: [KeyValue] = [], _ metrics: [Metric]) -> ExportMetricsRequest {
        var rm = ResourceMetrics()
        rm.resource.attributes = [kv("service.name", str(service))] + extra
        var sm = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
        sm.metrics = metrics
        rm.scopeMetrics = [sm]
        var r = ExportMetricsRequest()
        r.resourceMetrics = [rm]
        return r
    }
}

extension Array where Element == KeyValue {
    /// The attribute named `key`, for assertions.
    subscript(attribute key: String) -> AnyValue? {
        first { $0.key == key }?.value
    }

    var keys: [String] { map(\.key) }
}

extension ExportTraceRequest {
    var allSpans: [Span] { resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) } }
}
