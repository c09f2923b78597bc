import Foundation
import OTLP

/// The logs workload (`--signal logs`): the trace workload's shape for log records. One request holds one resource
/// (the same 5 attributes), one scope and 100 log records, 10 per trace of 10 traces, each with its own span ID,
/// 10 string attributes (20-character keys and values), a 200-byte string body, a time and an observed time, and a
/// severity (mostly INFO, some WARN and ERROR).
extension PayloadTemplate {
    static let bodyBytes = 200

    static func makeLogs(service: String = "otelsink-loadgen") throws -> PayloadTemplate {
        var placeholders = Placeholders()
        func sentinel() -> UInt64 { placeholders.next() }
        let data = Placeholders.data
        let kv = Placeholders.kv
        var slots: [UInt64: (Slot, UInt64?)] = [:]
        var resource = Opentelemetry_Proto_Resource_V1_Resource()
        resource.attributes = benchResourceAttributes(service: service)
        var scope = Opentelemetry_Proto_Common_V1_InstrumentationScope()
        scope.name = "otelsink.loadgen"
        scope.version = "1.0.0"
        let messages = ["order accepted", "cache miss for key", "upstream answered", "payment authorised", "retrying request"]
        var records: [Opentelemetry_Proto_Logs_V1_LogRecord] = []
        for t in 0..<tracesPerRequest {
            for j in 0..<spansPerTrace {
                let k = t * spansPerTrace + j
                var r = Opentelemetry_Proto_Logs_V1_LogRecord()
                let a = sentinel()
                let b = sentinel()
                slots[a] = (.trace(t), b)
                r.traceID = data([a, b])
                let sid = sentinel()
                slots[sid] = (.spanID(span: k), nil)
                r.spanID = data([sid])
                let time = sentinel()
                let observed = sentinel()
                let delta = startDelta(trace: t, span: j) + 20_000
                slots[time] = (.time(delta: delta), nil)
                slots[observed] = (.time(delta: delta + 5_000), nil)
                r.timeUnixNano = time
                r.observedTimeUnixNano = observed
                let (number, text): (Opentelemetry_Proto_Logs_V1_SeverityNumber, String) =
                    k % 20 == 7 ? (.error, "ERROR") : k % 10 == 3 ? (.warn, "WARN") : (.info, "INFO")
                r.severityNumber = number
                r.severityText = text
                var body = "\(messages[k % messages.count]) t\(t) r\(j): "
                while body.utf8.count < bodyBytes { body += "lorem ipsum dolor sit amet " }
                r.body.stringValue = String(body.utf8.prefix(bodyBytes))!
                r.attributes = (0..<attributesPerSpan).map { a in
                    kv(fixed20("bench.attribute.k\(a)"), fixed20("t\(t)-r\(j)-v\(a)-lorem"))
                }
                r.flags = 1
                records.append(r)
            }
        }
        var scopeLogs = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        scopeLogs.scope = scope
        scopeLogs.logRecords = records
        var rl = Opentelemetry_Proto_Logs_V1_ResourceLogs()
        rl.resource = resource
        rl.scopeLogs = [scopeLogs]
        var request = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest()
        request.resourceLogs = [rl]
        return try locate(try request.serializedBytes(), slots, traces: tracesPerRequest, spans: spansPerRequest)
    }

    /// Decodes a patched logs payload and checks its shape; returns a one-line summary.
    static func validateLogs(_ buffer: [UInt8], baseNanos: Int64) throws -> String {
        func fail(_ m: String) -> LoadGenError { .internalError("logs payload self-check failed: \(m)") }
        let req = try Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest(serializedBytes: buffer)
        guard req.resourceLogs.count == 1, req.resourceLogs[0].scopeLogs.count == 1 else { throw fail("expected one resource and one scope") }
        let records = req.resourceLogs[0].scopeLogs[0].logRecords
        guard records.count == spansPerRequest else { throw fail("record count \(records.count)") }
        var traces = Set<Data>()
        for r in records {
            guard r.traceID.count == 16, r.spanID.count == 8, r.body.stringValue.utf8.count == bodyBytes,
                r.attributes.count == attributesPerSpan,
                abs(Int64(bitPattern: r.timeUnixNano) - baseNanos) < 1_000_000_000
            else { throw fail("record fields") }
            traces.insert(r.traceID)
        }
        return "\(records.count) log records of \(traces.count) traces"
    }
}
