import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOCore
import NIOPosix
import OTLPGRPCStubs

@main
struct LoadGen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "otelsink-loadgen",
        abstract: "Sends the standard OTLP trace workload to an otelsink server and reports throughput, latency and server cost.",
        discussion: """
            Each request carries one resource, one scope and 100 spans (10 traces of 10 spans, each span with 10 \
            string attributes, one event and a status), about 62 KB of protobuf, with fresh random trace and span \
            IDs. The first --warmup of the run is not measured; figures cover the following --duration.
            """
    )

    @Option(help: "Server address host:port (default 127.0.0.1:4317 for grpc, 127.0.0.1:4318 for http).")
    var endpoint: String?

    @Option(name: .customLong("protocol"), help: "grpc (TraceService/Export) or http (POST /v1/traces, protobuf).")
    var transport: TransportProtocol = .grpc

    @Option(
        help:
            "traces (the standard workload), logs (100 log records per request, see LogsPayload.swift) or metrics (105 data points per request, see MetricsPayload.swift); the report's \"spans\" are then log records or data points."
    )
    var signal: WorkloadSignal = .traces

    @Option(help: "Offered load in spans per second (requests are 100 spans); 0 = flat out.")
    var rate: Double = 0

    @Option(help: "Measured time after the warm-up, e.g. 30s, 2m.")
    var duration: DurationArg = DurationArg(seconds: 30)

    @Option(help: "Concurrent streams (grpc, over one connection) or keep-alive connections (http).")
    var concurrency: Int = 4

    @Option(help: "Unmeasured warm-up before the measured window.")
    var warmup: DurationArg = DurationArg(seconds: 3)

    @Option(help: "Server process to measure: CPU time per span and RSS (idle, and peak sampled every 100 ms).")
    var serverPid: Int32?

    @Option(help: "Shell command that prints the number of spans stored; run before and after the run.")
    var countCommand: String?

    @Option(help: "After the run, how long to wait for the stored count to catch up with the acknowledged spans.")
    var countSettle: DurationArg = DurationArg(seconds: 10)

    @Option(help: "Per-request timeout.")
    var timeout: DurationArg = DurationArg(seconds: 10)

    @Option(help: "OTLP/HTTP path (default /v1/traces, /v1/logs or /v1/metrics by --signal).")
    var path: String?

    @Option(help: "NIO event-loop threads for the client connections.")
    var threads: Int = 1

    @Option(help: "With --server-pid: wait this long before sampling the server's idle RSS.")
    var idleWait: DurationArg = DurationArg(seconds: 1)

    @Option(
        help:
            "Services in the workload: 1 (the ingest workload, service otelsink-loadgen, 9 operations) or N > 1 (bench-svc-1 … bench-svc-N, 10 operations each; requests rotate through them)."
    )
    var services: Int = 1

    @Flag(help: "Print the report as JSON.")
    var json = false

    @Flag(help: "Print the size of one request and the workload's shape, then exit.")
    var printPayloadSize = false

    @Flag(help: "Don't check that the endpoint accepts TCP connections before the run (failures are then counted per request).")
    var skipPreflight = false

    func validate() throws {
        guard rate >= 0, rate.isFinite else { throw ValidationError("--rate must be >= 0") }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be >= 1") }
        guard duration.nanoseconds > 0 else { throw ValidationError("--duration must be > 0") }
        guard timeout.nanoseconds > 0 else { throw ValidationError("--timeout must be > 0") }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be 1...64") }
        guard (1...100).contains(services) else { throw ValidationError("--services must be 1...100") }
        if let endpoint, Endpoint.parse(endpoint) == nil {
            throw ValidationError("--endpoint must be host:port, got '\(endpoint)'")
        }
        if let serverPid, !ProcStats.exists(pid: serverPid) {
            throw ValidationError("--server-pid \(serverPid): no such process (/proc/\(serverPid)/stat)")
        }
    }

    static func log(_ message: String) {
        FileHandle.standardError.write(Data("otelsink-loadgen: \(message)\n".utf8))
    }

    func run() async throws {
        let endpoint = Endpoint.parse(self.endpoint ?? (transport == .grpc ? "127.0.0.1:4317" : "127.0.0.1:4318"))!
        let templates: [PayloadTemplate]
        switch signal {
        case .traces:
            templates =
                services == 1
                ? [try PayloadTemplate.make()]
                : try (1...services).map { try PayloadTemplate.make(service: "bench-svc-\($0)", tenOperations: true) }
        case .logs:
            templates = try (1...services).map { try PayloadTemplate.makeLogs(service: services == 1 ? "otelsink-loadgen" : "bench-svc-\($0)") }
        case .metrics:
            templates = try (0..<PayloadTemplate.metricsVariants).map { try PayloadTemplate.makeMetrics(seq: $0) }
        }
        let template = templates[0]
        var probe = PayloadFactory(template: template, seed: 42)
        let sample = probe.next()
        let shape: String
        switch signal {
        case .traces: shape = try PayloadTemplate.validate(sample, baseNanos: unixNanosNow())
        case .logs: shape = try PayloadTemplate.validateLogs(sample, baseNanos: unixNanosNow())
        case .metrics: shape = try PayloadTemplate.validateMetrics(sample, baseNanos: unixNanosNow())
        }

        if printPayloadSize {
            print(
                "payload: \(sample.count) bytes per request (\(String(format: "%.1f KB = %.1f KiB", Double(sample.count) / 1000, Double(sample.count) / 1024)))"
            )
            switch signal {
            case .traces:
                print("shape:   1 resource (5 attributes), 1 scope, \(shape)")
                print("         10 string attributes per span (20-char keys and values), 1 event, a status")
            case .logs:
                print("shape:   1 resource (5 attributes), 1 scope, \(shape)")
                print("         10 string attributes per record (20-char keys and values), a 200-byte body, time, observed time, severity")
            case .metrics:
                print("shape:   1 resource (service.name), 1 scope, \(shape)")
                print(
                    "         gauges, cumulative sums and histograms by turns; 3 string attributes per point; \(PayloadTemplate.metricsVariants) requests cycled"
                )
            }
            return
        }

        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        do {
            try await measure(endpoint: endpoint, templates: templates, payloadBytes: sample.count, group: group)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }

    private func measure(endpoint: Endpoint, templates: [PayloadTemplate], payloadBytes: Int, group: MultiThreadedEventLoopGroup) async throws {
        if !skipPreflight {
            do {
                try await probeTCP(endpoint, group: group)
            } catch {
                Self.log("cannot connect to \(endpoint) (\(transport.rawValue)): \(error)")
                throw ExitCode(2)
            }
        }

        var rssIdle: Int? = nil
        if let pid = serverPid {
            try await Task.sleep(for: idleWait.duration)
            rssIdle = ProcStats.rssKiB(pid: pid)
        }

        var storage: Report.Storage? = nil
        if let cmd = countCommand {
            do {
                storage = Report.Storage(countBefore: try CountCommand.run(cmd))
            } catch {
                storage = Report.Storage(error: "before the run: \(error)")
            }
        }

        if !json {
            let rateText = rate > 0 ? "\(Int(rate)) spans/s" : "flat out"
            Self.log("\(transport.rawValue) -> \(endpoint), \(rateText), concurrency \(concurrency), warm-up \(warmup), measuring \(duration)")
        }

        let plan = RunPlan(
            start: .now,
            concurrency: concurrency,
            requestRate: rate / Double(signal.itemsPerRequest),
            warmupNs: warmup.nanoseconds,
            endNs: warmup.nanoseconds + duration.nanoseconds,
            spansPerRequest: signal.itemsPerRequest
        )

        let stats: WorkerStats
        let samples: ServerSamples
        switch transport {
        case .grpc:
            let target: any ResolvableTarget =
                endpoint.isIPv4Literal
                ? .ipv4(address: endpoint.host, port: endpoint.port)
                : endpoint.isIPv6Literal
                    ? .ipv6(address: endpoint.host, port: endpoint.port)
                    : .dns(host: endpoint.host, port: endpoint.port)
            let grpcTransport = try HTTP2ClientTransport.Posix(
                target: target,
                transportSecurity: .plaintext,
                eventLoopGroup: group
            )
            let timeout = self.timeout.duration
            let serverPid = self.serverPid
            let signal = self.signal
            (stats, samples) = try await withGRPCClient(transport: grpcTransport) { client in
                await LoadRunner.run(plan: plan, templates: templates, serverPID: serverPid) { _ in
                    GRPCSender(client: client, timeout: timeout, signal: signal)
                }
            }
        case .http:
            let timeout = self.timeout.duration
            let path = self.path ?? signal.httpPath
            (stats, samples) = await LoadRunner.run(plan: plan, templates: templates, serverPID: serverPid) { _ in
                HTTPSender(endpoint: endpoint, path: path, timeout: timeout, group: group)
            }
        }

        if let cmd = countCommand, let before = storage?.countBefore {
            storage = waitForStoredCount(cmd, before: before, expected: stats.ackedTotal)
        }

        var server: Report.Server? = nil
        if let pid = serverPid {
            var s = Report.Server(
                pid: pid, rssIdleKib: rssIdle, rssPeakKib: samples.rssPeakKiB,
                rssHighWaterMarkKib: ProcStats.hwmKiB(pid: pid), rssSamples: samples.rssSamples)
            if let a = samples.cpuTicksAtWindowStart, let b = samples.cpuTicksAtWindowEnd, b >= a {
                let cpu = Double(b - a) / Double(ProcStats.clockTicksPerSecond)
                s.cpuSeconds = cpu
                s.cpuUtilization = cpu / duration.seconds
                if stats.ackedInWindow > 0 { s.cpuMicrosecondsPerSpan = cpu * 1e6 / Double(stats.ackedInWindow) }
            }
            server = s
        }

        let sentInWindow = stats.ok + stats.refused + stats.failed
        let report = Report(
            protocol: transport.rawValue,
            endpoint: endpoint.description,
            concurrency: concurrency,
            offeredRateSpansPerSec: rate,
            warmupSeconds: warmup.seconds,
            durationSeconds: duration.seconds,
            payloadBytes: payloadBytes,
            spansPerRequest: signal.itemsPerRequest,
            requests: .init(ok: stats.ok, refused: stats.refused, failed: stats.failed, unsent: stats.unsent),
            spansAcknowledgedPerSec: Double(stats.ackedInWindow) / duration.seconds,
            spansAcknowledgedInWindow: stats.ackedInWindow,
            spansAttemptedPerSec: Double(sentInWindow * signal.itemsPerRequest) / duration.seconds,
            spansRejectedPartialSuccess: stats.rejectedSpans,
            spansAcknowledgedTotal: stats.ackedTotal,
            latency: Report.latency(stats.latenciesNs),
            sendLag: rate > 0 ? Report.latency(stats.lagsNs) : nil,
            server: server,
            storage: storage,
            errors: stats.errors.sorted { $0.value > $1.value }.prefix(10).map { .init(reason: $0.key, count: $0.value) }
        )
        print(json ? try report.json() : report.table())

        if stats.ok == 0 {
            Self.log("no request succeeded in the measured window")
            throw ExitCode(1)
        }
    }

    /// Polls the count command until it shows every acknowledged span, stops changing for a second, or
    /// --count-settle runs out.
    private func waitForStoredCount(_ cmd: String, before: Int64, expected: Int64) -> Report.Storage {
        let deadline = Date().addingTimeInterval(countSettle.seconds)
        var last: Int64? = nil
        var lastChange = Date()
        while true {
            do {
                let now = try CountCommand.run(cmd)
                if now != last {
                    last = now
                    lastChange = Date()
                }
                if now - before >= expected || Date() >= deadline || Date().timeIntervalSince(lastChange) >= 1.0 {
                    return Report.Storage(countBefore: before, countAfter: now, spansStored: now - before)
                }
            } catch {
                return Report.Storage(countBefore: before, error: "after the run: \(error)")
            }
            usleep(250_000)
        }
    }
}
