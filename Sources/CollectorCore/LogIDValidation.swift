import OTLP

/// Removes log records whose trace or span ID has a length OTLP does not allow, and reports them for
/// `partial_success`: a log record's trace ID is empty or 16 bytes, its span ID empty or 8 bytes (the OTLP logs
/// data model; the OpenTelemetry Collector refuses the whole request for one such record). The rest of the
/// request is stored.
public enum LogIDValidation {
    /// Filters `request` in place; scopes and resources left without records stay, empty.
    public static func filter(_ request: inout ExportLogsRequest) -> SpanIDValidation.Outcome {
        var anyBad = false
        outer: for rl in request.resourceLogs {
            for sl in rl.scopeLogs {
                for record in sl.logRecords where problem(record) != nil {
                    anyBad = true
                    break outer
                }
            }
        }
        guard anyBad else { return .init(rejected: 0, message: "") }
        var rejected = 0
        var firstProblem: String?
        for r in request.resourceLogs.indices {
            for s in request.resourceLogs[r].scopeLogs.indices {
                request.resourceLogs[r].scopeLogs[s].logRecords.removeAll { record in
                    guard let p = problem(record) else { return false }
                    rejected += 1
                    if firstProblem == nil { firstProblem = p }
                    return true
                }
            }
        }
        return .init(rejected: rejected, message: "\(rejected) log record(s) rejected: \(firstProblem ?? "invalid id")")
    }

    /// What is wrong with the record's IDs, or nil when they are valid.
    public static func problem(_ record: Opentelemetry_Proto_Logs_V1_LogRecord) -> String? {
        if !record.traceID.isEmpty && record.traceID.count != 16 { return "trace id must be empty or 16 bytes, got \(record.traceID.count)" }
        if !record.spanID.isEmpty && record.spanID.count != 8 { return "span id must be empty or 8 bytes, got \(record.spanID.count)" }
        return nil
    }
}
