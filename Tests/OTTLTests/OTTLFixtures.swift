import CollectorCore
import Foundation
import OTLP
import OTTL

/// A fixed request to run statements on, and a compact text form of what they changed.
enum OTTLFixtures {
    static func kv(_ key: String, _ value: AnyValue) -> KeyValue {
        var kv = KeyValue()
        kv.key = key
        kv.value = value
        return kv
    }

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
    static func map(_ entries: [KeyValue]) -> AnyValue {
        var v = AnyValue()
        v.kvlistValue.values = entries
        return v
    }
    static func list(_ items: [AnyValue]) -> AnyValue {
        var v = AnyValue()
        v.arrayValue.values = items
        return v
    }

    /// One resource, one scope, one server span with an event.
    static func traces() -> ExportTraceRequest {
        var span = Span()
        span.traceID = Data((1...16).map { UInt8($0) })
        span.spanID = Data((1...8).map { UInt8($0 * 16) })
        span.name = "GET /users/123"
        span.kind = .server
        span.startTimeUnixNano = 1_000_000_000
        span.endTimeUnixNano = 1_250_000_000
        span.status.code = .error
        span.status.message = "boom"
        span.attributes = [
            kv("http.method", .string("GET")),
            kv("http.status_code", int(500)),
            kv("user.password", .string("hunter2")),
            kv("db.statement", .string("SELECT * FROM t WHERE pw='secret' AND token='abc'")),
            kv("payload", .string(#"{"a":1,"b":[true,null],"c":{"d":"e"}}"#)),
            kv("ratio", double(0.25)),
            kv("ok", bool(false)),
            kv("nested", map([kv("inner", .string("x"))])),
            kv("tags", list([.string("a"), .string("b")])),
        ]
        var event = Span.Event()
        event.name = "exception"
        event.timeUnixNano = 1_100_000_000
        event.attributes = [kv("exception.message", .string("bad thing"))]
        span.events = [event]
        var scope = ScopeSpans()
        scope.scope.name = "lib"
        scope.scope.version = "1.0"
        scope.spans = [span]
        var rs = ResourceSpans()
        rs.resource.attributes = [kv("service.name", .string("checkout")), kv("secret", .string("s")), kv("env", .string("prod"))]
        rs.scopeSpans = [scope]
        var request = ExportTraceRequest()
        request.resourceSpans = [rs]
        return request
    }

    static func logs() -> ExportLogsRequest {
        var record = LogRecord()
        record.timeUnixNano = 2_000_000_000
        record.severityNumber = .info
        record.severityText = "INFO"
        record.body = .string(#"{"msg":"hello","level":"warn"}"#)
        record.attributes = [kv("k", .string("v"))]
        record.traceID = Data(repeating: 0xab, count: 16)
        var scope = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        scope.logRecords = [record]
        var rl = ResourceLogs()
        rl.resource.attributes = [kv("service.name", .string("api"))]
        rl.scopeLogs = [scope]
        var request = ExportLogsRequest()
        request.resourceLogs = [rl]
        return request
    }

    static func metrics() -> ExportMetricsRequest {
        var sum = Metric()
        sum.name = "http.server.requests"
        sum.unit = "1"
        var point = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
        point.asInt = 7
        point.timeUnixNano = 3_000_000_000
        point.attributes = [kv("route", .string("/a")), kv("instance", .string("i-1"))]
        var point2 = point
        point2.asInt = 9
        point2.attributes = [kv("route", .string("/b"))]
        sum.sum.dataPoints = [point, point2]
        sum.sum.aggregationTemporality = .cumulative
        sum.sum.isMonotonic = true
        var gauge = Metric()
        gauge.name = "cpu.usage"
        var g = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
        g.asDouble = 0.5
        gauge.gauge.dataPoints = [g]
        var scope = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
        scope.metrics = [sum, gauge]
        var rm = ResourceMetrics()
        rm.resource.attributes = [kv("service.name", .string("api"))]
        rm.scopeMetrics = [scope]
        var request = ExportMetricsRequest()
        request.resourceMetrics = [rm]
        return request
    }

    /// `key=value` pairs in order, values as OTTL's `String` writes them, strings quoted.
    static func render(_ attributes: [KeyValue]) -> String {
        attributes.map { kv in
            if case .stringValue(let s)? = kv.value.value { return "\(kv.key)=\"\(s)\"" }
            if kv.value.value == nil { return "\(kv.key)=<empty>" }
            return "\(kv.key)=\(AttributeValueText.asString(kv.value))"
        }.joined(separator: " ")
    }

    static func span(_ r: ExportTraceRequest) -> Span { r.resourceSpans[0].scopeSpans[0].spans[0] }

    /// Runs `statements` (flat form, or in `context`) over `request` with the processor's walk.
    static func run(_ statements: [String], context: OTTLContext? = nil, on request: inout ExportTraceRequest) throws {
        for text in statements {
            let s = try OTTLStatement(text, context: context, signal: .traces)
            try OTTLWalk.traces(&request, s.context) { try s.execute(&$0) }
        }
    }

    static func run(_ statements: [String], context: OTTLContext? = nil, on request: inout ExportLogsRequest) throws {
        for text in statements {
            let s = try OTTLStatement(text, context: context, signal: .logs)
            try OTTLWalk.logs(&request, s.context) { try s.execute(&$0) }
        }
    }

    static func run(_ statements: [String], context: OTTLContext? = nil, on request: inout ExportMetricsRequest) throws {
        for text in statements {
            let s = try OTTLStatement(text, context: context, signal: .metrics)
            try OTTLWalk.metrics(&request, s.context) { try s.execute(&$0) }
        }
    }
}
