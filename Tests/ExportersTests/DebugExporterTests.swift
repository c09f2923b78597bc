import CollectorCore
import CollectorTesting
import Exporters
import Foundation
import OTLP
import Testing

/// Text a hostile client can send: terminal escapes (clear screen, set title), a forged log line, NUL, BEL, a C1
/// control, a right-to-left override and a backslash.
let hostile = "x\u{1B}[2J\u{1B}]0;pwned\u{7}\r\n2024-01-01T00:00:00 critical: forged\u{0}\u{85}\u{202E}\\"

/// Whether the text holds a character ``TerminalSafeText`` escapes (spelled out independently of it).
func holdsControlCharacters(_ text: String) -> Bool {
    text.unicodeScalars.contains { s in
        let v = s.value
        return v < 0x20 || (0x7F...0x9F).contains(v) || [0x061C, 0x200E, 0x200F, 0x2028, 0x2029].contains(v)
            || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
    }
}

@Suite struct DebugExporterTests {
    func kv(_ key: String, _ value: String) -> KeyValue {
        var kv = KeyValue()
        kv.key = key
        kv.value = .string(value)
        return kv
    }

    func hostileTraces() -> ExportTraceRequest {
        var request = SpanFactory.request(service: hostile, traces: 1, spansPerTrace: 2)
        request.resourceSpans[0].resource.attributes.append(kv(hostile, hostile))
        request.resourceSpans[0].scopeSpans[0].scope.name = hostile
        request.resourceSpans[0].scopeSpans[0].spans[0].name = hostile
        request.resourceSpans[0].scopeSpans[0].spans[0].attributes.append(kv(hostile, hostile))
        request.resourceSpans[0].scopeSpans[0].spans[0].status.code = .error
        request.resourceSpans[0].scopeSpans[0].spans[0].status.message = hostile
        var event = Span.Event()
        event.name = hostile
        request.resourceSpans[0].scopeSpans[0].spans[1].events = [event]
        return request
    }

    func hostileMetrics() -> ExportMetricsRequest {
        var metric = Opentelemetry_Proto_Metrics_V1_Metric()
        metric.name = hostile
        metric.unit = hostile
        var point = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
        point.asDouble = 1
        point.attributes = [kv(hostile, hostile)]
        metric.gauge.dataPoints = [point]
        var rm = ResourceMetrics()
        rm.resource.attributes = [kv("service.name", hostile)]
        var sm = Opentelemetry_Proto_Metrics_V1_ScopeMetrics()
        sm.metrics = [metric]
        rm.scopeMetrics = [sm]
        var request = ExportMetricsRequest()
        request.resourceMetrics = [rm]
        return request
    }

    func hostileLogs(stringBody: Bool) -> ExportLogsRequest {
        var record = Opentelemetry_Proto_Logs_V1_LogRecord()
        record.severityText = hostile
        if stringBody {
            record.body = .string(hostile)
        } else {
            record.body.kvlistValue.values = [kv(hostile, hostile)]
        }
        record.attributes = [kv(hostile, hostile)]
        var rl = ResourceLogs()
        rl.resource.attributes = [kv("service.name", hostile)]
        var sl = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        sl.logRecords = [record]
        rl.scopeLogs = [sl]
        var request = ExportLogsRequest()
        request.resourceLogs = [rl]
        return request
    }

    /// Runs `body` against a debug exporter at `verbosity` and returns the lines it emitted.
    func emitted(_ verbosity: DebugExporterConfig.Verbosity, _ body: (DebugExporter) async throws -> Void) async throws -> [String] {
        let lines = LockedValue<[String]>([])
        let exporter = DebugExporter(config: DebugExporterConfig(verbosity: verbosity)) { line in lines.withLock { $0.append(line) } }
        try await body(exporter)
        return lines.withLock { $0 }
    }

    @Test(arguments: DebugExporterConfig.Verbosity.allCases)
    func noVerbosityEmitsAControlCharacterFromTheData(_ verbosity: DebugExporterConfig.Verbosity) async throws {
        let lines = try await emitted(verbosity) { exporter in
            try await exporter.consume(hostileTraces())
            try await exporter.consume(hostileMetrics())
            try await exporter.consume(hostileLogs(stringBody: true))
            try await exporter.consume(hostileLogs(stringBody: false))
        }
        #expect(!lines.isEmpty)
        for line in lines {
            // The exporter's own tab after `Traces`, `Metrics` or `Logs` (otelcol's format) is not from the data.
            let data = line.replacingOccurrences(of: #"^(Traces|Metrics|Logs)\t"#, with: "", options: .regularExpression)
            #expect(!holdsControlCharacters(data), "\(verbosity): \(line.debugDescription)")
        }
    }

    @Test func normalVerbosityShowsTheEscapedNames() async throws {
        let escaped = TerminalSafeText.escape(hostile)
        let lines = try await emitted(.normal) { exporter in
            try await exporter.consume(hostileTraces())
            try await exporter.consume(hostileMetrics())
            try await exporter.consume(hostileLogs(stringBody: true))
        }
        // The header, two spans; the header, one metric; the header, one log record.
        #expect(lines.count == 7)
        #expect(lines[1].hasPrefix("\(escaped) \(escaped) trace_id="))
        #expect(lines[2].hasPrefix("\(escaped) op-1 trace_id="))
        #expect(lines[4] == "\(escaped) \(escaped) unit=\(escaped) type=gauge")
        #expect(lines[6] == "\(escaped) severity=\(escaped) body=\(escaped)")
    }

    @Test func detailedVerbosityIsOneLineOfJSONThatDecodesToTheExactData() async throws {
        let request = hostileTraces()
        let lines = try await emitted(.detailed) { try await $0.consume(request) }
        #expect(lines.count == 2)
        let json = try #require(lines.last)
        #expect(!json.contains("\n"))
        let decoded = try OTLPJSON.decode(ExportTraceRequest.self, from: Array(json.utf8))
        #expect(decoded == request)
    }
}
