import CollectorCore
import Foundation
import Logging

/// `service.telemetry.logs.encoding: json`: one JSON object per line on standard error, as otelcol's zap logger
/// writes them: `{"level":"info","ts":"2026-12-03T05:12:41.123Z","logger":"otelsink","msg":"listening",
/// "component":"receiver/otlp","address":"127.0.0.1:4317"}`. Metadata values are strings; every string is escaped,
/// so text from the network cannot break a line or forge a field.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    private let write: @Sendable (String) -> Void

    init(label: String, write: @escaping @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data(line.utf8)) }) {
        self.label = label
        self.write = write
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = metadata
        if let explicit = event.metadata { fields.merge(explicit) { _, new in new } }
        if let error = event.error, fields["error"] == nil { fields["error"] = "\(error)" }
        var out = "{\"level\":\"\(Self.name(event.level))\",\"ts\":\"\(Self.timestamp(Date()))\",\"logger\":"
        Self.append(label, to: &out)
        out += ",\"msg\":"
        Self.append(event.message.description, to: &out)
        for key in fields.keys.sorted() where !["level", "ts", "logger", "msg"].contains(key) {
            guard let value = fields[key] else { continue }
            out += ","
            Self.append(key, to: &out)
            out += ":"
            Self.append(value.description, to: &out)
        }
        out += "}\n"
        write(out)
    }

    static func name(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: "debug"
        case .info, .notice: "info"
        case .warning: "warn"
        case .error: "error"
        case .critical: "fatal"
        }
    }

    static func timestamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: date)
    }

    static func append(_ text: String, to out: inout String) { JSONStringLiteral.append(text, to: &out) }
}
