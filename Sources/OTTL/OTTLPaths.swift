import CollectorCore
import Foundation
import OTLP

/// A path bound to a context: how to read it, and, when it can be written, how to write it.
struct OTTLAccess: Sendable {
    typealias Getter = @Sendable (inout OTTLTarget) throws -> OTTLValue
    typealias Setter = @Sendable (inout OTTLTarget, OTTLValue) throws -> Void
    typealias MapEditor = @Sendable (inout OTTLTarget, (inout [KeyValue]) throws -> Void) throws -> Void
    /// Writes a value already in stored form.
    typealias StoredSetter = @Sendable (inout OTTLTarget, AnyValue) throws -> Void

    /// Reads the value and writes what `change` makes of it (nothing when it returns nil). `change` must not read
    /// the target: a map's list may be taken out of it meanwhile.
    typealias Updater = @Sendable (inout OTTLTarget, (OTTLValue) throws -> OTTLValue?) throws -> Void

    var get: Getter
    var set: Setter?
    /// Edits the map at this path in place; throws when the value there is not a map.
    var editMap: MapEditor?
    /// A read and a write in one step, for paths where that saves a second lookup; nil where `get` then `set` is
    /// as cheap.
    var update: Updater? = nil
    /// Writes a value already in stored form (a constant converted once, when the statement is compiled); nil
    /// where `set` is the only way.
    var setStored: StoredSetter? = nil
}

/// A run-time failure of a statement: a value of the wrong type, an index out of range, an invalid ID.
public struct OTTLRuntimeError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The fields of each context, by name, and the keyed access into maps and lists below them.
enum OTTLPaths {
    /// What a field of an item is.
    enum Field {
        /// An attribute map; keys may follow.
        case map(read: @Sendable (inout OTTLTarget) -> [KeyValue], edit: OTTLAccess.MapEditor)
        /// A value of any type (a log body); keys may follow.
        case any(read: @Sendable (inout OTTLTarget) -> AnyValue, write: @Sendable (inout OTTLTarget, AnyValue) -> Void)
        /// A scalar; no keys.
        case scalar(OTTLAccess.Getter, OTTLAccess.Setter?)
    }

    /// The field `names` (context prefix removed) of an item of `level`; nil when there is none.
    static func field(_ level: OTTLContext, _ names: [String]) -> Field? {
        let name = names.joined(separator: ".")
        switch level {
        case .resource:
            switch name {
            case "attributes": return attributes({ $0.resource.attributes }, { t, v in t.resource.attributes = v })
            case "dropped_attributes_count": return uint32({ $0.resource.droppedAttributesCount }, { $0.resource.droppedAttributesCount = $1 })
            default: return nil
            }
        case .scope:
            switch name {
            case "name": return string({ $0.scope.name }, { $0.scope.name = $1 })
            case "version": return string({ $0.scope.version }, { $0.scope.version = $1 })
            case "attributes": return attributes({ $0.scope.attributes }, { t, v in t.scope.attributes = v })
            case "dropped_attributes_count": return uint32({ $0.scope.droppedAttributesCount }, { $0.scope.droppedAttributesCount = $1 })
            default: return nil
            }
        case .span:
            switch name {
            case "trace_id": return id(16, { $0.span.traceID }, { $0.span.traceID = $1 })
            case "trace_id.string": return idString(16, { $0.span.traceID }, { $0.span.traceID = $1 })
            case "span_id": return id(8, { $0.span.spanID }, { $0.span.spanID = $1 })
            case "span_id.string": return idString(8, { $0.span.spanID }, { $0.span.spanID = $1 })
            case "parent_span_id": return id(8, { $0.span.parentSpanID }, { $0.span.parentSpanID = $1 })
            case "parent_span_id.string": return idString(8, { $0.span.parentSpanID }, { $0.span.parentSpanID = $1 })
            case "trace_state": return string({ $0.span.traceState }, { $0.span.traceState = $1 })
            case "name": return string({ $0.span.name }, { $0.span.name = $1 })
            case "kind":
                return int(
                    { Int64($0.span.kind.rawValue) },
                    { t, v in
                        guard let k = Int(exactly: v), let kind = Span.SpanKind(rawValue: k) else {
                            throw OTTLRuntimeError("span kind \(v) is out of range")
                        }
                        t.span.kind = kind
                    })
            case "kind.string":
                return string(
                    { spanKindNames[$0.span.kind.rawValue] ?? "" },
                    { t, v in
                        guard let k = spanKindNames.first(where: { $0.value == v })?.key, let kind = Span.SpanKind(rawValue: k) else {
                            throw OTTLRuntimeError("\"\(v)\" is not a span kind (Unspecified, Internal, Server, Client, Producer, Consumer)")
                        }
                        t.span.kind = kind
                    })
            case "start_time_unix_nano": return uint64({ $0.span.startTimeUnixNano }, { $0.span.startTimeUnixNano = $1 })
            case "end_time_unix_nano": return uint64({ $0.span.endTimeUnixNano }, { $0.span.endTimeUnixNano = $1 })
            case "start_time": return time({ $0.span.startTimeUnixNano }, { $0.span.startTimeUnixNano = $1 })
            case "end_time": return time({ $0.span.endTimeUnixNano }, { $0.span.endTimeUnixNano = $1 })
            case "attributes":
                let inSpan = attributes({ $0.span.attributes }, { t, v in t.span.attributes = v })
                guard case .map(_, let editInSpan) = inSpan else { return inSpan }
                return .map(
                    read: { $0.spanAttributesOut ? $0.spanAttributes : $0.span.attributes },
                    edit: { t, body in
                        if t.spanAttributesOut { try body(&t.spanAttributes) } else { try editInSpan(&t, body) }
                    })
            case "dropped_attributes_count": return uint32({ $0.span.droppedAttributesCount }, { $0.span.droppedAttributesCount = $1 })
            case "dropped_events_count": return uint32({ $0.span.droppedEventsCount }, { $0.span.droppedEventsCount = $1 })
            case "dropped_links_count": return uint32({ $0.span.droppedLinksCount }, { $0.span.droppedLinksCount = $1 })
            case "flags": return uint32({ $0.span.flags }, { $0.span.flags = $1 })
            case "status.code":
                return int(
                    { Int64($0.span.status.code.rawValue) },
                    { t, v in
                        guard let c = Int(exactly: v), let code = SpanStatus.StatusCode(rawValue: c), (0...2).contains(c) else {
                            throw OTTLRuntimeError("status code \(v) is out of range")
                        }
                        t.span.status.code = code
                    })
            case "status.message": return string({ $0.span.status.message }, { $0.span.status.message = $1 })
            default: return nil
            }
        case .spanevent:
            switch name {
            case "name": return string({ $0.event.name }, { $0.event.name = $1 })
            case "time_unix_nano": return uint64({ $0.event.timeUnixNano }, { $0.event.timeUnixNano = $1 })
            case "time": return time({ $0.event.timeUnixNano }, { $0.event.timeUnixNano = $1 })
            case "attributes": return attributes({ $0.event.attributes }, { t, v in t.event.attributes = v })
            case "dropped_attributes_count": return uint32({ $0.event.droppedAttributesCount }, { $0.event.droppedAttributesCount = $1 })
            default: return nil
            }
        case .metric:
            switch name {
            case "name": return string({ $0.metric.name }, { $0.metric.name = $1 })
            case "description": return string({ $0.metric.description_p }, { $0.metric.description_p = $1 })
            case "unit": return string({ $0.metric.unit }, { $0.metric.unit = $1 })
            case "type": return .scalar({ .int(metricShape(&$0).type) }, nil)
            case "aggregation_temporality":
                return int({ metricShape(&$0).temporality }, { t, v in try setTemporality(&t, v) })
            case "is_monotonic":
                return .scalar(
                    { .bool(metricShape(&$0).isMonotonic) },
                    { t, v in
                        guard case .bool(let b) = v else { throw OTTLRuntimeError("is_monotonic takes a bool, got \(v.typeName)") }
                        guard case .sum(var s)? = t.metric.data else { throw OTTLRuntimeError("is_monotonic can be set on sums only") }
                        t.metric.data = nil
                        s.isMonotonic = b
                        t.metric.data = .sum(s)
                    })
            default: return nil
            }
        case .datapoint:
            switch name {
            case "attributes":
                return .map(read: { $0.point.attributes }, edit: { t, body in try t.point.editAttributes(body) })
            case "start_time_unix_nano": return uint64({ $0.point.startTime }, { $0.point.setStartTime($1) })
            case "time_unix_nano": return uint64({ $0.point.time }, { $0.point.setTime($1) })
            case "start_time": return time({ $0.point.startTime }, { $0.point.setStartTime($1) })
            case "time": return time({ $0.point.time }, { $0.point.setTime($1) })
            case "flags": return uint32({ $0.point.flags }, { $0.point.setFlags($1) })
            case "value_double":
                return .scalar(
                    { t in
                        if case .number(let p) = t.point, case .asDouble(let d)? = p.value { return .double(d) }
                        return .null
                    },
                    { t, v in
                        guard case .number(var p) = t.point else { throw OTTLRuntimeError("value_double is a field of gauge and sum points") }
                        switch v {
                        case .double(let d): p.asDouble = d
                        case .int(let i): p.asDouble = Double(i)
                        default: throw OTTLRuntimeError("value_double takes a number, got \(v.typeName)")
                        }
                        t.point = .number(p)
                    })
            case "value_int":
                return .scalar(
                    { t in
                        if case .number(let p) = t.point, case .asInt(let i)? = p.value { return .int(i) }
                        return .null
                    },
                    { t, v in
                        guard case .number(var p) = t.point else { throw OTTLRuntimeError("value_int is a field of gauge and sum points") }
                        guard case .int(let i) = v else { throw OTTLRuntimeError("value_int takes an int, got \(v.typeName)") }
                        p.asInt = i
                        t.point = .number(p)
                    })
            case "count":
                return .scalar(
                    { t in
                        switch t.point {
                        case .histogram(let p): return .int(Int64(bitPattern: p.count))
                        case .exponentialHistogram(let p): return .int(Int64(bitPattern: p.count))
                        case .summary(let p): return .int(Int64(bitPattern: p.count))
                        default: return .null
                        }
                    }, nil)
            case "sum":
                return .scalar(
                    { t in
                        switch t.point {
                        case .histogram(let p): return p.hasSum ? .double(p.sum) : .null
                        case .exponentialHistogram(let p): return p.hasSum ? .double(p.sum) : .null
                        case .summary(let p): return .double(p.sum)
                        default: return .null
                        }
                    }, nil)
            default: return nil
            }
        case .log:
            switch name {
            case "time_unix_nano": return uint64({ $0.log.timeUnixNano }, { $0.log.timeUnixNano = $1 })
            case "observed_time_unix_nano": return uint64({ $0.log.observedTimeUnixNano }, { $0.log.observedTimeUnixNano = $1 })
            case "time": return time({ $0.log.timeUnixNano }, { $0.log.timeUnixNano = $1 })
            case "observed_time": return time({ $0.log.observedTimeUnixNano }, { $0.log.observedTimeUnixNano = $1 })
            case "severity_number":
                return int(
                    { Int64($0.log.severityNumber.rawValue) },
                    { t, v in
                        guard let n = Int(exactly: v), (0...24).contains(n), let s = Opentelemetry_Proto_Logs_V1_SeverityNumber(rawValue: n) else {
                            throw OTTLRuntimeError("severity number \(v) is out of range 0–24")
                        }
                        t.log.severityNumber = s
                    })
            case "severity_text": return string({ $0.log.severityText }, { $0.log.severityText = $1 })
            case "body": return .any(read: { $0.log.body }, write: { $0.log.body = $1 })
            case "body.string":
                return string({ AttributeValueText.asString($0.log.body) }, { $0.log.body = .string($1) })
            case "attributes": return attributes({ $0.log.attributes }, { t, v in t.log.attributes = v })
            case "dropped_attributes_count": return uint32({ $0.log.droppedAttributesCount }, { $0.log.droppedAttributesCount = $1 })
            case "flags": return uint32({ $0.log.flags }, { $0.log.flags = $1 })
            case "trace_id": return id(16, { $0.log.traceID }, { $0.log.traceID = $1 })
            case "trace_id.string": return idString(16, { $0.log.traceID }, { $0.log.traceID = $1 })
            case "span_id": return id(8, { $0.log.spanID }, { $0.log.spanID = $1 })
            case "span_id.string": return idString(8, { $0.log.spanID }, { $0.log.spanID = $1 })
            case "event_name": return string({ $0.log.eventName }, { $0.log.eventName = $1 })
            default: return nil
            }
        }
    }

    /// The names each context has, for error messages.
    static func names(_ level: OTTLContext) -> [String] {
        switch level {
        case .resource: return ["attributes", "dropped_attributes_count"]
        case .scope: return ["name", "version", "attributes", "dropped_attributes_count"]
        case .span:
            return [
                "trace_id", "trace_id.string", "span_id", "span_id.string", "parent_span_id", "parent_span_id.string",
                "trace_state", "name", "kind", "kind.string", "start_time_unix_nano", "end_time_unix_nano", "start_time",
                "end_time", "attributes", "dropped_attributes_count", "dropped_events_count", "dropped_links_count", "flags",
                "status.code", "status.message",
            ]
        case .spanevent: return ["name", "time_unix_nano", "time", "attributes", "dropped_attributes_count"]
        case .metric: return ["name", "description", "unit", "type", "aggregation_temporality", "is_monotonic"]
        case .datapoint:
            return [
                "attributes", "start_time_unix_nano", "time_unix_nano", "start_time", "time", "flags", "value_double",
                "value_int", "count", "sum",
            ]
        case .log:
            return [
                "time_unix_nano", "observed_time_unix_nano", "time", "observed_time", "severity_number", "severity_text",
                "body", "body.string", "attributes", "dropped_attributes_count", "flags", "trace_id", "trace_id.string",
                "span_id", "span_id.string", "event_name",
            ]
        }
    }

    static let spanKindNames: [Int: String] = [0: "Unspecified", 1: "Internal", 2: "Server", 3: "Client", 4: "Producer", 5: "Consumer"]

    // MARK: - Field builders

    private static func attributes(
        _ read: @escaping @Sendable (inout OTTLTarget) -> [KeyValue],
        _ write: @escaping @Sendable (inout OTTLTarget, [KeyValue]) -> Void
    ) -> Field {
        .map(
            read: read,
            edit: { t, body in
                // Take the list out first, so that it is the only reference while it is edited.
                var list = read(&t)
                write(&t, [])
                defer { write(&t, list) }
                try body(&list)
            })
    }

    private static func string(
        _ get: @escaping @Sendable (inout OTTLTarget) -> String,
        _ set: @escaping @Sendable (inout OTTLTarget, String) throws -> Void
    ) -> Field {
        .scalar(
            { .string(get(&$0)) },
            { t, v in
                guard case .string(let s) = v else { throw OTTLRuntimeError("expected a string, got \(v.typeName)") }
                try set(&t, s)
            })
    }

    private static func int(
        _ get: @escaping @Sendable (inout OTTLTarget) -> Int64,
        _ set: @escaping @Sendable (inout OTTLTarget, Int64) throws -> Void
    ) -> Field {
        .scalar(
            { .int(get(&$0)) },
            { t, v in
                guard case .int(let i) = v else { throw OTTLRuntimeError("expected an int, got \(v.typeName)") }
                try set(&t, i)
            })
    }

    private static func uint64(
        _ get: @escaping @Sendable (inout OTTLTarget) -> UInt64,
        _ set: @escaping @Sendable (inout OTTLTarget, UInt64) -> Void
    ) -> Field {
        int(
            { Int64(bitPattern: get(&$0)) },
            { t, v in
                guard v >= 0 else { throw OTTLRuntimeError("a time in nanoseconds cannot be negative (\(v))") }
                set(&t, UInt64(v))
            })
    }

    private static func uint32(
        _ get: @escaping @Sendable (inout OTTLTarget) -> UInt32,
        _ set: @escaping @Sendable (inout OTTLTarget, UInt32) -> Void
    ) -> Field {
        int(
            { Int64(get(&$0)) },
            { t, v in
                guard let u = UInt32(exactly: v) else { throw OTTLRuntimeError("\(v) is out of range for an unsigned 32-bit field") }
                set(&t, u)
            })
    }

    private static func time(
        _ get: @escaping @Sendable (inout OTTLTarget) -> UInt64,
        _ set: @escaping @Sendable (inout OTTLTarget, UInt64) -> Void
    ) -> Field {
        .scalar(
            { .time(Int64(bitPattern: get(&$0))) },
            { t, v in
                guard case .time(let n) = v else { throw OTTLRuntimeError("expected a time, got \(v.typeName)") }
                guard n >= 0 else { throw OTTLRuntimeError("a time before 1970 cannot be stored") }
                set(&t, UInt64(n))
            })
    }

    private static func id(
        _ width: Int, _ get: @escaping @Sendable (inout OTTLTarget) -> Data,
        _ set: @escaping @Sendable (inout OTTLTarget, Data) -> Void
    ) -> Field {
        .scalar(
            { .bytes(Array(get(&$0))) },
            { t, v in
                guard case .bytes(let b) = v, b.count == width else {
                    throw OTTLRuntimeError("an ID of \(width) bytes is expected, got \(v.typeName)")
                }
                set(&t, Data(b))
            })
    }

    private static func idString(
        _ width: Int, _ get: @escaping @Sendable (inout OTTLTarget) -> Data,
        _ set: @escaping @Sendable (inout OTTLTarget, Data) -> Void
    ) -> Field {
        .scalar(
            { t in
                let d = get(&t)
                return .string(d.isEmpty ? "" : OTTLHex.encode(d))
            },
            { t, v in
                guard case .string(let s) = v, s.utf8.count == width * 2, let b = OTTLHex.decode(s) else {
                    throw OTTLRuntimeError("an ID of \(width * 2) hex characters is expected")
                }
                set(&t, Data(b))
            })
    }

    private static func metricShape(_ t: inout OTTLTarget) -> OTTLTarget.MetricShape {
        switch t.metric.data {
        case nil: return t.metricShape
        case .gauge?: return .init(type: 1, temporality: 0, isMonotonic: false)
        case .sum(let s)?: return .init(type: 2, temporality: Int64(s.aggregationTemporality.rawValue), isMonotonic: s.isMonotonic)
        case .histogram(let h)?: return .init(type: 3, temporality: Int64(h.aggregationTemporality.rawValue), isMonotonic: false)
        case .exponentialHistogram(let h)?: return .init(type: 4, temporality: Int64(h.aggregationTemporality.rawValue), isMonotonic: false)
        case .summary?: return .init(type: 5, temporality: 0, isMonotonic: false)
        }
    }

    private static func setTemporality(_ t: inout OTTLTarget, _ v: Int64) throws {
        guard let n = Int(exactly: v), (0...2).contains(n),
            let temporality = Opentelemetry_Proto_Metrics_V1_AggregationTemporality(rawValue: n)
        else {
            throw OTTLRuntimeError("aggregation temporality \(v) is out of range")
        }
        switch t.metric.data {
        case .sum(var s)?:
            t.metric.data = nil
            s.aggregationTemporality = temporality
            t.metric.data = .sum(s)
        case .histogram(var h)?:
            t.metric.data = nil
            h.aggregationTemporality = temporality
            t.metric.data = .histogram(h)
        case .exponentialHistogram(var h)?:
            t.metric.data = nil
            h.aggregationTemporality = temporality
            t.metric.data = .exponentialHistogram(h)
        default: throw OTTLRuntimeError("aggregation_temporality can be set on sums and histograms only")
        }
    }
}
