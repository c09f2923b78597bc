import CollectorCore
import Foundation
import Logging
import OTLP
import ServiceLifecycle
import SwiftProtobuf

/// Settings of the `debug` exporter.
public struct DebugExporterConfig: ComponentConfig, Equatable {
    /// How much is written per batch, as in otelcol's debug exporter.
    public enum Verbosity: String, Sendable, CaseIterable {
        /// One line per batch with counts.
        case basic
        /// One line per span, data point or log record.
        case normal
        /// Every field of every item.
        case detailed
    }

    public var verbosity: Verbosity = .basic

    public init(verbosity: Verbosity = .basic) { self.verbosity = verbosity }

    public init(reading r: ConfigReader) {
        let v = r.string("verbosity", default: verbosity.rawValue)
        if let parsed = Verbosity(rawValue: v) {
            verbosity = parsed
        } else {
            r.report("verbosity", "expected one of basic, normal, detailed; got \"\(v)\"")
        }
    }
}

/// The `debug` exporter: writes what it receives to the log, for metrics and logs until their own exporters exist,
/// and for looking at what a pipeline delivers.
///
/// Received text is untrusted: at `normal` every name, value and body goes through ``TerminalSafeText/escape(_:)``,
/// and `detailed`'s OTLP JSON through ``TerminalSafeText/escapeJSON(_:)``, so each emitted line is one log line
/// with no control characters in it.
public struct DebugExporter: Exporter, TracesConsumer, MetricsConsumer, LogsConsumer {
    public let config: DebugExporterConfig
    /// Where lines go; the logger by default, a closure in tests.
    let emit: @Sendable (String) -> Void

    public init(config: DebugExporterConfig, logger: Logger) {
        self.init(config: config) { logger.info("\($0)") }
    }

    public init(config: DebugExporterConfig, emit: @escaping @Sendable (String) -> Void) {
        self.config = config
        self.emit = emit
    }

    public var consumers: SignalConsumers { SignalConsumers(traces: self, metrics: self, logs: self) }

    public func run() async throws {
        try? await gracefulShutdown()
    }

    public func consume(_ traces: ExportTraceRequest) async throws {
        emit("Traces\tresource spans: \(traces.resourceSpans.count), spans: \(traces.spanCount)")
        switch config.verbosity {
        case .basic: break
        case .normal:
            for rs in traces.resourceSpans {
                let service = safe(rs.resource.attributes.stringValue("service.name") ?? "unknown_service")
                for ss in rs.scopeSpans {
                    for s in ss.spans {
                        emit(
                            "\(service) \(safe(s.name)) trace_id=\(s.traceID.hex) span_id=\(s.spanID.hex) kind=\(s.kind) status=\(s.status.code) duration_ns=\(s.endTimeUnixNano &- s.startTimeUnixNano) attributes=\(s.attributes.count)"
                        )
                    }
                }
            }
        case .detailed:
            emit(dump(traces))
        }
    }

    public func consume(_ metrics: ExportMetricsRequest) async throws {
        let metricCount = metrics.resourceMetrics.reduce(0) { $0 + $1.scopeMetrics.reduce(0) { $0 + $1.metrics.count } }
        emit("Metrics\tresource metrics: \(metrics.resourceMetrics.count), metrics: \(metricCount), data points: \(metrics.dataPointCount)")
        switch config.verbosity {
        case .basic: break
        case .normal:
            for rm in metrics.resourceMetrics {
                let service = safe(rm.resource.attributes.stringValue("service.name") ?? "unknown_service")
                for sm in rm.scopeMetrics {
                    for m in sm.metrics {
                        emit("\(service) \(safe(m.name)) unit=\(m.unit.isEmpty ? "-" : safe(m.unit)) type=\(Self.typeName(m))")
                    }
                }
            }
        case .detailed:
            emit(dump(metrics))
        }
    }

    public func consume(_ logs: ExportLogsRequest) async throws {
        emit("Logs\tresource logs: \(logs.resourceLogs.count), log records: \(logs.logRecordCount)")
        switch config.verbosity {
        case .basic: break
        case .normal:
            for rl in logs.resourceLogs {
                let service = safe(rl.resource.attributes.stringValue("service.name") ?? "unknown_service")
                for sl in rl.scopeLogs {
                    for r in sl.logRecords {
                        let body: String = if case .stringValue(let s)? = r.body.value { s } else { r.body.textFormatString() }
                        let severity = r.severityText.isEmpty ? "\(r.severityNumber)" : safe(r.severityText)
                        emit("\(service) severity=\(severity) body=\(safe(String(body.prefix(500))))")
                    }
                }
            }
        case .detailed:
            emit(dump(logs))
        }
    }

    /// The message as one line of OTLP JSON (its strings' control characters escaped), or escaped text format.
    private func dump(_ message: some SwiftProtobuf.Message) -> String {
        if let json = (try? OTLPJSON.encode(message)).flatMap({ String(bytes: $0, encoding: .utf8) }) {
            return TerminalSafeText.escapeJSON(json)
        }
        return safe(message.textFormatString())
    }

    private func safe(_ text: String) -> String { TerminalSafeText.escape(text) }

    private static func typeName(_ m: Opentelemetry_Proto_Metrics_V1_Metric) -> String {
        switch m.data {
        case .gauge?: "gauge"
        case .sum?: "sum"
        case .histogram?: "histogram"
        case .exponentialHistogram?: "exponential_histogram"
        case .summary?: "summary"
        case nil: "empty"
        }
    }
}

extension Data {
    /// Lower-case hex, as OTLP/JSON and otelcol print IDs.
    var hex: String { map { String(format: "%02x", $0) }.joined() }
}

/// Registers the `debug` exporter.
public struct DebugExporterFactory: ExporterFactory {
    public init() {}
    public var type: String { "debug" }
    public var kind: ComponentKind { .exporter }
    public var signals: Set<Signal> { [.traces, .metrics, .logs] }
    public var summary: String { "writes received telemetry to the log (verbosity basic, normal or detailed)" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { DebugExporterConfig(reading: reader) }

    public func makeExporter(config: any ComponentConfig, context: ComponentContext) throws -> any Exporter {
        DebugExporter(config: try config.as(DebugExporterConfig.self, for: "debug"), logger: context.logger)
    }
}
