/// Short names for the generated OTLP messages used throughout otelsink.
///
/// The generated names mirror the protobuf packages (`Opentelemetry_Proto_Trace_V1_Span`); these aliases keep
/// the rest of the code readable without hiding what the types are.
public typealias ExportTraceRequest = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest
public typealias ExportTraceResponse = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse
public typealias ExportMetricsRequest = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest
public typealias ExportMetricsResponse = Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceResponse
public typealias ExportLogsRequest = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest
public typealias ExportLogsResponse = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceResponse

public typealias ResourceSpans = Opentelemetry_Proto_Trace_V1_ResourceSpans
public typealias ScopeSpans = Opentelemetry_Proto_Trace_V1_ScopeSpans
public typealias Span = Opentelemetry_Proto_Trace_V1_Span
public typealias SpanStatus = Opentelemetry_Proto_Trace_V1_Status
public typealias ResourceMetrics = Opentelemetry_Proto_Metrics_V1_ResourceMetrics
public typealias ResourceLogs = Opentelemetry_Proto_Logs_V1_ResourceLogs
public typealias LogRecord = Opentelemetry_Proto_Logs_V1_LogRecord
public typealias Metric = Opentelemetry_Proto_Metrics_V1_Metric
public typealias Resource = Opentelemetry_Proto_Resource_V1_Resource
public typealias InstrumentationScope = Opentelemetry_Proto_Common_V1_InstrumentationScope
public typealias KeyValue = Opentelemetry_Proto_Common_V1_KeyValue
public typealias AnyValue = Opentelemetry_Proto_Common_V1_AnyValue

extension Opentelemetry_Proto_Common_V1_AnyValue {
    /// A string attribute value.
    public static func string(_ value: String) -> Self {
        var v = Self()
        v.stringValue = value
        return v
    }
}

extension Array where Element == Opentelemetry_Proto_Common_V1_KeyValue {
    /// The string value of the first attribute named `key`, if it holds a string.
    public func stringValue(_ key: String) -> String? {
        for kv in self where kv.key == key {
            if case .stringValue(let s)? = kv.value.value { return s }
            return nil
        }
        return nil
    }
}

extension Opentelemetry_Proto_Trace_V1_Span {
    /// `status.code`, read in place (from another module the `status` getter copies the whole status).
    public var statusCode: Opentelemetry_Proto_Trace_V1_Status.StatusCode { status.code }
}

extension Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest {
    /// Number of spans in the request.
    public var spanCount: Int {
        var n = 0
        for rs in resourceSpans { for ss in rs.scopeSpans { n += ss.spans.count } }
        return n
    }
}

extension Opentelemetry_Proto_Collector_Metrics_V1_ExportMetricsServiceRequest {
    /// Number of data points in the request, counted as otelcol counts them.
    public var dataPointCount: Int {
        var n = 0
        for rm in resourceMetrics {
            for sm in rm.scopeMetrics {
                for m in sm.metrics {
                    switch m.data {
                    case .gauge(let g)?: n += g.dataPoints.count
                    case .sum(let s)?: n += s.dataPoints.count
                    case .histogram(let h)?: n += h.dataPoints.count
                    case .exponentialHistogram(let h)?: n += h.dataPoints.count
                    case .summary(let s)?: n += s.dataPoints.count
                    case nil: break
                    }
                }
            }
        }
        return n
    }
}

extension Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest {
    /// Number of log records in the request.
    public var logRecordCount: Int {
        var n = 0
        for rl in resourceLogs { for sl in rl.scopeLogs { n += sl.logRecords.count } }
        return n
    }
}
