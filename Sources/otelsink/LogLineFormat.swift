import CollectorCore
import Foundation
import OTLP
import QueryAPI
import SQLiteStore

/// One log record with the resource and scope it came from, as the CLI prints it.
struct FlatLogRecord: Sendable {
    var record: LogRecord
    var service: String
    /// Its `ResourceLogs` and `ScopeLogs` without their children, to regroup records into a request.
    var resource: ResourceLogs
    var scope: Opentelemetry_Proto_Logs_V1_ScopeLogs

    /// The time the record is filed under: its time, or the observed time when unset.
    var time: UInt64 { record.timeUnixNano != 0 ? record.timeUnixNano : record.observedTimeUnixNano }

    /// The body as text: a string as it is, other values as the store's line (JSON for maps and arrays).
    var line: String { record.hasBody ? AttributeText.text(record.body) : "" }

    /// Every record of `request`, oldest first (ties in the request's order).
    static func flatten(_ request: ExportLogsRequest) -> [FlatLogRecord] {
        var out: [FlatLogRecord] = []
        for rl in request.resourceLogs {
            let service = rl.resource.attributes.stringValue("service.name") ?? "unknown_service"
            var resource = rl
            resource.scopeLogs = []
            for sl in rl.scopeLogs {
                var scope = sl
                scope.logRecords = []
                for r in sl.logRecords { out.append(FlatLogRecord(record: r, service: service, resource: resource, scope: scope)) }
            }
        }
        return out.enumerated().sorted { a, b in a.element.time != b.element.time ? a.element.time < b.element.time : a.offset < b.offset }
            .map(\.element)
    }

    /// `records` as one request: consecutive records of the same resource and scope share their entries.
    static func request(_ records: [FlatLogRecord]) -> ExportLogsRequest {
        var request = ExportLogsRequest()
        for r in records {
            if request.resourceLogs.last.map({ $0.resource == r.resource.resource && $0.schemaURL == r.resource.schemaURL }) != true {
                request.resourceLogs.append(r.resource)
            }
            let ri = request.resourceLogs.count - 1
            if request.resourceLogs[ri].scopeLogs.last.map({ $0.scope == r.scope.scope && $0.schemaURL == r.scope.schemaURL }) != true {
                request.resourceLogs[ri].scopeLogs.append(r.scope)
            }
            let si = request.resourceLogs[ri].scopeLogs.count - 1
            request.resourceLogs[ri].scopeLogs[si].logRecords.append(r.record)
        }
        return request
    }
}

/// The CLI's line for a log record: time, severity (coloured on a terminal), service, body, then attributes
/// (dimmed). Every text from the record is escaped (``TerminalSafeText``): a body can hold escape sequences.
struct LogLineFormat: Sendable {
    var color: Bool
    /// The most characters of the body shown on one line (the rest is cut with `…`).
    var maxBodyWidth = 2000

    init(color: Bool) { self.color = color }

    func render(_ r: FlatLogRecord, showService: Bool = true) -> String {
        let reset = "\u{1B}[0m"
        let dim = "\u{1B}[2m"
        let level = Self.severityLabel(r.record)
        let paddedLevel = level + String(repeating: " ", count: max(0, 5 - level.count))
        let levelText = color ? Self.severityColor(r.record.severityNumber.rawValue) + paddedLevel + reset : paddedLevel
        var line = ReadableText.timestamp(r.time) + " " + levelText
        if showService { line += " " + TerminalSafeText.escape(r.service) }
        line += " " + TerminalCells.prefix(TerminalSafeText.escape(r.line), maxBodyWidth)
        let attributes = r.record.attributes.map(ReadableText.attribute).joined(separator: " ")
        if !attributes.isEmpty { line += " " + (color ? dim + attributes + reset : attributes) }
        return line
    }

    /// The severity text, or the severity number's level name in capitals, at most 12 characters.
    static func severityLabel(_ r: LogRecord) -> String {
        let text = r.severityText.isEmpty ? LogStreamLabels.levelName(Int32(clamping: r.severityNumber.rawValue)).uppercased() : r.severityText
        return TerminalCells.prefix(TerminalSafeText.escape(text), 12)
    }

    static func severityColor(_ number: Int) -> String {
        switch number {
        case 21...: "\u{1B}[1;31m"  // fatal: bold red
        case 17...20: "\u{1B}[31m"  // error: red
        case 13...16: "\u{1B}[33m"  // warn: yellow
        case 9...12: "\u{1B}[32m"  // info: green
        default: "\u{1B}[2m"  // debug, trace, unset: dim
        }
    }
}
