import CollectorCore
import Foundation
import OTLP
import SQLiteStore

/// The Jaeger JSON of a trace read as stored protobuf (``EncodedStoredTrace``), written from the spans' bytes
/// (``EncodedSpan``) without decoding them into `Span` values: for a 10,000-span trace the decoding was half the
/// answer's time. The same bytes as ``JaegerTrace/write(_:anomalies:into:parallelMinimum:)`` of the decoded trace
/// (`JaegerTraceFromProtobufTests`); a span the view does not read plainly is decoded and written that way.
extension JaegerTrace {
    public static func json(_ trace: EncodedStoredTrace, anomalies: [Data: [Data: SpanAnomaly]] = [:]) throws -> JSON {
        var w = JSONWriter(capacity: estimatedSize(trace))
        try write(trace, anomalies: anomalies, into: &w)
        return .raw(w.bytes)
    }

    static func estimatedSize(_ trace: EncodedStoredTrace) -> Int { 512 + trace.spans.count * 2048 }

    static func write(
        _ trace: EncodedStoredTrace, anomalies: [Data: [Data: SpanAnomaly]], into w: inout JSONWriter,
        parallelMinimum: Int = parallelWriteMinimum
    ) throws {
        let flagged = anomalies[trace.traceID] ?? [:]
        try writeTrace(
            traceID: trace.traceID, resources: trace.resources, spanCount: trace.spans.count, parallelMinimum: parallelMinimum,
            into: &w
        ) { range, processIDs, w in
            for span in trace.spans[range] {
                let scope = trace.scopes[span.scope]
                let processID = processIDs[span.resource]
                try span.bytes.withUnsafeBytes { bytes in
                    if let view = EncodedSpan(bytes) {
                        writeSpan(view, scope: scope, processID: processID, flagged: flagged, into: &w)
                    } else {
                        let decoded = try Span(serializedBytes: span.bytes)
                        writeSpan(decoded, scope: scope, processID: processID, anomaly: flagged[decoded.spanID], into: &w)
                    }
                }
            }
        }
    }

    /// ``writeSpan(_:scope:processID:anomaly:into:)`` from the span's bytes.
    static func writeSpan(
        _ span: EncodedSpan, scope: InstrumentationScope, processID: Int, flagged: [Data: SpanAnomaly], into w: inout JSONWriter
    ) {
        let buffer = span.buffer
        func bytes(_ range: Range<Int>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[range]) }
        let anomaly = flagged.isEmpty ? nil : flagged[span.data(span.spanID)]
        w.beginObject()
        w.key("traceID")
        w.jaegerID(bytes: bytes(span.traceID))
        w.key("spanID")
        w.jaegerID(bytes: bytes(span.spanID))
        w.key("flags")
        w.int(Int64(span.flags & 0xFF))
        w.key("operationName")
        w.string(utf8: bytes(span.name))
        w.key("references")
        w.beginArray()
        if !span.parentSpanID.isEmpty { writeReference("CHILD_OF", bytes(span.traceID), bytes(span.parentSpanID), into: &w) }
        span.forEachLink { traceID, spanID in writeReference("FOLLOWS_FROM", bytes(traceID), bytes(spanID), into: &w) }
        w.endArray()
        w.key("startTime")
        w.int(Int64(clamping: span.start / 1000))
        w.key("duration")
        w.int(Int64(clamping: span.end >= span.start ? (span.end - span.start) / 1000 : 0))
        w.key("tags")
        w.beginArray()
        span.forEachAttribute { key, value in writeTag(bytes(key), value, buffer, into: &w) }
        if !scope.name.isEmpty { writeStringTag("otel.scope.name", scope.name, into: &w) }
        if !scope.version.isEmpty { writeStringTag("otel.scope.version", scope.version, into: &w) }
        if let kind = SpanKindName.name(Int(span.kind)) { writeStringTag("span.kind", kind, into: &w) }
        switch SpanStatus.StatusCode(rawValue: Int(span.statusCode)) {
        case .ok: writeStringTag("otel.status_code", "OK", into: &w)
        case .error:
            writeStringTag("otel.status_code", "ERROR", into: &w)
            writeTrueTag("error", into: &w)
        default: break
        }
        if !span.statusMessage.isEmpty { writeStringTag("otel.status_description", utf8: bytes(span.statusMessage), into: &w) }
        if !span.traceState.isEmpty { writeStringTag("w3c.tracestate", utf8: bytes(span.traceState), into: &w) }
        if anomaly != nil { writeTrueTag(SpanAnomaly.tag.key, into: &w) }
        w.endArray()
        w.key("logs")
        w.beginArray()
        span.forEachEvent { time, name, event in
            w.beginObject()
            w.key("timestamp")
            w.int(Int64(clamping: time / 1000))
            w.key("fields")
            w.beginArray()
            if !name.isEmpty { writeStringTag("event", utf8: bytes(name), into: &w) }
            span.forEachAttribute(ofEvent: event) { key, value in writeTag(bytes(key), value, buffer, into: &w) }
            w.endArray()
            w.endObject()
        }
        w.endArray()
        writeSpanEnd(processID: processID, anomaly: anomaly, into: &w)
    }

    static func writeReference(_ type: StaticString, _ traceID: UnsafeRawBufferPointer, _ spanID: UnsafeRawBufferPointer, into w: inout JSONWriter) {
        w.beginObject()
        w.key("refType")
        w.string(literal: type)
        w.key("traceID")
        w.jaegerID(bytes: traceID)
        w.key("spanID")
        w.jaegerID(bytes: spanID)
        w.endObject()
    }

    static func writeStringTag(_ key: String, utf8 value: UnsafeRawBufferPointer, into w: inout JSONWriter) {
        w.beginObject()
        w.key("key")
        w.string(key)
        w.key("type")
        w.string(literal: "string")
        w.key("value")
        w.string(utf8: value)
        w.endObject()
    }

    /// ``writeTag(_:_:into:)`` of an attribute read in place; a value that is not a scalar is decoded to be written.
    static func writeTag(_ key: UnsafeRawBufferPointer, _ value: EncodedSpan.Value, _ buffer: UnsafeRawBufferPointer, into w: inout JSONWriter) {
        w.beginObject()
        w.key("key")
        w.string(utf8: key)
        switch value {
        case .string(let r):
            writeType("string", into: &w)
            w.string(utf8: UnsafeRawBufferPointer(rebasing: buffer[r]))
        case .bool(let b):
            writeType("bool", into: &w)
            w.bool(b)
        case .int(let i):
            writeType("int64", into: &w)
            w.int(i)
        case .double(let d):
            writeType("float64", into: &w)
            w.double(d)
        case .bytes(let r):
            writeType("binary", into: &w)
            w.string(Data(UnsafeRawBufferPointer(rebasing: buffer[r])).base64EncodedString())
        case .other(let r):
            // EncodedSpan decoded it once already to check it: this cannot fail.
            let decoded = (try? AnyValue(serializedBytes: Data(UnsafeRawBufferPointer(rebasing: buffer[r])))) ?? AnyValue()
            writeTypeAndValue(decoded, into: &w)
        }
        w.endObject()
    }
}
