import CollectorCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOServing
import ServiceLifecycle
import Synchronization

/// Settings of the `health_check` extension, with otelcol-contrib's keys and defaults.
public struct HealthCheckConfig: ComponentConfig, Equatable {
    public var endpoint = ListenEndpoint(host: "127.0.0.1", port: 13133)
    /// The path probes ask for; anything else is a 404.
    public var path = "/"
    /// `response_body.healthy` / `.unhealthy`: fixed bodies replacing the JSON status.
    public var healthyBody: String?
    public var unhealthyBody: String?
    /// `check_collector_pipeline`: also report unavailable while exporters keep failing.
    public var checkPipeline = false
    public var pipelineInterval: Duration = .seconds(300)
    public var exporterFailureThreshold = 5
    public var listener = ListenerSettings(maxConnections: 64)

    public init() {}

    public init(reading r: ConfigReader) {
        let text = r.string("endpoint", default: "localhost:13133")
        if let e = ListenEndpoint(parsing: text) {
            endpoint = e
        } else {
            r.report("endpoint", "expected host:port with an IP address or localhost (e.g. \"0.0.0.0:13133\"), got \"\(text)\"")
        }
        path = r.string("path", default: path)
        if !path.hasPrefix("/") { r.report("path", "must start with /, got \"\(path)\"") }
        let body = r.child("response_body")
        healthyBody = body.optionalString("healthy")
        unhealthyBody = body.optionalString("unhealthy")
        let pipeline = r.child("check_collector_pipeline")
        checkPipeline = pipeline.bool("enabled", default: checkPipeline)
        pipelineInterval = pipeline.duration("interval", default: pipelineInterval, minimum: .seconds(1))
        if pipelineInterval > .seconds(86_400) { pipeline.report("interval", "must be at most 24h (one sample is kept per second)") }
        exporterFailureThreshold = pipeline.int("exporter_failure_threshold", default: exporterFailureThreshold, range: 1...1_000_000)
        listener = ListenerSettings.readHTTP(r, defaults: listener)
    }
}

/// The `health_check` extension: `GET <path>` answers 200 `{"status":"Server available","upSince":…,"uptime":…}`
/// while the collector serves, and 503 `{"status":"Server not available",…}` while it starts (until every receiver
/// listens), once a graceful shutdown has begun (before receivers stop taking data), and — with
/// `check_collector_pipeline.enabled` — while exporters keep failing: more than `exporter_failure_threshold` seconds
/// within the last `interval` in which some exporter failed to send (`otelcol_exporter_send_failed_*` grew).
public struct HealthCheckExtension: Extension {
    let config: HealthCheckConfig
    let status: CollectorStatus
    let context: ComponentContext
    let failures: ExporterFailureWindow

    public init(config: HealthCheckConfig, status: CollectorStatus, context: ComponentContext) {
        self.config = config
        self.status = status
        self.context = context
        failures = ExporterFailureWindow(interval: config.pipelineInterval)
    }

    public func run() async throws {
        let options = try ListenerOptions(config.listener, applicationProtocols: ["http/1.1"])
        let answer = answerer()
        let server = try await TCPServer.bind(
            host: config.endpoint.host, port: config.endpoint.port, drainGrace: .seconds(1),
            options: options, logger: context.logger
        ) { channel in
            try channel.pipeline.syncOperations.configureBoundedHTTPServerPipeline(writeTimeout: options.writeTimeout)
            try channel.pipeline.syncOperations.addHandler(HTTPRequestResponder(respond: answer))
        }
        context.announceListening(protocolName: "health", address: server.localAddress)
        await withTaskGroup(of: Void.self) { group in
            if config.checkPipeline {
                let failures = self.failures
                let telemetry = context.telemetry
                group.addTask {
                    while !Task.isCancelled {
                        failures.record(failedTotal: Self.exporterFailures(telemetry), at: .now)
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
            }
            await withTaskCancellationOrGracefulShutdownHandler {
                await server.waitUntilClosed()
            } onCancelOrGracefulShutdown: {
                server.beginGracefulShutdown()
            }
            group.cancelAll()
        }
        await server.drain()
    }

    /// What every request gets: the status now, as otelcol's extension writes it.
    func answerer() -> @Sendable (HTTPRequestHead) async -> HTTPAnswer {
        let config = self.config
        let status = self.status
        let failures = self.failures
        return { head in
            let target = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            guard target == config.path else { return .text(.notFound, "not found; the health check is at \(config.path)") }
            guard head.method == .GET || head.method == .HEAD else { return .text(.methodNotAllowed, "use GET") }
            var phase = status.current
            if config.checkPipeline, case .ready = phase,
                failures.failingSeconds(at: .now) > config.exporterFailureThreshold
            {
                phase = .starting
            }
            return Self.answer(phase, config: config)
        }
    }

    static func answer(_ phase: CollectorStatus.Phase, config: HealthCheckConfig, now: Date = Date()) -> HTTPAnswer {
        guard case .ready(let since) = phase else {
            if let body = config.unhealthyBody {
                return HTTPAnswer(status: .serviceUnavailable, contentType: "text/plain; charset=utf-8", body: Array(body.utf8))
            }
            return HTTPAnswer(
                status: .serviceUnavailable, contentType: "application/json",
                body: Array(#"{"status":"Server not available","upSince":"0001-01-01T00:00:00Z","uptime":""}"#.utf8))
        }
        if let body = config.healthyBody {
            return HTTPAnswer(status: .ok, contentType: "text/plain; charset=utf-8", body: Array(body.utf8))
        }
        let uptime = Self.goDuration(nanoseconds: max(0, Int64((now.timeIntervalSince(since) * 1e9).rounded())))
        let body = #"{"status":"Server available","upSince":"\#(Self.rfc3339(since))","uptime":"\#(uptime)"}"#
        return HTTPAnswer(status: .ok, contentType: "application/json", body: Array(body.utf8))
    }

    /// The total of every `otelcol_exporter_send_failed_*` counter.
    static func exporterFailures(_ telemetry: TelemetryRegistry) -> Double {
        var total = 0.0
        for family in telemetry.snapshot() where family.name.hasPrefix("otelcol_exporter_send_failed_") {
            for series in family.series { if case .number(let v) = series.value { total += v } }
        }
        return total
    }

    /// `2026-12-03T05:12:41.123456Z` (UTC, fraction without trailing zeros), as Go writes a time in JSON.
    static func rfc3339(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let micros = Int(((date.timeIntervalSince1970 - seconds) * 1e6).rounded())
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        var text = f.string(from: Date(timeIntervalSince1970: seconds))
        text.removeLast()  // "Z"
        if micros > 0 && micros < 1_000_000 {
            var fraction = String(micros)
            fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + "Z"
    }

    /// A duration as Go's `time.Duration.String` writes it: `49.0132518s`, `1m2.5s`, `2h0m0s`, `150ms`, `0s`.
    static func goDuration(nanoseconds ns: Int64) -> String {
        if ns == 0 { return "0s" }
        func fraction(_ value: Int64, digits: Int) -> String {
            var whole = String(value)
            whole = String(repeating: "0", count: max(0, digits - whole.count)) + whole
            while whole.hasSuffix("0") { whole.removeLast() }
            return whole.isEmpty ? "" : "." + whole
        }
        if ns < 1_000 { return "\(ns)ns" }
        if ns < 1_000_000 { return "\(ns / 1_000)\(fraction(ns % 1_000, digits: 3))µs" }
        if ns < 1_000_000_000 { return "\(ns / 1_000_000)\(fraction(ns % 1_000_000, digits: 6))ms" }
        let seconds = ns / 1_000_000_000
        let text = "\(seconds % 60)\(fraction(ns % 1_000_000_000, digits: 9))s"
        if seconds < 60 { return text }
        let minutes = seconds / 60
        if minutes < 60 { return "\(minutes)m" + text }
        return "\(minutes / 60)h\(minutes % 60)m" + text
    }
}

/// Seconds in which some exporter failed to send, over a sliding window: one sample of the failure total per
/// second, at most `interval` of them.
final class ExporterFailureWindow: Sendable {
    private let interval: Duration
    private let state = Mutex<(last: Double?, failing: [ContinuousClock.Instant])>((nil, []))

    init(interval: Duration) { self.interval = interval }

    func record(failedTotal: Double, at now: ContinuousClock.Instant) {
        state.withLock { s in
            if let last = s.last, failedTotal > last { s.failing.append(now) }
            s.last = failedTotal
            s.failing.removeAll { now - $0 > interval }
        }
    }

    func failingSeconds(at now: ContinuousClock.Instant) -> Int {
        state.withLock { s in s.failing.filter { now - $0 <= interval }.count }
    }
}

/// Registers the `health_check` extension.
public struct HealthCheckFactory: ExtensionFactory {
    public init() {}
    public var type: String { "health_check" }
    public var kind: ComponentKind { .extension }
    public var signals: Set<Signal> { [] }
    public var summary: String { "HTTP health probe (200 while serving, 503 while starting or stopping), as otelcol's" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { HealthCheckConfig(reading: reader) }

    public func makeExtension(config: any ComponentConfig, host: ExtensionHost, context: ComponentContext) throws -> any Extension {
        HealthCheckExtension(config: try config.as(HealthCheckConfig.self, for: type), status: host.status, context: context)
    }
}
