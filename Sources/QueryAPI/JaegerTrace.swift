import Foundation
import OTLP
import SQLiteStore

/// OTLP → the Jaeger UI's JSON trace model (`internal/uimodel`), with the OpenTelemetry translator's conventions
/// (`pkg/translator/jaeger`): resource attributes become process tags (`service.name` the process's
/// `serviceName`); the parent becomes a `CHILD_OF` reference and links `FOLLOWS_FROM`; times are microseconds;
/// span kind, status, scope and trace state become the tags `span.kind`, `otel.status_code`,
/// `otel.status_description`, `error=true`, `otel.scope.name`, `otel.scope.version`, `w3c.tracestate`; events
/// become logs with the event name as the field `event`. A span flagged as unusually slow at ingest
/// (``SpanAnomaly``) gets the tag `otelsink.anomaly=true` and a span warning saying by how much.
public enum JaegerTrace {
    /// One trace as Jaeger JSON: `{traceID, spans, processes, warnings}`. `anomalies`: flagged spans by trace ID,
    /// then span ID.
    public static func json(_ trace: ExportTraceRequest, anomalies: [Data: [Data: SpanAnomaly]] = [:]) -> JSON {
        var processes: [(key: String, process: JSON)] = []
        var processIDs: [[UInt8]: String] = [:]
        var spans: [(start: UInt64, json: JSON)] = []
        var traceID = Data()
        for rs in trace.resourceSpans {
            let process = processJSON(rs.resource)
            let processKey = process.serialized()
            let pid: String
            if let existing = processIDs[processKey] {
                pid = existing
            } else {
                pid = "p\(processes.count + 1)"
                processIDs[processKey] = pid
                processes.append((pid, process))
            }
            for ss in rs.scopeSpans {
                for span in ss.spans {
                    if traceID.isEmpty { traceID = span.traceID }
                    spans.append(
                        (
                            span.startTimeUnixNano,
                            spanJSON(
                                span, scope: ss.scope, processID: pid, anomaly: anomalies[span.traceID]?[span.spanID])
                        ))
                }
            }
        }
        spans.sort { $0.start < $1.start }
        return .object([
            ("traceID", .string(idHex(traceID))),
            ("spans", .array(spans.map(\.json))),
            ("processes", .object(processes.map { ($0.key, $0.process) })),
            ("warnings", .null),
        ])
    }

    static func processJSON(_ resource: Resource) -> JSON {
        var service = "unknown_service"
        var tags: [JSON] = []
        for kv in resource.attributes {
            if kv.key == "service.name", case .stringValue(let s)? = kv.value.value {
                service = s
                continue
            }
            tags.append(tag(kv.key, kv.value))
        }
        return .object([("serviceName", .string(service)), ("tags", .array(tags))])
    }

    static func spanJSON(_ span: Span, scope: InstrumentationScope, processID: String, anomaly: SpanAnomaly? = nil) -> JSON {
        var references: [JSON] = []
        if !span.parentSpanID.isEmpty {
            references.append(reference("CHILD_OF", span.traceID, span.parentSpanID))
        }
        for link in span.links {
            references.append(reference("FOLLOWS_FROM", link.traceID, link.spanID))
        }
        var tags = span.attributes.map { tag($0.key, $0.value) }
        if !scope.name.isEmpty { tags.append(stringTag("otel.scope.name", scope.name)) }
        if !scope.version.isEmpty { tags.append(stringTag("otel.scope.version", scope.version)) }
        if let kind = SpanKindName.name(span.kind.rawValue) { tags.append(stringTag("span.kind", kind)) }
        switch span.status.code {
        case .ok: tags.append(stringTag("otel.status_code", "OK"))
        case .error:
            tags.append(stringTag("otel.status_code", "ERROR"))
            tags.append(.object([("key", .string("error")), ("type", .string("bool")), ("value", .bool(true))]))
        default: break
        }
        if !span.status.message.isEmpty { tags.append(stringTag("otel.status_description", span.status.message)) }
        if !span.traceState.isEmpty { tags.append(stringTag("w3c.tracestate", span.traceState)) }
        var warnings = JSON.null
        if let anomaly {
            tags.append(.object([("key", .string(SpanAnomaly.tag.key)), ("type", .string("bool")), ("value", .bool(true))]))
            warnings = .array([.string(anomalyWarning(anomaly))])
        }
        let logs: [JSON] = span.events.map { event in
            var fields: [JSON] = []
            if !event.name.isEmpty { fields.append(stringTag("event", event.name)) }
            fields += event.attributes.map { tag($0.key, $0.value) }
            return .object([("timestamp", .int(Int64(event.timeUnixNano / 1000))), ("fields", .array(fields))])
        }
        let duration = span.endTimeUnixNano >= span.startTimeUnixNano ? (span.endTimeUnixNano - span.startTimeUnixNano) / 1000 : 0
        return .object([
            ("traceID", .string(idHex(span.traceID))),
            ("spanID", .string(idHex(span.spanID))),
            ("flags", .int(Int64(span.flags & 0xFF))),
            ("operationName", .string(span.name)),
            ("references", .array(references)),
            ("startTime", .int(Int64(clamping: span.startTimeUnixNano / 1000))),
            ("duration", .int(Int64(clamping: duration))),
            ("tags", .array(tags)),
            ("logs", .array(logs)),
            ("processID", .string(processID)),
            ("warnings", warnings),
        ])
    }

    /// "took 1.2s, 6.1× the p99 of its operation (196ms) in otelsink's latency baseline".
    public static func anomalyWarning(_ a: SpanAnomaly) -> String {
        let ratio = (a.ratio * 10).rounded() / 10
        return "took \(TraceWaterfall.duration(UInt64(max(0, a.durationNanos)))), \(ratio)× the p99 of its operation "
            + "(\(TraceWaterfall.duration(UInt64(max(0, a.baselineP99Nanos))))) in otelsink's latency baseline"
    }

    static func reference(_ type: String, _ traceID: Data, _ spanID: Data) -> JSON {
        .object([("refType", .string(type)), ("traceID", .string(idHex(traceID))), ("spanID", .string(idHex(spanID)))])
    }

    static func stringTag(_ key: String, _ value: String) -> JSON {
        .object([("key", .string(key)), ("type", .string("string")), ("value", .string(value))])
    }

    /// A typed tag: `string`, `bool`, `int64`, `float64`, `binary` (base64); arrays and maps as JSON strings.
    static func tag(_ key: String, _ value: AnyValue) -> JSON {
        let (type, v): (String, JSON)
        switch value.value {
        case .stringValue(let s): (type, v) = ("string", .string(s))
        case .boolValue(let b): (type, v) = ("bool", .bool(b))
        case .intValue(let i): (type, v) = ("int64", .int(i))
        case .doubleValue(let d): (type, v) = ("float64", .double(d))
        case .bytesValue(let b): (type, v) = ("binary", .string(b.base64EncodedString()))
        case .arrayValue, .kvlistValue: (type, v) = ("string", .string(AttributeText.json(value)))
        case .stringValueStrindex, nil: (type, v) = ("string", .string(AttributeText.text(value)))
        }
        return .object([("key", .string(key)), ("type", .string(type)), ("value", v)])
    }

    /// Lowercase hex; a trace ID whose high 64 bits are zero is shown as 16 digits, as Jaeger does.
    public static func idHex(_ id: Data) -> String {
        if id.count == 16, id.prefix(8).allSatisfy({ $0 == 0 }) { return hex(id.suffix(8)) }
        return hex(id)
    }

    /// Every byte as two lower-case hex digits.
    public static func hex(_ bytes: Data) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
