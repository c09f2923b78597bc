import CollectorCore
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
    /// then span ID. Written straight into bytes (a 10,000-span trace is some 14 MB of JSON: a ``JSON`` tree of it
    /// cost more to build and walk than the bytes take to write) and returned as a ready fragment.
    public static func json(_ trace: ExportTraceRequest, anomalies: [Data: [Data: SpanAnomaly]] = [:]) -> JSON {
        var w = JSONWriter(capacity: estimatedSize(trace))
        write(trace, anomalies: anomalies, into: &w)
        return .raw(w.bytes)
    }

    /// A generous size for a trace's JSON (a span of 10 attributes and an event is about 1.4 KB): unused reserved
    /// pages cost no memory, a regrowth copies everything written so far.
    static func estimatedSize(_ trace: ExportTraceRequest) -> Int {
        var spans = 0
        for rs in trace.resourceSpans { for ss in rs.scopeSpans { spans += ss.spans.count } }
        return 512 + spans * 2048
    }

    /// Writes ``json(_:anomalies:)``'s object into `w`; with `parallelMinimum` or more spans for each core, the
    /// spans are written on several cores at once (the same bytes).
    static func write(
        _ trace: ExportTraceRequest, anomalies: [Data: [Data: SpanAnomaly]], into w: inout JSONWriter,
        parallelMinimum: Int = parallelWriteMinimum
    ) {
        var spans: [(start: UInt64, rs: Int, ss: Int, span: Int)] = []
        var traceID = Data()
        for (r, rs) in trace.resourceSpans.enumerated() {
            for (s, ss) in rs.scopeSpans.enumerated() {
                for (k, span) in ss.spans.enumerated() {
                    if traceID.isEmpty { traceID = span.traceID }
                    spans.append((span.startTimeUnixNano, r, s, k))
                }
            }
        }
        spans.sort { $0.start < $1.start }
        let ordered = spans
        writeTrace(
            traceID: traceID, resources: trace.resourceSpans.map(\.resource), spanCount: ordered.count,
            parallelMinimum: parallelMinimum, into: &w
        ) { range, processIDs, w in
            for entry in ordered[range] {
                let ss = trace.resourceSpans[entry.rs].scopeSpans[entry.ss]
                let span = ss.spans[entry.span]
                writeSpan(span, scope: ss.scope, processID: processIDs[entry.rs], anomaly: anomalies[span.traceID]?[span.spanID], into: &w)
            }
        }
    }

    /// The trace object around its spans: `processes` numbers the distinct resources (by their JSON) in order of
    /// appearance; `writeSpans` writes a range of the spans, given each resource's process number. A trace with
    /// `parallelMinimum` or more spans for each of two cores has its ranges written on every core at once, each into
    /// its own buffer, then joined in order.
    static func writeTrace<E: Error>(
        traceID: Data, resources: [Resource], spanCount: Int, parallelMinimum: Int, into w: inout JSONWriter,
        spans writeSpans: @Sendable (_ range: Range<Int>, _ processIDs: [Int], _ w: inout JSONWriter) throws(E) -> Void
    ) throws(E) {
        var processes: [[UInt8]] = []
        var processIDs: [[UInt8]: Int] = [:]
        var processOf: [Int] = []
        for resource in resources {
            var process = JSONWriter(capacity: 256)
            writeProcess(resource, into: &process)
            if let existing = processIDs[process.bytes] {
                processOf.append(existing + 1)
            } else {
                processIDs[process.bytes] = processes.count
                processes.append(process.bytes)
                processOf.append(processes.count)
            }
        }
        let processNumbers = processOf
        w.beginObject()
        w.key("traceID")
        w.jaegerID(traceID)
        w.key("spans")
        w.beginArray()
        if spanCount / 2 < parallelMinimum {
            try writeSpans(0..<spanCount, processNumbers, &w)
        } else {
            let parts = try ParallelRanges.map(count: spanCount, minimumPerRange: parallelMinimum) { range throws(E) in
                var part = JSONWriter(capacity: range.count * 2048)
                try writeSpans(range, processNumbers, &part)
                return part.bytes
            }
            for part in parts { w.raw(part) }
        }
        w.endArray()
        w.key("processes")
        w.beginObject()
        for (i, process) in processes.enumerated() {
            w.key(dynamic: "p\(i + 1)")
            w.raw(process)
        }
        w.endObject()
        w.key("warnings")
        w.null()
        w.endObject()
    }

    /// Spans each thread writes at least: below twice this, one thread writes all.
    static let parallelWriteMinimum = 1000

    static func writeProcess(_ resource: Resource, into w: inout JSONWriter) {
        // Every string `service.name` is left out of the tags; the last one names the service.
        var service = "unknown_service"
        var tags = JSONWriter(capacity: 64 * resource.attributes.count)
        tags.beginArray()
        for kv in resource.attributes {
            if kv.key == "service.name", case .stringValue(let s)? = kv.value.value {
                service = s
                continue
            }
            writeTag(kv.key, kv.value, into: &tags)
        }
        tags.endArray()
        w.beginObject()
        w.key("serviceName")
        w.string(service)
        w.key("tags")
        w.raw(tags.bytes)
        w.endObject()
    }

    static func writeSpan(
        _ span: Span, scope: InstrumentationScope, processID: Int, anomaly: SpanAnomaly?, into w: inout JSONWriter
    ) {
        w.beginObject()
        w.key("traceID")
        w.jaegerID(span.traceID)
        w.key("spanID")
        w.jaegerID(span.spanID)
        w.key("flags")
        w.int(Int64(span.flags & 0xFF))
        w.key("operationName")
        w.string(span.name)
        w.key("references")
        w.beginArray()
        if !span.parentSpanID.isEmpty { writeReference("CHILD_OF", span.traceID, span.parentSpanID, into: &w) }
        for link in span.links { writeReference("FOLLOWS_FROM", link.traceID, link.spanID, into: &w) }
        w.endArray()
        w.key("startTime")
        w.int(Int64(clamping: span.startTimeUnixNano / 1000))
        let duration = span.endTimeUnixNano >= span.startTimeUnixNano ? (span.endTimeUnixNano - span.startTimeUnixNano) / 1000 : 0
        w.key("duration")
        w.int(Int64(clamping: duration))
        w.key("tags")
        w.beginArray()
        for kv in span.attributes { writeTag(kv.key, kv.value, into: &w) }
        if !scope.name.isEmpty { writeStringTag("otel.scope.name", scope.name, into: &w) }
        if !scope.version.isEmpty { writeStringTag("otel.scope.version", scope.version, into: &w) }
        if let kind = SpanKindName.name(span.kind.rawValue) { writeStringTag("span.kind", kind, into: &w) }
        switch span.status.code {
        case .ok: writeStringTag("otel.status_code", "OK", into: &w)
        case .error:
            writeStringTag("otel.status_code", "ERROR", into: &w)
            writeTrueTag("error", into: &w)
        default: break
        }
        if !span.status.message.isEmpty { writeStringTag("otel.status_description", span.status.message, into: &w) }
        if !span.traceState.isEmpty { writeStringTag("w3c.tracestate", span.traceState, into: &w) }
        if anomaly != nil { writeTrueTag(SpanAnomaly.tag.key, into: &w) }
        w.endArray()
        w.key("logs")
        w.beginArray()
        for event in span.events {
            w.beginObject()
            w.key("timestamp")
            w.int(Int64(clamping: event.timeUnixNano / 1000))
            w.key("fields")
            w.beginArray()
            if !event.name.isEmpty { writeStringTag("event", event.name, into: &w) }
            for kv in event.attributes { writeTag(kv.key, kv.value, into: &w) }
            w.endArray()
            w.endObject()
        }
        w.endArray()
        writeSpanEnd(processID: processID, anomaly: anomaly, into: &w)
    }

    /// A span's `processID` and `warnings` (the anomaly's, if flagged), and its closing brace.
    static func writeSpanEnd(processID: Int, anomaly: SpanAnomaly?, into w: inout JSONWriter) {
        w.key("processID")
        w.string("p\(processID)")
        w.key("warnings")
        if let anomaly {
            w.beginArray()
            w.string(anomalyWarning(anomaly))
            w.endArray()
        } else {
            w.null()
        }
        w.endObject()
    }

    /// A tag's `"type":…,"value":` before its value.
    static func writeType(_ type: StaticString, into w: inout JSONWriter) {
        w.key("type")
        w.string(literal: type)
        w.key("value")
    }

    /// "took 1.2s, 6.1× the p99 of its operation (196ms) in otelsink's latency baseline".
    public static func anomalyWarning(_ a: SpanAnomaly) -> String {
        let ratio = (a.ratio * 10).rounded() / 10
        return "took \(ReadableText.duration(UInt64(max(0, a.durationNanos)))), \(ratio)× the p99 of its operation "
            + "(\(ReadableText.duration(UInt64(max(0, a.baselineP99Nanos))))) in otelsink's latency baseline"
    }

    static func writeReference(_ type: StaticString, _ traceID: Data, _ spanID: Data, into w: inout JSONWriter) {
        w.beginObject()
        w.key("refType")
        w.string(literal: type)
        w.key("traceID")
        w.jaegerID(traceID)
        w.key("spanID")
        w.jaegerID(spanID)
        w.endObject()
    }

    static func writeStringTag(_ key: String, _ value: String, into w: inout JSONWriter) {
        w.beginObject()
        w.key("key")
        w.string(key)
        w.key("type")
        w.string(literal: "string")
        w.key("value")
        w.string(value)
        w.endObject()
    }

    static func writeTrueTag(_ key: String, into w: inout JSONWriter) {
        w.beginObject()
        w.key("key")
        w.string(key)
        w.key("type")
        w.string(literal: "bool")
        w.key("value")
        w.bool(true)
        w.endObject()
    }

    /// A typed tag: `string`, `bool`, `int64`, `float64`, `binary` (base64); arrays and maps as JSON strings.
    static func writeTag(_ key: String, _ value: AnyValue, into w: inout JSONWriter) {
        w.beginObject()
        w.key("key")
        w.string(key)
        writeTypeAndValue(value, into: &w)
        w.endObject()
    }

    /// A tag's `type` and `value` members.
    static func writeTypeAndValue(_ value: AnyValue, into w: inout JSONWriter) {
        switch value.value {
        case .stringValue(let s):
            writeType("string", into: &w)
            w.string(s)
        case .boolValue(let b):
            writeType("bool", into: &w)
            w.bool(b)
        case .intValue(let i):
            writeType("int64", into: &w)
            w.int(i)
        case .doubleValue(let d):
            writeType("float64", into: &w)
            w.double(d)
        case .bytesValue(let b):
            writeType("binary", into: &w)
            w.string(b.base64EncodedString())
        case .arrayValue, .kvlistValue:
            writeType("string", into: &w)
            w.string(AttributeText.json(value))
        case .stringValueStrindex, nil:
            writeType("string", into: &w)
            w.string(AttributeText.text(value))
        }
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
