import CollectorCore
import CollectorService
import CollectorTesting
import Foundation
import Logging
import OTLP
import ServiceLifecycle
import Testing

// MARK: Test components

/// A receiver that does nothing but hand its downstream consumers to the test.
final class CaptureReceiverFactory: ReceiverFactory, Sendable {
    struct Config: ComponentConfig {}
    let captured = LockedValue<[ComponentID: SignalConsumers]>([:])
    var type: String { "capture" }
    var kind: ComponentKind { .receiver }
    var signals: Set<Signal> { [.traces, .metrics, .logs] }
    var summary: String { "test receiver" }
    func readConfig(_ reader: ConfigReader) -> any ComponentConfig { Config() }
    func makeReceiver(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Receiver {
        captured.withLock { $0[context.id] = next }
        return CaptureReceiver()
    }
}

private struct CaptureReceiver: Receiver {
    func run() async throws {}
}

/// An exporter that counts what each instance receives, by component id; `refuse: retryable|permanent` makes it fail.
final class RecordingExporterFactory: ExporterFactory, Sendable {
    struct Config: ComponentConfig { var refuse: String }
    let spans = LockedValue<[String: Int]>([:])
    let logRecords = LockedValue<[String: Int]>([:])
    /// The `tenant` resource attribute values each instance saw, with the span or record names under them.
    let tenants = LockedValue<[String: Set<String>]>([:])
    let built = LockedValue<[String]>([])
    var type: String { "rec" }
    var kind: ComponentKind { .exporter }
    var signals: Set<Signal> { [.traces, .logs] }
    var summary: String { "recording exporter" }
    func readConfig(_ reader: ConfigReader) -> any ComponentConfig { Config(refuse: reader.string("refuse", default: "none")) }
    func makeExporter(config: any ComponentConfig, context: ComponentContext) throws -> any Exporter {
        let c = try config.as(Config.self, for: "rec")
        built.withLock { $0.append(context.id.description) }
        return RecordingExporter(id: context.id.description, refuse: c.refuse, factory: self)
    }
}

private struct RecordingExporter: Exporter, TracesConsumer, LogsConsumer {
    let id: String
    let refuse: String
    let factory: RecordingExporterFactory
    var consumers: SignalConsumers { SignalConsumers(traces: self, logs: self) }
    func run() async throws {}
    func check() throws {
        switch refuse {
        case "retryable": throw PipelineError.retryable("\(id) is full", after: .seconds(7))
        case "permanent": throw PipelineError.permanent("\(id) is broken")
        default: break
        }
    }
    func consume(_ traces: ExportTraceRequest) async throws {
        try check()
        factory.spans.withLock { $0[id, default: 0] += traces.spanCount }
        for rs in traces.resourceSpans {
            let tenant = rs.resource.attributes.stringValue("tenant") ?? "-"
            for ss in rs.scopeSpans { for s in ss.spans { factory.tenants.withLock { _ = $0[id, default: []].insert("\(tenant):\(s.name)") } } }
        }
    }
    func consume(_ logs: ExportLogsRequest) async throws {
        try check()
        factory.logRecords.withLock { $0[id, default: 0] += logs.logRecordCount }
    }
}

func quietLogger() -> Logger {
    var l = Logger(label: "collector-graph-test")
    l.logLevel = .critical
    return l
}

@Suite("Collector graph")
struct CollectorGraphTests {
    @Test func debugOnlyConfigBuildsOneServicePerComponent() throws {
        let yaml = """
            receivers:
              otlp:
                protocols:
                  grpc:
                    endpoint: 127.0.0.1:0
                  http:
                    endpoint: 127.0.0.1:0
            exporters:
              debug:
              debug/detailed:
                verbosity: detailed
            service:
              pipelines:
                traces:
                  receivers: [otlp]
                  exporters: [debug]
                metrics:
                  receivers: [otlp]
                  exporters: [debug, debug/detailed]
                logs:
                  receivers: [otlp]
                  exporters: [debug/detailed]
            """
        let config = try loadConfig(yaml)
        let collector = try Collector(config: config, logger: quietLogger())
        // Two exporters (each built once although shared by pipelines), one receiver and the readiness marker; no
        // processors.
        #expect(collector.services.count == 4)
        #expect(collector.services.filter { $0 is any Exporter }.count == 2)
        #expect(collector.services.filter { $0 is any Receiver }.count == 1)
        // Start order: exporters first, receivers last but for the readiness marker (the first told of a shutdown).
        #expect(collector.services.dropLast().last is any Receiver)
        #expect(collector.services.first is any Exporter)
        // Nothing listens until the collector runs.
        #expect(collector.listening.all.isEmpty)
    }

    @Test func sharedExporterIsBuiltOnceAndFedByEveryPipeline() async throws {
        let capture = CaptureReceiverFactory()
        let recording = RecordingExporterFactory()
        let registry = ComponentRegistry([capture, recording])
        let yaml = """
            receivers:
              capture:
              capture/other:
            exporters:
              rec/shared:
              rec/only2:
            service:
              pipelines:
                traces:
                  receivers: [capture]
                  exporters: [rec/shared]
                traces/2:
                  receivers: [capture, capture/other]
                  exporters: [rec/shared, rec/only2]
                logs:
                  receivers: [capture]
                  exporters: [rec/shared]
            """
        let config = try loadConfig(yaml, registry: registry)
        let collector = try Collector(config: config, logger: quietLogger())
        #expect(collector.services.count == 5)  // two receivers, two exporters, the readiness marker
        #expect(recording.built.withLock { $0.sorted() } == ["rec/only2", "rec/shared"])

        let main = try #require(capture.captured.withLock { $0[ComponentID(type: "capture")] })
        let other = try #require(capture.captured.withLock { $0[ComponentID(type: "capture", name: "other")] })
        #expect(main.traces != nil)
        #expect(main.logs != nil)
        #expect(main.metrics == nil)
        #expect(other.traces != nil)
        #expect(other.logs == nil)
        #expect(other.metrics == nil)

        let request = SpanFactory.request(traces: 1, spansPerTrace: 3)
        try await main.traces?.consume(request)
        // `capture` feeds both trace pipelines: rec/shared gets the data once per pipeline.
        #expect(recording.spans.withLock { $0 } == ["rec/shared": 6, "rec/only2": 3])

        try await other.traces?.consume(request)
        #expect(recording.spans.withLock { $0 } == ["rec/shared": 9, "rec/only2": 6])

        var logs = ExportLogsRequest()
        var rl = ResourceLogs()
        rl.scopeLogs = [.init()]
        rl.scopeLogs[0].logRecords = [.init(), .init()]
        logs.resourceLogs = [rl]
        try await main.logs?.consume(logs)
        #expect(recording.logRecords.withLock { $0 } == ["rec/shared": 2])
    }

    @Test func fanOutFailureIsRetryableWhenAnyExporterIsRetryable() async throws {
        let capture = CaptureReceiverFactory()
        let recording = RecordingExporterFactory()
        let registry = ComponentRegistry([capture, recording])
        let yaml = """
            receivers:
              capture:
            exporters:
              rec/ok:
              rec/broken:
                refuse: permanent
              rec/full:
                refuse: retryable
            service:
              pipelines:
                traces:
                  receivers: [capture]
                  exporters: [rec/broken, rec/ok, rec/full]
                logs:
                  receivers: [capture]
                  exporters: [rec/broken, rec/ok]
            """
        let config = try loadConfig(yaml, registry: registry)
        _ = try Collector(config: config, logger: quietLogger())
        let next = try #require(capture.captured.withLock { $0[ComponentID(type: "capture")] })

        do {
            try await next.traces?.consume(SpanFactory.request(traces: 1, spansPerTrace: 2))
            Issue.record("expected the fan-out to fail")
        } catch let error as PipelineError {
            #expect(error.kind == .retryable(after: .seconds(7)))
            #expect(error.message == "rec/full is full")
        }
        // The healthy exporter still got its copy.
        #expect(recording.spans.withLock { $0["rec/ok"] } == 2)

        do {
            try await next.logs?.consume(ExportLogsRequest())
            Issue.record("expected the fan-out to fail")
        } catch let error as PipelineError {
            #expect(error.kind == .permanent)
            #expect(error.message == "rec/broken is broken")
        }
    }
}
