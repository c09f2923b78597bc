import CollectorCore
import CollectorService
import CollectorTesting
import OTLP
import Testing

@Suite("forward connector")
struct ForwardConnectorTests {
    @Test func joinsPipelinesOfTheSameSignalUnchanged() async throws {
        let capture = CaptureReceiverFactory()
        let recording = RecordingExporterFactory()
        let forward = try #require(ComponentRegistry.builtin.connectors["forward"])
        let registry = ComponentRegistry([capture, recording, forward])
        let yaml = """
            receivers:
              capture:
              capture/b:
            connectors:
              forward:
            exporters:
              rec/out:
            service:
              pipelines:
                traces/a:
                  receivers: [capture]
                  exporters: [forward]
                traces/b:
                  receivers: [capture/b]
                  exporters: [forward]
                traces/out:
                  receivers: [forward]
                  exporters: [rec/out]
                logs/in:
                  receivers: [capture]
                  exporters: [forward]
                logs/out:
                  receivers: [forward]
                  exporters: [rec/out]
            """
        let config = try loadConfig(yaml, registry: registry)
        _ = try Collector(config: config, logger: quietLogger())
        let a = try #require(capture.captured.withLock { $0[ComponentID(type: "capture")] })
        let b = try #require(capture.captured.withLock { $0[ComponentID(type: "capture", name: "b")] })
        try await a.traces?.consume(SpanFactory.request(traces: 1, spansPerTrace: 3))
        try await b.traces?.consume(SpanFactory.request(traces: 2, spansPerTrace: 2))
        #expect(recording.spans.withLock { $0 } == ["rec/out": 7])
        var logs = ExportLogsRequest()
        var rl = ResourceLogs()
        rl.scopeLogs = [.init()]
        rl.scopeLogs[0].logRecords = [.init(), .init()]
        logs.resourceLogs = [rl]
        try await a.logs?.consume(logs)
        #expect(recording.logRecords.withLock { $0 } == ["rec/out": 2])
    }

    @Test func aSignalWithNowhereToGoIsReported() {
        let yaml = """
            receivers:
              otlp:
                protocols:
                  grpc:
            connectors:
              forward:
            exporters:
              debug:
            service:
              pipelines:
                traces:
                  receivers: [otlp]
                  exporters: [forward]
                metrics:
                  receivers: [forward]
                  exporters: [debug]
            """
        #expect(
            Set(loadProblemTexts(yaml)) == [
                "connectors::forward: connector takes traces but no pipeline it feeds can receive what it makes of them",
                "connectors::forward: connector feeds a metrics pipeline but no pipeline exports to it what it needs for metrics",
            ])
    }

    @Test func aCycleThroughConnectorsIsReported() {
        let yaml = """
            receivers:
              otlp:
                protocols:
                  grpc:
            connectors:
              forward:
              forward/back:
            exporters:
              debug:
            service:
              pipelines:
                traces:
                  receivers: [otlp, forward/back]
                  exporters: [forward]
                traces/2:
                  receivers: [forward]
                  exporters: [debug, forward/back]
            """
        #expect(loadProblemTexts(yaml) == ["service::pipelines: pipelines form a cycle through connectors: traces → traces/2 → traces"])
    }
}
