import CollectorCore
import Foundation
import Logging
import OTLP
import ServiceLifecycle
import SwiftProtobuf

/// Settings of the `file` exporter, with otelcol-contrib's keys and defaults.
public struct FileExporterConfig: ComponentConfig, Equatable {
    /// How each export request is written.
    public enum Format: String, Sendable, CaseIterable {
        /// One line of OTLP JSON per request.
        case json
        /// The request as protobuf, preceded by its length (4 bytes, big-endian).
        case proto
    }

    /// Size-based rotation, as otelcol's (lumberjack's) `rotation` block.
    public struct Rotation: Sendable, Equatable {
        /// Size in MiB past which the next record starts a new file.
        public var maxMegabytes = 100
        /// Backups older than this many days (by the time in their name) are removed; 0 keeps them regardless of age.
        public var maxDays = 0
        /// Backups kept, newest first; 0 keeps all.
        public var maxBackups = 100
        /// Backup names carry local time instead of UTC.
        public var localTime = false

        public init(maxMegabytes: Int = 100, maxDays: Int = 0, maxBackups: Int = 100, localTime: Bool = false) {
            self.maxMegabytes = maxMegabytes
            self.maxDays = maxDays
            self.maxBackups = maxBackups
            self.localTime = localTime
        }
    }

    /// The file written; required. Its directory must exist.
    public var path: String
    public var format: Format = .json
    /// Rotation, when the `rotation` block is present; otherwise the file grows without bound.
    public var rotation: Rotation?
    /// How often written data is fsynced.
    public var flushInterval: Duration = .seconds(1)

    public init(path: String, format: Format = .json, rotation: Rotation? = nil, flushInterval: Duration = .seconds(1)) {
        self.path = path
        self.format = format
        self.rotation = rotation
        self.flushInterval = flushInterval
    }

    public init(reading r: ConfigReader) {
        path = r.optionalString("path") ?? ""
        if !r.contains("path") {
            r.report("path", "required: the file to write to")
        } else if path.isEmpty {
            r.report("path", "must not be empty")
        }
        let formatText = r.string("format", default: format.rawValue)
        if let parsed = Format(rawValue: formatText) {
            format = parsed
        } else {
            r.report("format", "expected json or proto, got \"\(formatText)\"")
        }
        let compression = r.string("compression", default: "none")
        switch compression {
        case "", "none": break
        case "zstd":
            r.report("compression", "zstd is not supported by otelsink's file exporter (files are written uncompressed); remove compression")
        default:
            r.report("compression", "expected none (zstd is not supported either), got \"\(compression)\"")
        }
        if r.contains("rotation") {
            let c = r.child("rotation")
            rotation = Rotation(
                maxMegabytes: c.int("max_megabytes", default: 100, range: 1...1_048_576),
                maxDays: c.int("max_days", default: 0, range: 0...36_500),
                maxBackups: c.int("max_backups", default: 100, range: 0...1_000_000),
                localTime: c.bool("localtime", default: false))
        }
        flushInterval = r.duration("flush_interval", default: flushInterval, minimum: .milliseconds(1))
        if !r.bool("append", default: true) {
            r.report("append", "otelsink always appends to an existing file; truncating it at start (append: false) is not supported")
        }
        if r.raw("group_by") != nil {
            r.report("group_by", "a file per resource attribute value is not supported by otelsink; remove group_by")
        }
        if r.raw("encoding") != nil {
            r.report("encoding", "encoding extensions are not supported by otelsink; use format (json or proto)")
        }
    }
}

/// The `file` exporter, as otelcol-contrib's: writes each export request to ``FileExporterConfig/path`` as one line
/// of OTLP JSON or as length-prefixed protobuf, rotating the file by size when configured (see ``RotatingFile``).
///
/// Durability: an export is acknowledged once its record is written to the file with one write(2) — no user-space
/// buffer, so a crash of otelsink loses nothing acknowledged; a power loss may lose what the OS had not yet written
/// to disk. The file is fsynced every `flush_interval`, before each rotation and at shutdown. A write that fails
/// (disk full, permissions, missing directory) fails the export with a retryable error naming the path, and leaves
/// no partial record behind.
///
/// Concurrent exports are written one record at a time (a mutex around the file); nothing is queued.
public struct FileExporter: Exporter, TracesConsumer, MetricsConsumer, LogsConsumer {
    public let config: FileExporterConfig
    let file: RotatingFile
    let logger: Logger
    let clock: any MonotonicClock

    /// - Parameters:
    ///   - now: wall-clock time for backup names and `max_days` (tests pass a fixed one).
    ///   - maxFileBytes: the rotation size in bytes instead of `max_megabytes` (for tests); ignored without rotation.
    public init(
        config: FileExporterConfig, logger: Logger, clock: any MonotonicClock = SystemClock(),
        now: @escaping @Sendable () -> Date = { Date() }, maxFileBytes: Int? = nil
    ) {
        self.config = config
        self.logger = logger
        self.clock = clock
        let rotation = config.rotation.map { r in
            RotatingFile.Rotation(
                maxBytes: maxFileBytes ?? r.maxMegabytes * 1_048_576, maxDays: r.maxDays, maxBackups: r.maxBackups,
                localTime: r.localTime)
        }
        file = RotatingFile(path: config.path, rotation: rotation, now: now)
    }

    public var consumers: SignalConsumers { SignalConsumers(traces: self, metrics: self, logs: self) }

    /// Fsyncs every `flush_interval` until graceful shutdown, then fsyncs and closes the file.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await clock.sleep(for: config.flushInterval) } catch { break }
                flush()
            }
        }
        if let failure = file.shutDown() {
            logger.error("the file exporter's last sync failed", metadata: ["error": "\(failure)"])
        }
    }

    /// Fsyncs what was written since the last flush; failures are logged.
    public func flush() {
        do { try file.sync() } catch {
            logger.warning("the file exporter cannot sync its file", metadata: ["error": "\(error)"])
        }
    }

    /// Fsyncs and closes the file, as at shutdown; later exports fail.
    public func shutDown() {
        if let failure = file.shutDown() {
            logger.error("the file exporter's last sync failed", metadata: ["error": "\(failure)"])
        }
    }

    public func consume(_ traces: ExportTraceRequest) async throws { try append(traces) }
    public func consume(_ metrics: ExportMetricsRequest) async throws { try append(metrics) }
    public func consume(_ logs: ExportLogsRequest) async throws { try append(logs) }

    /// `proto` writes the bytes as they arrived; `json` decodes them first.
    public func consume(_ traces: EncodedTraces) async throws {
        if config.format == .proto { return try append(wire: traces.bytes) }
        try append(decoding: traces.decoded, "trace")
    }

    public func consume(_ metrics: EncodedMetrics) async throws {
        if config.format == .proto { return try append(wire: metrics.bytes) }
        try append(decoding: metrics.decoded, "metrics")
    }

    public func consume(_ logs: EncodedLogs) async throws {
        if config.format == .proto { return try append(wire: logs.bytes) }
        try append(decoding: logs.decoded, "logs")
    }

    private func append<M: SwiftProtobuf.Message>(decoding decode: () throws -> M, _ signal: String) throws {
        let request: M
        do { request = try decode() } catch {
            throw PipelineError(.invalidData, "cannot decode the \(signal) request: \(error)")
        }
        try append(request)
    }

    private func append(_ request: some SwiftProtobuf.Message) throws {
        switch config.format {
        case .json:
            var line: [UInt8]
            do { line = try OTLPJSON.encode(request) } catch {
                throw PipelineError.permanent("cannot encode the request as OTLP JSON: \(error)")
            }
            line.append(UInt8(ascii: "\n"))
            try write(line)
        case .proto:
            let bytes: [UInt8]
            do { bytes = try request.serializedBytes() } catch {
                throw PipelineError.permanent("cannot encode the request as protobuf: \(error)")
            }
            try append(wire: bytes)
        }
    }

    /// Writes `bytes` preceded by their length, 4 bytes big-endian, as otelcol's `proto` format.
    private func append(wire bytes: [UInt8]) throws {
        guard let length = UInt32(exactly: bytes.count) else {
            throw PipelineError.permanent("a request of \(bytes.count) bytes is too large for a 4-byte length prefix")
        }
        var record: [UInt8] = []
        record.reserveCapacity(4 + bytes.count)
        record.append(contentsOf: [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)])
        record.append(contentsOf: bytes)
        try write(record)
    }

    private func write(_ record: [UInt8]) throws {
        do { try file.append(record) } catch {
            throw PipelineError.retryable(String(describing: error))
        }
    }
}

/// Registers the `file` exporter.
public struct FileExporterFactory: ExporterFactory {
    public init() {}
    public var type: String { "file" }
    public var kind: ComponentKind { .exporter }
    public var signals: Set<Signal> { [.traces, .metrics, .logs] }
    public var summary: String { "writes telemetry to a file as OTLP JSON lines or length-prefixed protobuf, rotated by size" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { FileExporterConfig(reading: reader) }

    public func makeExporter(config: any ComponentConfig, context: ComponentContext) throws -> any Exporter {
        FileExporter(config: try config.as(FileExporterConfig.self, for: "file"), logger: context.logger, clock: context.clock)
    }
}
