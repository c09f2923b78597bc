import Foundation
import SwiftProtobuf

@testable import OTLP

/// The OTLP messages as otelsink's hand-written code knows them (the one-pass JSON writer of traces, the wire-form
/// indexes `EncodedTraces`, `EncodedLogs` and `EncodedMetrics`, `OTLPCommonWire`): the (field number, wire type) pairs of each, and how
/// to put a message of that kind into an export request. Tests compare the pairs with what the generated code
/// accepts, so a field a regenerated schema adds (or moves) fails them until the hand-written code, and these
/// tables, learn it.
enum SchemaFields {
    /// Wire types: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32.
    static let wireTypes = [0, 1, 2, 5]

    /// Wraps a message's encoding in the messages around it, up to an export request.
    typealias Wrap = @Sendable ([UInt8]) -> [UInt8]

    struct Message: Sendable {
        let name: String
        let type: any SwiftProtobuf.Message.Type
        let fields: Set<[Int]>
        /// An export request holding `bytes` as the encoding of one message of this kind.
        let inRequest: Wrap
        /// Fields the generated code accepts that the hand-written reader refuses on purpose, leaving the request
        /// to swift-protobuf (unpacked encodings of packed repeated fields).
        var decodedBySwiftProtobuf: Set<[Int]> = []
    }

    /// The messages of a trace export request.
    static let traces: [Message] = {
        let request: Wrap = { $0 }
        let resourceSpans: Wrap = { b in request(field(1, b)) }
        let resource: Wrap = { b in resourceSpans(field(1, b)) }
        let scopeSpans: Wrap = { b in resourceSpans(field(2, b)) }
        let scope: Wrap = { b in scopeSpans(field(1, b)) }
        let span: Wrap = { b in scopeSpans(field(2, b)) }
        let keyValue: Wrap = { b in span(field(9, b)) }
        let anyValue: Wrap = { b in keyValue(field(2, b)) }
        return [
            Message(name: "ExportTraceServiceRequest", type: ExportTraceRequest.self, fields: [[1, 2]], inRequest: request),
            Message(name: "ResourceSpans", type: ResourceSpans.self, fields: [[1, 2], [2, 2], [3, 2]], inRequest: resourceSpans),
            Message(name: "Resource", type: Resource.self, fields: [[1, 2], [2, 0], [3, 2]], inRequest: resource),
            Message(
                name: "EntityRef", type: Opentelemetry_Proto_Common_V1_EntityRef.self, fields: [[1, 2], [2, 2], [3, 2], [4, 2]],
                inRequest: { resource(field(3, $0)) }),
            Message(name: "ScopeSpans", type: ScopeSpans.self, fields: [[1, 2], [2, 2], [3, 2]], inRequest: scopeSpans),
            Message(name: "InstrumentationScope", type: InstrumentationScope.self, fields: [[1, 2], [2, 2], [3, 2], [4, 0]], inRequest: scope),
            Message(
                name: "Span", type: Span.self,
                fields: [
                    [1, 2], [2, 2], [3, 2], [4, 2], [5, 2], [6, 0], [7, 1], [8, 1], [9, 2], [10, 0], [11, 2], [12, 0], [13, 2],
                    [14, 0], [15, 2], [16, 5],
                ],
                inRequest: span),
            Message(name: "Span.Event", type: Span.Event.self, fields: [[1, 1], [2, 2], [3, 2], [4, 0]], inRequest: { span(field(11, $0)) }),
            Message(
                name: "Span.Link", type: Span.Link.self, fields: [[1, 2], [2, 2], [3, 2], [4, 2], [5, 0], [6, 5]],
                inRequest: { span(field(13, $0)) }),
            Message(name: "Status", type: SpanStatus.self, fields: [[2, 2], [3, 0]], inRequest: { span(field(15, $0)) }),
            Message(name: "KeyValue", type: KeyValue.self, fields: [[1, 2], [2, 2], [3, 0]], inRequest: keyValue),
            Message(
                name: "AnyValue", type: AnyValue.self, fields: anyValueFields, inRequest: anyValue),
            Message(
                name: "ArrayValue", type: Opentelemetry_Proto_Common_V1_ArrayValue.self, fields: [[1, 2]],
                inRequest: { anyValue(field(5, $0)) }),
            Message(
                name: "KeyValueList", type: Opentelemetry_Proto_Common_V1_KeyValueList.self, fields: [[1, 2]],
                inRequest: { anyValue(field(6, $0)) }),
        ]
    }()

    /// The messages of a logs export request (the shared ones reached through a record's attributes).
    static let logs: [Message] = {
        let request: Wrap = { $0 }
        let resourceLogs: Wrap = { b in request(field(1, b)) }
        let resource: Wrap = { b in resourceLogs(field(1, b)) }
        let scopeLogs: Wrap = { b in resourceLogs(field(2, b)) }
        let record: Wrap = { b in scopeLogs(field(2, b)) }
        let keyValue: Wrap = { b in record(field(6, b)) }
        let anyValue: Wrap = { b in keyValue(field(2, b)) }
        return [
            Message(name: "ExportLogsServiceRequest", type: ExportLogsRequest.self, fields: [[1, 2]], inRequest: request),
            Message(name: "ResourceLogs", type: ResourceLogs.self, fields: [[1, 2], [2, 2], [3, 2]], inRequest: resourceLogs),
            Message(name: "Resource", type: Resource.self, fields: [[1, 2], [2, 0], [3, 2]], inRequest: resource),
            Message(
                name: "ScopeLogs", type: Opentelemetry_Proto_Logs_V1_ScopeLogs.self, fields: [[1, 2], [2, 2], [3, 2]],
                inRequest: scopeLogs),
            Message(
                name: "InstrumentationScope", type: InstrumentationScope.self, fields: [[1, 2], [2, 2], [3, 2], [4, 0]],
                inRequest: { scopeLogs(field(1, $0)) }),
            Message(
                name: "LogRecord", type: LogRecord.self,
                fields: [[1, 1], [2, 0], [3, 2], [5, 2], [6, 2], [7, 0], [8, 5], [9, 2], [10, 2], [11, 1], [12, 2]],
                inRequest: record),
            Message(name: "LogRecord.body", type: AnyValue.self, fields: anyValueFields, inRequest: { record(field(5, $0)) }),
            Message(name: "KeyValue", type: KeyValue.self, fields: [[1, 2], [2, 2], [3, 0]], inRequest: keyValue),
            Message(name: "AnyValue", type: AnyValue.self, fields: anyValueFields, inRequest: anyValue),
        ]
    }()

    /// The messages of a metrics export request: every data kind, point, exemplar and bucket message (the shared
    /// ones reached through a metric's metadata).
    static let metrics: [Message] = {
        let request: Wrap = { $0 }
        let resourceMetrics: Wrap = { b in request(field(1, b)) }
        let scopeMetrics: Wrap = { b in resourceMetrics(field(2, b)) }
        let metric: Wrap = { b in scopeMetrics(field(2, b)) }
        let keyValue: Wrap = { b in metric(field(12, b)) }
        /// A data point of the kind held in `Metric` field `kind`.
        @Sendable func point(_ kind: Int) -> Wrap { { metric(field(kind, field(1, $0))) } }
        let timesAndCount: Set<[Int]> = [[2, 1], [3, 1], [4, 1], [5, 1]]
        return [
            Message(name: "ExportMetricsServiceRequest", type: ExportMetricsRequest.self, fields: [[1, 2]], inRequest: request),
            Message(name: "ResourceMetrics", type: ResourceMetrics.self, fields: [[1, 2], [2, 2], [3, 2]], inRequest: resourceMetrics),
            Message(name: "Resource", type: Resource.self, fields: [[1, 2], [2, 0], [3, 2]], inRequest: { resourceMetrics(field(1, $0)) }),
            Message(
                name: "ScopeMetrics", type: Opentelemetry_Proto_Metrics_V1_ScopeMetrics.self, fields: [[1, 2], [2, 2], [3, 2]],
                inRequest: scopeMetrics),
            Message(
                name: "InstrumentationScope", type: InstrumentationScope.self, fields: [[1, 2], [2, 2], [3, 2], [4, 0]],
                inRequest: { scopeMetrics(field(1, $0)) }),
            Message(
                name: "Metric", type: Metric.self, fields: [[1, 2], [2, 2], [3, 2], [5, 2], [7, 2], [9, 2], [10, 2], [11, 2], [12, 2]],
                inRequest: metric),
            Message(name: "Metric.metadata", type: KeyValue.self, fields: [[1, 2], [2, 2], [3, 0]], inRequest: keyValue),
            Message(name: "Gauge", type: Opentelemetry_Proto_Metrics_V1_Gauge.self, fields: [[1, 2]], inRequest: { metric(field(5, $0)) }),
            Message(
                name: "Sum", type: Opentelemetry_Proto_Metrics_V1_Sum.self, fields: [[1, 2], [2, 0], [3, 0]],
                inRequest: { metric(field(7, $0)) }),
            Message(
                name: "Histogram", type: Opentelemetry_Proto_Metrics_V1_Histogram.self, fields: [[1, 2], [2, 0]],
                inRequest: { metric(field(9, $0)) }),
            Message(
                name: "ExponentialHistogram", type: Opentelemetry_Proto_Metrics_V1_ExponentialHistogram.self, fields: [[1, 2], [2, 0]],
                inRequest: { metric(field(10, $0)) }),
            Message(name: "Summary", type: Opentelemetry_Proto_Metrics_V1_Summary.self, fields: [[1, 2]], inRequest: { metric(field(11, $0)) }),
            Message(
                name: "NumberDataPoint (gauge)", type: Opentelemetry_Proto_Metrics_V1_NumberDataPoint.self,
                fields: [[2, 1], [3, 1], [4, 1], [5, 2], [6, 1], [7, 2], [8, 0]], inRequest: point(5)),
            Message(
                name: "NumberDataPoint (sum)", type: Opentelemetry_Proto_Metrics_V1_NumberDataPoint.self,
                fields: [[2, 1], [3, 1], [4, 1], [5, 2], [6, 1], [7, 2], [8, 0]], inRequest: point(7)),
            Message(
                name: "HistogramDataPoint", type: Opentelemetry_Proto_Metrics_V1_HistogramDataPoint.self,
                fields: timesAndCount.union([[6, 2], [7, 2], [8, 2], [9, 2], [10, 0], [11, 1], [12, 1]]), inRequest: point(9),
                decodedBySwiftProtobuf: [[6, 1], [7, 1]]),
            Message(
                name: "ExponentialHistogramDataPoint", type: Opentelemetry_Proto_Metrics_V1_ExponentialHistogramDataPoint.self,
                fields: timesAndCount.union([[1, 2], [6, 0], [7, 1], [8, 2], [9, 2], [10, 0], [11, 2], [12, 1], [13, 1], [14, 1]]),
                inRequest: point(10)),
            Message(
                name: "ExponentialHistogramDataPoint.Buckets",
                type: Opentelemetry_Proto_Metrics_V1_ExponentialHistogramDataPoint.Buckets.self, fields: [[1, 0], [2, 2]],
                inRequest: { point(10)(field(8, $0)) }, decodedBySwiftProtobuf: [[2, 0]]),
            Message(
                name: "SummaryDataPoint", type: Opentelemetry_Proto_Metrics_V1_SummaryDataPoint.self,
                fields: timesAndCount.union([[6, 2], [7, 2], [8, 0]]), inRequest: point(11)),
            Message(
                name: "SummaryDataPoint.ValueAtQuantile", type: Opentelemetry_Proto_Metrics_V1_SummaryDataPoint.ValueAtQuantile.self,
                fields: [[1, 1], [2, 1]], inRequest: { point(11)(field(6, $0)) }),
            Message(
                name: "Exemplar", type: Opentelemetry_Proto_Metrics_V1_Exemplar.self, fields: [[2, 1], [3, 1], [4, 2], [5, 2], [6, 1], [7, 2]],
                inRequest: { point(5)(field(5, $0)) }),
        ]
    }()

    static let anyValueFields: Set<[Int]> = [[1, 2], [2, 0], [3, 0], [4, 1], [5, 2], [6, 2], [7, 2], [8, 0]]

    /// Every (field number, wire type) with numbers 1…64 that `type`'s generated code decodes into a field of its own
    /// (not into `unknownFields`).
    static func accepted(by type: any SwiftProtobuf.Message.Type) -> Set<[Int]> {
        var out: Set<[Int]> = []
        for number in 1...64 {
            for wireType in wireTypes {
                guard let message = try? type.init(serializedBytes: single(number, wireType)) else { continue }
                if message.unknownFields.data.isEmpty { out.insert([number, wireType]) }
            }
        }
        return out
    }

    /// One field `number` of `wireType` with a small valid value (an empty length-delimited value: a valid string,
    /// bytes, message and packed list).
    static func single(_ number: Int, _ wireType: Int) -> [UInt8] {
        var bytes = varint(UInt64(number << 3 | wireType))
        switch wireType {
        case 0: bytes.append(1)
        case 1: bytes += [1, 0, 0, 0, 0, 0, 0, 0]
        case 2: bytes.append(0)
        default: bytes += [1, 0, 0, 0]
        }
        return bytes
    }

    /// `bytes` as length-delimited field `number`.
    static func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] {
        varint(UInt64(number << 3 | 2)) + varint(UInt64(bytes.count)) + bytes
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var v = value
        var out: [UInt8] = []
        while v >= 0x80 {
            out.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
        return out
    }
}
