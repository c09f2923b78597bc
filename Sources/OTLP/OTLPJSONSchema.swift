import SwiftProtobuf

// The OTLP message schema as the OTLP/JSON codec needs it: for every OTLP message, the JSON
// type of each field, which fields are hex-encoded IDs, and which are enums.
//
// It mirrors the generated types in `Generated/` (opentelemetry-proto, see `Generated/VERSION`);
// `OTLPJSONTests` checks the two agree.

/// An OTLP message type the codec knows the fields of.
enum OTLPMessageKind: Int, CaseIterable, Sendable {
    case exportTraceServiceRequest, exportTraceServiceResponse, exportTracePartialSuccess
    case exportMetricsServiceRequest, exportMetricsServiceResponse, exportMetricsPartialSuccess
    case exportLogsServiceRequest, exportLogsServiceResponse, exportLogsPartialSuccess
    case tracesData, metricsData, logsData
    case anyValue, arrayValue, keyValueList, keyValue, instrumentationScope, entityRef, resource
    case resourceSpans, scopeSpans, span, spanEvent, spanLink, status
    case resourceMetrics, scopeMetrics, metric, gauge, sum, histogram, exponentialHistogram, summary
    case numberDataPoint, histogramDataPoint, exponentialHistogramDataPoint, exponentialHistogramBuckets
    case summaryDataPoint, valueAtQuantile, exemplar
    case resourceLogs, scopeLogs, logRecord

    /// The generated swift-protobuf type of this message.
    var messageType: any SwiftProtobuf.Message.Type {
        switch self {
        case .exportTraceServiceRequest: Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest.self
        case .exportTraceServiceResponse: Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse.self
        case .exportTracePartialSuccess: Opentelemetry_Proto_Collector_Trace_V1_ExportTracePartialSuccess.self
        case .exportMetricsServiceRequest: Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest.self
        case .exportMetricsServiceResponse: Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceResponse.self
        case .exportMetricsPartialSuccess: Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsPartialSuccess.self
        case .exportLogsServiceRequest: Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest.self
        case .exportLogsServiceResponse: Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceResponse.self
        case .exportLogsPartialSuccess: Opentelemetry_Proto_Collector_Logs_V1_ExportLogsPartialSuccess.self
        case .tracesData: Opentelemetry_Proto_Trace_V1_TracesData.self
        case .metricsData: Opentelemetry_Proto_Metrics_V1_MetricsData.self
        case .logsData: Opentelemetry_Proto_Logs_V1_LogsData.self
        case .anyValue: Opentelemetry_Proto_Common_V1_AnyValue.self
        case .arrayValue: Opentelemetry_Proto_Common_V1_ArrayValue.self
        case .keyValueList: Opentelemetry_Proto_Common_V1_KeyValueList.self
        case .keyValue: Opentelemetry_Proto_Common_V1_KeyValue.self
        case .instrumentationScope: Opentelemetry_Proto_Common_V1_InstrumentationScope.self
        case .entityRef: Opentelemetry_Proto_Common_V1_EntityRef.self
        case .resource: Opentelemetry_Proto_Resource_V1_Resource.self
        case .resourceSpans: Opentelemetry_Proto_Trace_V1_ResourceSpans.self
        case .scopeSpans: Opentelemetry_Proto_Trace_V1_ScopeSpans.self
        case .span: Opentelemetry_Proto_Trace_V1_Span.self
        case .spanEvent: Opentelemetry_Proto_Trace_V1_Span.Event.self
        case .spanLink: Opentelemetry_Proto_Trace_V1_Span.Link.self
        case .status: Opentelemetry_Proto_Trace_V1_Status.self
        case .resourceMetrics: Opentelemetry_Proto_Metrics_V1_ResourceMetrics.self
        case .scopeMetrics: Opentelemetry_Proto_Metrics_V1_ScopeMetrics.self
        case .metric: Opentelemetry_Proto_Metrics_V1_Metric.self
        case .gauge: Opentelemetry_Proto_Metrics_V1_Gauge.self
        case .sum: Opentelemetry_Proto_Metrics_V1_Sum.self
        case .histogram: Opentelemetry_Proto_Metrics_V1_Histogram.self
        case .exponentialHistogram: Opentelemetry_Proto_Metrics_V1_ExponentialHistogram.self
        case .summary: Opentelemetry_Proto_Metrics_V1_Summary.self
        case .numberDataPoint: Opentelemetry_Proto_Metrics_V1_NumberDataPoint.self
        case .histogramDataPoint: Opentelemetry_Proto_Metrics_V1_HistogramDataPoint.self
        case .exponentialHistogramDataPoint: Opentelemetry_Proto_Metrics_V1_ExponentialHistogramDataPoint.self
        case .exponentialHistogramBuckets: Opentelemetry_Proto_Metrics_V1_ExponentialHistogramDataPoint.Buckets.self
        case .summaryDataPoint: Opentelemetry_Proto_Metrics_V1_SummaryDataPoint.self
        case .valueAtQuantile: Opentelemetry_Proto_Metrics_V1_SummaryDataPoint.ValueAtQuantile.self
        case .exemplar: Opentelemetry_Proto_Metrics_V1_Exemplar.self
        case .resourceLogs: Opentelemetry_Proto_Logs_V1_ResourceLogs.self
        case .scopeLogs: Opentelemetry_Proto_Logs_V1_ScopeLogs.self
        case .logRecord: Opentelemetry_Proto_Logs_V1_LogRecord.self
        }
    }

    /// The fields of this message by lowerCamelCase JSON name, as declared in the .proto.
    var declaredFields: [(jsonName: String, field: OTLPField)] {
        switch self {
        case .exportTraceServiceRequest, .tracesData:
            [("resourceSpans", .repeated(.message(.resourceSpans)))]
        case .exportMetricsServiceRequest, .metricsData:
            [("resourceMetrics", .repeated(.message(.resourceMetrics)))]
        case .exportLogsServiceRequest, .logsData:
            [("resourceLogs", .repeated(.message(.resourceLogs)))]
        case .exportTraceServiceResponse:
            [("partialSuccess", .single(.message(.exportTracePartialSuccess)))]
        case .exportMetricsServiceResponse:
            [("partialSuccess", .single(.message(.exportMetricsPartialSuccess)))]
        case .exportLogsServiceResponse:
            [("partialSuccess", .single(.message(.exportLogsPartialSuccess)))]
        case .exportTracePartialSuccess:
            [("rejectedSpans", .single(.integer(.signed64))), ("errorMessage", .single(.string))]
        case .exportMetricsPartialSuccess:
            [("rejectedDataPoints", .single(.integer(.signed64))), ("errorMessage", .single(.string))]
        case .exportLogsPartialSuccess:
            [("rejectedLogRecords", .single(.integer(.signed64))), ("errorMessage", .single(.string))]

        case .anyValue:
            [
                ("stringValue", .single(.string)),
                ("boolValue", .single(.bool)),
                ("intValue", .single(.integer(.signed64))),
                ("doubleValue", .single(.double)),
                ("arrayValue", .single(.message(.arrayValue))),
                ("kvlistValue", .single(.message(.keyValueList))),
                ("bytesValue", .single(.bytes)),
                ("stringValueStrindex", .single(.integer(.signed32))),
            ]
        case .arrayValue:
            [("values", .repeated(.message(.anyValue)))]
        case .keyValueList:
            [("values", .repeated(.message(.keyValue)))]
        case .keyValue:
            [
                ("key", .single(.string)),
                ("value", .single(.message(.anyValue))),
                ("keyStrindex", .single(.integer(.signed32))),
            ]
        case .instrumentationScope:
            [
                ("name", .single(.string)),
                ("version", .single(.string)),
                ("attributes", .repeated(.message(.keyValue))),
                ("droppedAttributesCount", .single(.integer(.unsigned32))),
            ]
        case .entityRef:
            [
                ("schemaUrl", .single(.string)),
                ("type", .single(.string)),
                ("idKeys", .repeated(.string)),
                ("descriptionKeys", .repeated(.string)),
            ]
        case .resource:
            [
                ("attributes", .repeated(.message(.keyValue))),
                ("droppedAttributesCount", .single(.integer(.unsigned32))),
                ("entityRefs", .repeated(.message(.entityRef))),
            ]

        case .resourceSpans:
            [
                ("resource", .single(.message(.resource))),
                ("scopeSpans", .repeated(.message(.scopeSpans))),
                ("schemaUrl", .single(.string)),
            ]
        case .scopeSpans:
            [
                ("scope", .single(.message(.instrumentationScope))),
                ("spans", .repeated(.message(.span))),
                ("schemaUrl", .single(.string)),
            ]
        case .span:
            [
                ("traceId", .single(.hexID)),
                ("spanId", .single(.hexID)),
                ("traceState", .single(.string)),
                ("parentSpanId", .single(.hexID)),
                ("flags", .single(.integer(.unsigned32))),
                ("name", .single(.string)),
                ("kind", .single(.enumeration(.spanKind))),
                ("startTimeUnixNano", .single(.integer(.unsigned64))),
                ("endTimeUnixNano", .single(.integer(.unsigned64))),
                ("attributes", .repeated(.message(.keyValue))),
                ("droppedAttributesCount", .single(.integer(.unsigned32))),
                ("events", .repeated(.message(.spanEvent))),
                ("droppedEventsCount", .single(.integer(.unsigned32))),
                ("links", .repeated(.message(.spanLink))),
                ("droppedLinksCount", .single(.integer(.unsigned32))),
                ("status", .single(.message(.status))),
            ]
        case .spanEvent:
            [
                ("timeUnixNano", .single(.integer(.unsigned64))),
                ("name", .single(.string)),
                ("attributes", .repeated(.message(.keyValue))),
                ("droppedAttributesCount", .single(.integer(.unsigned32))),
            ]
        case .spanLink:
            [
                ("traceId", .single(.hexID)),
                ("spanId", .single(.hexID)),
                ("traceState", .single(.string)),
                ("attributes", .repeated(.message(.keyValue))),
                ("droppedAttributesCount", .single(.integer(.unsigned32))),
                ("flags", .single(.integer(.unsigned32))),
            ]
        case .status:
            [("message", .single(.string)), ("code", .single(.enumeration(.statusCode)))]

        case .resourceMetrics:
            [
                ("resource", .single(.message(.resource))),
                ("scopeMetrics", .repeated(.message(.scopeMetrics))),
                ("schemaUrl", .single(.string)),
            ]
        case .scopeMetrics:
            [
                ("scope", .single(.message(.instrumentationScope))),
                ("metrics", .repeated(.message(.metric))),
                ("schemaUrl", .single(.string)),
            ]
        case .metric:
            [
                ("name", .single(.string)),
                ("description", .single(.string)),
                ("unit", .single(.string)),
                ("gauge", .single(.message(.gauge))),
                ("sum", .single(.message(.sum))),
                ("histogram", .single(.message(.histogram))),
                ("exponentialHistogram", .single(.message(.exponentialHistogram))),
                ("summary", .single(.message(.summary))),
                ("metadata", .repeated(.message(.keyValue))),
            ]
        case .gauge:
            [("dataPoints", .repeated(.message(.numberDataPoint)))]
        case .sum:
            [
                ("dataPoints", .repeated(.message(.numberDataPoint))),
                ("aggregationTemporality", .single(.enumeration(.aggregationTemporality))),
                ("isMonotonic", .single(.bool)),
            ]
        case .histogram:
            [
                ("dataPoints", .repeated(.message(.histogramDataPoint))),
                ("aggregationTemporality", .single(.enumeration(.aggregationTemporality))),
            ]
        case .exponentialHistogram:
            [
                ("dataPoints", .repeated(.message(.exponentialHistogramDataPoint))),
                ("aggregationTemporality", .single(.enumeration(.aggregationTemporality))),
            ]
        case .summary:
            [("dataPoints", .repeated(.message(.summaryDataPoint)))]
        case .numberDataPoint:
            [
                ("attributes", .repeated(.message(.keyValue))),
                ("startTimeUnixNano", .single(.integer(.unsigned64))),
                ("timeUnixNano", .single(.integer(.unsigned64))),
                ("asDouble", .single(.double)),
                ("asInt", .single(.integer(.signed64))),
                ("exemplars", .repeated(.message(.exemplar))),
                ("flags", .single(.integer(.unsigned32))),
            ]
        case .histogramDataPoint:
            [
                ("attributes", .repeated(.message(.keyValue))),
                ("startTimeUnixNano", .single(.integer(.unsigned64))),
                ("timeUnixNano", .single(.integer(.unsigned64))),
                ("count", .single(.integer(.unsigned64))),
                ("sum", .single(.double)),
                ("bucketCounts", .repeated(.integer(.unsigned64))),
                ("explicitBounds", .repeated(.double)),
                ("exemplars", .repeated(.message(.exemplar))),
                ("flags", .single(.integer(.unsigned32))),
                ("min", .single(.double)),
                ("max", .single(.double)),
            ]
        case .exponentialHistogramDataPoint:
            [
                ("attributes", .repeated(.message(.keyValue))),
                ("startTimeUnixNano", .single(.integer(.unsigned64))),
                ("timeUnixNano", .single(.integer(.unsigned64))),
                ("count", .single(.integer(.unsigned64))),
                ("sum", .single(.double)),
                ("scale", .single(.integer(.signed32))),
                ("zeroCount", .single(.integer(.unsigned64))),
                ("positive", .single(.message(.exponentialHistogramBuckets))),
                ("negative", .single(.message(.exponentialHistogramBuckets))),
                ("flags", .single(.integer(.unsigned32))),
                ("exemplars", .repeated(.message(.exemplar))),
                ("min", .single(.double)),
                ("max", .single(.double)),
                ("zeroThreshold", .single(.double)),
            ]
        case .exponentialHistogramBuckets:
            [("offset", .single(.integer(.signed32))), ("bucketCounts", .repeated(.integer(.unsigned64)))]
        case .summaryDataPoint:
            [
                ("attributes", .repeated(.message(.keyValue))),
                ("startTimeUnixNano", .single(.integer(.unsigned64))),
                ("timeUnixNano", .single(.integer(.unsigned64))),
                ("count", .single(.integer(.unsigned64))),
                ("sum", .single(.double)),
                ("quantileValues", .repeated(.message(.valueAtQuantile))),
                ("flags", .single(.integer(.unsigned32))),
            ]
        case .valueAtQuantile:
            [("quantile", .single(.double)), ("value", .single(.double))]
        case .exemplar:
            [
                ("filteredAttributes", .repeated(.message(.keyValue))),
                ("timeUnixNano", .single(.integer(.unsigned64))),
                ("asDouble", .single(.double)),
                ("asInt", .single(.integer(.signed64))),
                ("spanId", .single(.hexID)),
                ("traceId", .single(.hexID)),
            ]

        case .resourceLogs:
            [
                ("resource", .single(.message(.resource))),
                ("scopeLogs", .repeated(.message(.scopeLogs))),
                ("schemaUrl", .single(.string)),
            ]
        case .scopeLogs:
            [
                ("scope", .single(.message(.instrumentationScope))),
                ("logRecords", .repeated(.message(.logRecord))),
                ("schemaUrl", .single(.string)),
            ]
        case .logRecord:
            [
                ("timeUnixNano", .single(.integer(.unsigned64))),
                ("observedTimeUnixNano", .single(.integer(.unsigned64))),
                ("severityNumber", .single(.enumeration(.severityNumber))),
                ("severityText", .single(.string)),
                ("body", .single(.message(.anyValue))),
                ("attributes", .repeated(.message(.keyValue))),
                ("droppedAttributesCount", .single(.integer(.unsigned32))),
                ("flags", .single(.integer(.unsigned32))),
                ("traceId", .single(.hexID)),
                ("spanId", .single(.hexID)),
                ("eventName", .single(.string)),
            ]
        }
    }

    /// The fields of this message, by lowerCamelCase JSON name and by proto (snake_case) name.
    var fields: [String: OTLPField] { Self.fieldTables[rawValue] }

    /// Whether this message or any message nested in it has a hex-encoded ID field.
    var containsIDs: Bool { Self.kindsContainingIDs.contains(rawValue) }

    /// The kind for a generated message type, or nil for a type outside the OTLP schema.
    init?(messageType: any SwiftProtobuf.Message.Type) {
        guard let kind = Self.kindsByType[ObjectIdentifier(messageType)] else { return nil }
        self = kind
    }

    private static let fieldTables: [[String: OTLPField]] = allCases.map { kind in
        var table: [String: OTLPField] = [:]
        for (jsonName, field) in kind.declaredFields {
            table[jsonName] = field
            table[protoName(forJSONName: jsonName)] = field
        }
        return table
    }

    private static let kindsByType: [ObjectIdentifier: OTLPMessageKind] = Dictionary(
        uniqueKeysWithValues: allCases.map { (ObjectIdentifier($0.messageType), $0) }
    )

    private static let kindsContainingIDs: Set<Int> = {
        var result: Set<Int> = []
        var changed = true
        while changed {
            changed = false
            for kind in allCases where !result.contains(kind.rawValue) {
                let hasIDs = kind.declaredFields.contains { _, field in
                    switch field.type {
                    case .hexID: true
                    case .message(let child): result.contains(child.rawValue)
                    default: false
                    }
                }
                if hasIDs {
                    result.insert(kind.rawValue)
                    changed = true
                }
            }
        }
        return result
    }()

    /// `startTimeUnixNano` → `start_time_unix_nano` (exact for every OTLP field name).
    static func protoName(forJSONName name: String) -> String {
        var result = ""
        for character in name {
            if character.isUppercase {
                result.append("_")
                result.append(contentsOf: character.lowercased())
            } else {
                result.append(character)
            }
        }
        return result
    }
}

/// One field of an OTLP message: its value type and whether it is repeated (a JSON array).
struct OTLPField: Sendable {
    var type: OTLPFieldType
    var isRepeated: Bool

    static func single(_ type: OTLPFieldType) -> OTLPField { OTLPField(type: type, isRepeated: false) }
    static func repeated(_ type: OTLPFieldType) -> OTLPField { OTLPField(type: type, isRepeated: true) }
}

/// The value type of an OTLP field, as far as OTLP/JSON cares.
enum OTLPFieldType: Sendable {
    case message(OTLPMessageKind)
    case string
    /// A `bytes` field other than an ID: base64, as in standard proto3 JSON.
    case bytes
    /// `traceId`, `spanId`, `parentSpanId`: `bytes` written as hex in OTLP/JSON.
    case hexID
    case bool
    case integer(OTLPIntegerType)
    case double
    case enumeration(OTLPEnumType)

    /// What a JSON value of this type must look like, for error messages.
    var expectation: String {
        switch self {
        case .message: "an object"
        case .string: "a string"
        case .bytes: "a base64 string"
        case .hexID: "a hex string"
        case .bool: "true or false"
        case .integer(let type): type.expectation
        case .double: "a number"
        case .enumeration: "an integer enum value"
        }
    }
}

/// The integer field types of OTLP, grouped by the range they accept.
enum OTLPIntegerType: Sendable {
    case signed32, unsigned32, signed64, unsigned64

    var expectation: String {
        switch self {
        case .signed32: "a 32-bit integer"
        case .unsigned32: "an unsigned 32-bit integer"
        case .signed64: "a 64-bit integer"
        case .unsigned64: "an unsigned 64-bit integer"
        }
    }
}

/// The enums of OTLP, with the values and names they define.
enum OTLPEnumType: Sendable, CaseIterable {
    case spanKind, statusCode, severityNumber, aggregationTemporality

    /// The numbers the enum defines.
    var values: Set<Int> {
        switch self {
        case .spanKind: Self.spanKindValues
        case .statusCode: Self.statusCodeValues
        case .severityNumber: Self.severityNumberValues
        case .aggregationTemporality: Self.aggregationTemporalityValues
        }
    }

    /// The proto names of the enum's values, indexed by number (all OTLP enums are dense from 0).
    var names: [String] {
        switch self {
        case .spanKind:
            ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"].map { "SPAN_KIND_" + $0 }
        case .statusCode:
            ["UNSET", "OK", "ERROR"].map { "STATUS_CODE_" + $0 }
        case .severityNumber:
            ["SEVERITY_NUMBER_UNSPECIFIED"]
                + ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"].flatMap { level in
                    ["", "2", "3", "4"].map { "SEVERITY_NUMBER_" + level + $0 }
                }
        case .aggregationTemporality:
            ["UNSPECIFIED", "DELTA", "CUMULATIVE"].map { "AGGREGATION_TEMPORALITY_" + $0 }
        }
    }

    /// Whether `name` is one of the enum's value names.
    func hasName(_ name: String) -> Bool {
        switch self {
        case .spanKind: Self.spanKindNames.contains(name)
        case .statusCode: Self.statusCodeNames.contains(name)
        case .severityNumber: Self.severityNumberNames.contains(name)
        case .aggregationTemporality: Self.aggregationTemporalityNames.contains(name)
        }
    }

    private static let spanKindValues = Set(Opentelemetry_Proto_Trace_V1_Span.SpanKind.allCases.map(\.rawValue))
    private static let statusCodeValues = Set(Opentelemetry_Proto_Trace_V1_Status.StatusCode.allCases.map(\.rawValue))
    private static let severityNumberValues = Set(Opentelemetry_Proto_Logs_V1_SeverityNumber.allCases.map(\.rawValue))
    private static let aggregationTemporalityValues = Set(
        Opentelemetry_Proto_Metrics_V1_AggregationTemporality.allCases.map(\.rawValue)
    )
    private static let spanKindNames = Set(OTLPEnumType.spanKind.names)
    private static let statusCodeNames = Set(OTLPEnumType.statusCode.names)
    private static let severityNumberNames = Set(OTLPEnumType.severityNumber.names)
    private static let aggregationTemporalityNames = Set(OTLPEnumType.aggregationTemporality.names)
}
