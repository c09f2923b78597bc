import CollectorCore
import CollectorService
import CollectorTesting
import Foundation
import Testing

@testable import Extensions

@Suite("health_check extension")
struct HealthCheckTests {
    func yaml(_ settings: String) -> String {
        """
        extensions:
          health_check:
        \(settings.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
        receivers:
          otlp:
            protocols:
              grpc:
                endpoint: 127.0.0.1:0
        exporters:
          debug:
        service:
          extensions: [health_check]
          pipelines:
            traces:
              receivers: [otlp]
              exporters: [debug]
        """
    }

    @Test func defaultsAreOtelcols() {
        let c = HealthCheckConfig()
        #expect(c.endpoint.port == 13133 && c.endpoint.host == "127.0.0.1")
        #expect(c.path == "/" && !c.checkPipeline && c.pipelineInterval == .seconds(300) && c.exporterFailureThreshold == 5)
        #expect(loadProblemTexts(yaml("")) == [])
    }

    @Test func badSettingsAreReportedWithTheirPaths() {
        let problems = loadProblemTexts(
            yaml(
                """
                path: healthz
                check_collector_pipeline:
                  interval: 48h
                  exporter_failure_threshold: 0
                colour: red
                """))
        #expect(problems.contains("extensions::health_check::path: must start with /, got \"healthz\""))
        #expect(problems.contains { $0.hasPrefix("extensions::health_check::check_collector_pipeline::interval: must be at most 24h") })
        #expect(problems.contains { $0.hasPrefix("extensions::health_check::check_collector_pipeline::exporter_failure_threshold:") })
        #expect(problems.contains("extensions::health_check::colour: unknown key"))
    }

    @Test func answersFollowThePhaseWithOtelcolsJSON() throws {
        let config = HealthCheckConfig()
        let starting = HealthCheckExtension.answer(.starting, config: config)
        #expect(starting.status == .serviceUnavailable)
        #expect(String(decoding: starting.body, as: UTF8.self) == #"{"status":"Server not available","upSince":"0001-01-01T00:00:00Z","uptime":""}"#)
        #expect(HealthCheckExtension.answer(.stopping, config: config).status == .serviceUnavailable)

        let since = Date(timeIntervalSince1970: 1_764_739_961.25)
        let ready = HealthCheckExtension.answer(.ready(since: since), config: config, now: since.addingTimeInterval(61.5))
        #expect(ready.status == .ok && ready.contentType == "application/json")
        let doc = try #require(try JSONSerialization.jsonObject(with: Data(ready.body)) as? [String: String])
        #expect(doc == ["status": "Server available", "upSince": "2025-12-03T05:32:41.25Z", "uptime": "1m1.5s"])
    }

    @Test func customBodiesReplaceTheJSON() {
        var config = HealthCheckConfig()
        config.healthyBody = "fine"
        config.unhealthyBody = "not yet"
        #expect(HealthCheckExtension.answer(.ready(since: Date()), config: config).body == Array("fine".utf8))
        #expect(HealthCheckExtension.answer(.starting, config: config).body == Array("not yet".utf8))
    }

    @Test func uptimeIsWrittenAsGoWritesADuration() {
        #expect(HealthCheckExtension.goDuration(nanoseconds: 0) == "0s")
        #expect(HealthCheckExtension.goDuration(nanoseconds: 999) == "999ns")
        #expect(HealthCheckExtension.goDuration(nanoseconds: 1_500) == "1.5µs")
        #expect(HealthCheckExtension.goDuration(nanoseconds: 150_000_000) == "150ms")
        #expect(HealthCheckExtension.goDuration(nanoseconds: 49_013_251_800) == "49.0132518s")
        #expect(HealthCheckExtension.goDuration(nanoseconds: 7_200_000_000_000) == "2h0m0s")
        #expect(HealthCheckExtension.goDuration(nanoseconds: 3_723_000_000_000) == "1h2m3s")
    }

    @Test func failingSecondsCountOnlyGrowthWithinTheInterval() {
        let window = ExporterFailureWindow(interval: .seconds(10))
        let t0 = ContinuousClock.now
        window.record(failedTotal: 0, at: t0)
        window.record(failedTotal: 0, at: t0 + .seconds(1))
        #expect(window.failingSeconds(at: t0 + .seconds(1)) == 0)
        window.record(failedTotal: 40, at: t0 + .seconds(2))
        window.record(failedTotal: 41, at: t0 + .seconds(3))
        window.record(failedTotal: 41, at: t0 + .seconds(4))
        #expect(window.failingSeconds(at: t0 + .seconds(4)) == 2)
        #expect(window.failingSeconds(at: t0 + .seconds(12.5)) == 1)
        #expect(window.failingSeconds(at: t0 + .seconds(14)) == 0)
    }

    @Test func collectorIsReadyOnceReceiversListenAndStoppingAsShutdownBegins() async throws {
        let collector = try await TestCollector(yaml: yaml("endpoint: 127.0.0.1:0"))
        _ = try await collector.address("otlp", "grpc")
        let deadline = ContinuousClock.now + .seconds(10)
        while case .starting = collector.collector.status.current, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        guard case .ready = collector.collector.status.current else {
            Issue.record("not ready: \(collector.collector.status.current)")
            return
        }
        try await collector.stop()
        #expect(collector.collector.status.current == .stopping)
    }
}
