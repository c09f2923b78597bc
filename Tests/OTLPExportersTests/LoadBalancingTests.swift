import CollectorCore
import CollectorTesting
import Foundation
import OTLP
import Testing

@testable import OTLPExporters

func keyValue(_ key: String, _ value: String) -> KeyValue {
    var kv = KeyValue()
    kv.key = key
    kv.value = .string(value)
    return kv
}

@Suite("loadbalancing: ring, routing, resolvers, config")
struct LoadBalancingTests {
    static func keys(_ count: Int, seed: UInt64) -> [[UInt8]] {
        var random = SplitMix64(seed: seed)
        return (0..<count).map { _ in (0..<16).map { _ in UInt8(truncatingIfNeeded: random.next()) } }
    }

    @Test func removingOneOfThreeBackendsMovesOnlyItsKeysAboutAThird() {
        let seed = TestSeed.next()
        let keys = Self.keys(30000, seed: seed)
        let three = HashRing(backends: ["a:4317", "b:4317", "c:4317"])
        let two = HashRing(backends: ["a:4317", "c:4317"])
        var moved = 0
        var share = [0, 0, 0]
        for key in keys {
            let before = three.backends[three.owner(of: key) ?? -1]
            let after = two.backends[two.owner(of: key) ?? -1]
            share[three.owner(of: key) ?? 0] += 1
            if before != after {
                moved += 1
                #expect(before == "b:4317", "a key of a remaining backend moved (seed \(seed))")
            }
        }
        let fraction = Double(moved) / Double(keys.count)
        #expect(fraction > 0.25 && fraction < 0.42, "moved \(fraction) (seed \(seed))")
        for s in share { #expect(Double(s) / Double(keys.count) > 0.25, "shares \(share) (seed \(seed))") }
    }

    @Test func theOwnerDependsOnTheSetOfBackendsNotTheirOrder() {
        let keys = Self.keys(1000, seed: 42)
        let x = HashRing(backends: ["10.0.0.2:4317", "10.0.0.1:4317", "10.0.0.3:4317"])
        let y = HashRing(backends: ["10.0.0.3:4317", "10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.1:4317"])
        #expect(x == y)
        for key in keys { #expect(x.owner(of: key) == y.owner(of: key)) }
        #expect(HashRing(backends: []).owner(of: [1]) == nil)
    }

    func spans(of request: ExportTraceRequest) -> [Span] {
        request.resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) }
    }

    @Test func tracesAreSplitByTraceIDWithEverySpanOnceUnderItsOwnResourceAndScope() throws {
        var request = SpanFactory.request(service: "cart", traces: 30, spansPerTrace: 4)
        request.resourceSpans.append(contentsOf: SpanFactory.request(service: "pay", traces: 30, spansPerTrace: 3).resourceSpans)
        let encoded = try EncodedTraces(encoding: request)
        let ring = HashRing(backends: ["a:1", "b:1", "c:1"])
        let parts = LoadBalancedRouting.route(encoded, key: .traceID, ring: ring)
        #expect(Set(parts.map(\.backend)).count == 3)
        var seen: [Data: Int] = [:]
        var total = 0
        for part in parts {
            let decoded = try ExportTraceRequest(serializedBytes: part.request.bytes)
            #expect(part.request.items == spans(of: decoded).count)
            total += part.request.items
            for rs in decoded.resourceSpans {
                let service = rs.resource.attributes.first { $0.key == "service.name" }?.value.stringValue
                #expect(service == "cart" || service == "pay")
                for ss in rs.scopeSpans {
                    #expect(ss.scope.name == "test-scope")
                    for span in ss.spans {
                        if let before = seen[span.traceID] { #expect(before == part.backend, "a trace was split") }
                        seen[span.traceID] = part.backend
                        #expect(ring.owner(of: span.traceID) == part.backend)
                    }
                }
            }
        }
        #expect(total == 30 * 4 + 30 * 3)
        // Field for field: the parts together hold exactly the original spans.
        let original = Set(try spans(of: request).map { try $0.serializedBytes() as [UInt8] })
        let routed = Set(
            try parts.flatMap { spans(of: try ExportTraceRequest(serializedBytes: $0.request.bytes)) }.map { try $0.serializedBytes() as [UInt8] })
        #expect(original == routed)
    }

    @Test func aRequestForOneBackendIsForwardedAsTheBytesReceived() throws {
        let request = SpanFactory.request(service: "cart", traces: 5, spansPerTrace: 4)
        let encoded = try EncodedTraces(encoding: request)
        let byService = LoadBalancedRouting.route(encoded, key: .service, ring: HashRing(backends: ["a:1", "b:1", "c:1"]))
        #expect(byService.count == 1)
        #expect(byService.first?.request.bytes == encoded.bytes)
        let single = LoadBalancedRouting.route(encoded, key: .traceID, ring: HashRing(backends: ["only:1"]))
        #expect(single.first?.request.bytes == encoded.bytes)
    }

    @Test func metricsGoByServiceAndLogsByTraceIDFallingBackToTheService() throws {
        let ring = HashRing(backends: ["a:1", "b:1", "c:1", "d:1"])
        var metrics = ExportMetricsRequest()
        for service in ["s1", "s2", "s3", "s4", "s5", "s6"] {
            var rm = ResourceMetrics()
            rm.resource.attributes = [keyValue("service.name", service)]
            var m = Opentelemetry_Proto_Metrics_V1_Metric()
            m.name = "requests"
            var p = Opentelemetry_Proto_Metrics_V1_NumberDataPoint()
            p.asInt = 1
            m.gauge.dataPoints = [p, p]
            rm.scopeMetrics = [Opentelemetry_Proto_Metrics_V1_ScopeMetrics.with { $0.metrics = [m] }]
            metrics.resourceMetrics.append(rm)
        }
        let metricParts = try LoadBalancedRouting.route(metrics, key: .service, ring: ring)
        #expect(metricParts.reduce(0) { $0 + $1.request.items } == 12)
        for part in metricParts {
            for rm in try ExportMetricsRequest(serializedBytes: part.request.bytes).resourceMetrics {
                #expect(ring.owner(of: LoadBalancedRouting.serviceKey(rm.resource)) == part.backend)
            }
        }

        var logs = ExportLogsRequest()
        var rl = ResourceLogs()
        rl.resource.attributes = [keyValue("service.name", "api")]
        var sl = Opentelemetry_Proto_Logs_V1_ScopeLogs()
        for i in 0..<40 {
            var record = Opentelemetry_Proto_Logs_V1_LogRecord()
            record.body = .string("line \(i)")
            if i % 4 != 0 { record.traceID = SpanFactory.randomID(16) }
            sl.logRecords.append(record)
        }
        rl.scopeLogs = [sl]
        logs.resourceLogs = [rl]
        let logParts = try LoadBalancedRouting.route(logs, key: .traceID, ring: ring)
        #expect(logParts.reduce(0) { $0 + $1.request.items } == 40)
        let fallback = ring.owner(of: Array("api".utf8))
        for part in logParts {
            for record in try ExportLogsRequest(serializedBytes: part.request.bytes).resourceLogs.flatMap({ $0.scopeLogs.flatMap(\.logRecords) }) {
                #expect((record.traceID.isEmpty ? fallback : ring.owner(of: record.traceID)) == part.backend)
            }
        }
    }

    @Test func staticHostnamesGetTheDefaultPortAndTheSystemResolvesLocalhost() async throws {
        #expect(StaticResolver(hostnames: ["a", "b:4000", "::1", "[::1]:9"]).endpoints == ["a:4317", "b:4000", "[::1]:4317", "[::1]:9"])
        let found = try await DNSResolver(hostname: "localhost", port: 4317, timeout: .seconds(5)).resolve()
        #expect(found.contains("127.0.0.1:4317") || found.contains("[::1]:4317"), "\(found)")
    }

    @Test func aLookupSlowerThanTheTimeoutFails() async throws {
        let slow = DNSResolver(hostname: "backends", timeout: .milliseconds(50)) { _ in
            try await Task.sleep(for: .seconds(30))
            return ["10.0.0.1"]
        }
        await #expect(throws: PipelineError.self) { try await slow.resolve() }
        let quick = DNSResolver(hostname: "backends", port: 55690) { _ in ["10.0.0.2", "10.0.0.1", "fd00::1", "10.0.0.1"] }
        #expect(try await quick.resolve() == ["10.0.0.1:55690", "10.0.0.2:55690", "[fd00::1]:55690"])
    }

    @Test func configNeedsOneResolverAndRefusesWhatIsNotSupported() {
        let good = readComponentConfig(
            LoadBalancingExporterFactory(),
            yaml: """
                routing_key: traceID
                protocol:
                  otlp:
                    tls: {insecure: true}
                    timeout: 1s
                resolver:
                  static:
                    hostnames: [gw-1:4317, gw-2]
                """)
        #expect(good.problems == [])
        let c = good.config as? LoadBalancingExporterConfig
        #expect(c?.resolver == .fixed(hostnames: ["gw-1:4317", "gw-2"]))
        #expect(c?.backend.timeout == .seconds(1))
        let dns = readComponentConfig(LoadBalancingExporterFactory(), yaml: "protocol: {otlp: {}}\nresolver:\n  dns: {hostname: gw, port: 5317}\n")
        #expect(dns.problems == [])
        #expect(
            (dns.config as? LoadBalancingExporterConfig)?.resolver == .dns(hostname: "gw", port: 5317, interval: .seconds(5), timeout: .seconds(1)))
        let none = readComponentConfig(LoadBalancingExporterFactory(), yaml: "protocol: {otlp: {}}\n")
        #expect(none.problems == ["exporters::loadbalancing::resolver: is required: resolver.static.hostnames or resolver.dns"])
        let k8s = readComponentConfig(LoadBalancingExporterFactory(), yaml: "protocol: {otlp: {}}\nresolver:\n  k8s: {service: gw}\n")
        #expect(k8s.problems == ["exporters::loadbalancing::resolver::k8s: this resolver is not supported; use static or dns"])
    }
}
