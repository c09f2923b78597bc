import CollectorCore
import CollectorService
import CollectorTesting
import Connectors
import OTLP
import Testing

/// The `routing` connector: otelcol's table, conditions and default pipelines, through a real pipeline graph.
@Suite("routing connector")
struct RoutingConnectorTests {
    static func request(_ tenants: [(tenant: String?, spans: [String])]) -> ExportTraceRequest {
        var r = ExportTraceRequest()
        for (tenant, names) in tenants {
            var rs = ResourceSpans()
            if let tenant {
                var kv = KeyValue()
                kv.key = "tenant"
                kv.value = .string(tenant)
                rs.resource.attributes = [kv]
            }
            var ss = ScopeSpans()
            ss.spans = names.map { name in
                var s = Span()
                s.name = name
                s.traceID = SpanFactory.randomID(16)
                s.spanID = SpanFactory.randomID(8)
                return s
            }
            rs.scopeSpans = [ss]
            r.resourceSpans.append(rs)
        }
        return r
    }

    static let graph = """
        receivers:
          capture:
        connectors:
          routing:
            default_pipelines: [traces/other]
            table:
              - statement: route() where resource.attributes["tenant"] == "acme"
                pipelines: [traces/acme]
              - condition: attributes["tenant"] == "ecorp"
                pipelines: [traces/ecorp]
              - condition: span.name == "health"
                context: span
                pipelines: [traces/acme, traces/ecorp]
        exporters:
          rec/acme:
          rec/ecorp:
          rec/other:
        service:
          pipelines:
            traces/in:
              receivers: [capture]
              exporters: [routing]
            traces/acme:
              receivers: [routing]
              exporters: [rec/acme]
            traces/ecorp:
              receivers: [routing]
              exporters: [rec/ecorp]
            traces/other:
              receivers: [routing]
              exporters: [rec/other]
        """

    func build(_ yaml: String = Self.graph) throws -> (any TracesConsumer, RecordingExporterFactory) {
        let capture = CaptureReceiverFactory()
        let recording = RecordingExporterFactory()
        let registry = ComponentRegistry([capture, recording, try #require(ComponentRegistry.builtin.connectors["routing"])])
        _ = try Collector(config: try loadConfig(yaml, registry: registry), logger: quietLogger())
        let input = try #require(capture.captured.withLock { $0[ComponentID(type: "capture")] }?.traces)
        return (input, recording)
    }

    @Test func twoTenantsReachTheirOwnExportersAndNothingCrosses() async throws {
        let (input, recording) = try build()
        try await input.consume(Self.request([("acme", ["a1", "a2"]), ("ecorp", ["e1"]), ("acme", ["a3"]), ("globex", ["g1"]), (nil, ["n1"])]))
        #expect(
            recording.tenants.withLock { $0 } == [
                "rec/acme": ["acme:a1", "acme:a2", "acme:a3"],
                "rec/ecorp": ["ecorp:e1"],
                "rec/other": ["globex:g1", "-:n1"],
            ])
    }

    @Test func aSpanRouteTakesSingleSpansOfWhatEarlierRoutesLeft() async throws {
        let (input, recording) = try build()
        try await input.consume(Self.request([("globex", ["health", "work"]), ("acme", ["health"])]))
        // acme's resource was taken whole by the first route; globex's health span goes to both pipelines of the
        // span route, its other span to the default pipelines
        #expect(
            recording.tenants.withLock { $0 } == [
                "rec/acme": ["acme:health", "globex:health"],
                "rec/ecorp": ["globex:health"],
                "rec/other": ["globex:work"],
            ])
    }

    @Test func withoutDefaultPipelinesUnmatchedDataIsDropped() async throws {
        let yaml = Self.graph.replacingOccurrences(of: "    default_pipelines: [traces/other]\n", with: "")
            .replacingOccurrences(of: "\n    traces/other:\n      receivers: [routing]\n      exporters: [rec/other]", with: "")
            .replacingOccurrences(of: "  rec/other:\n", with: "")
        let (input, recording) = try build(yaml)
        try await input.consume(Self.request([("globex", ["g1"]), ("acme", ["a1"])]))
        #expect(recording.spans.withLock { $0 } == ["rec/acme": 1])
    }

    @Test func aRefusalOfOnePipelineIsReportedAfterTheOthersGotTheirs() async throws {
        let yaml = Self.graph.replacingOccurrences(of: "  rec/ecorp:\n", with: "  rec/ecorp:\n    refuse: retryable\n")
        let (input, recording) = try build(yaml)
        await #expect(throws: PipelineError.self) {
            try await input.consume(Self.request([("ecorp", ["e1"]), ("acme", ["a1"])]))
        }
        #expect(recording.spans.withLock { $0 } == ["rec/acme": 1])
    }

    @Test func tableProblemsAreReportedWithTheirPaths() {
        let yaml = """
            receivers:
              otlp:
                protocols:
                  grpc:
            connectors:
              routing:
                error_mode: loud
                match_once: true
                table:
                  - statement: drop()
                    pipelines: [traces/a]
                  - condition: attributes["x"] ==
                    pipelines: [traces/a]
                  - condition: 'true'
                    context: request
                    pipelines: [traces/a]
                  - condition: 'true'
                    pipelines: [traces/missing]
                  - pipelines: [traces/a]
            exporters:
              debug:
            service:
              pipelines:
                traces:
                  receivers: [otlp]
                  exporters: [routing]
                traces/a:
                  receivers: [routing]
                  exporters: [debug]
            """
        #expect(
            Set(loadProblemTexts(yaml)) == [
                #"connectors::routing::error_mode: expected one of propagate, ignore, silent; got "loud""#,
                "connectors::routing::match_once: removed from otelcol's routing connector: a route's first match always wins",
                #"connectors::routing::table::0::statement: a routing statement is route() or route() where <condition>, got "drop()""#,
                #"connectors::routing::table::1::condition: condition "attributes["x"] ==": column 19: expected a value, found the end of the text"#,
                "connectors::routing::table::2::context: the request context (routing on request headers) is not supported by otelsink",
                "connectors::routing: table::3 routes to pipeline traces/missing, which does not list this connector as a receiver",
                "connectors::routing::table::4: a route needs a statement or a condition",
            ])
    }

    @Test func statementFormIsReadAsItsCondition() {
        #expect(RoutingConnectorConfig.condition(ofStatement: #"route() where attributes["t"] == "a""#) == #"attributes["t"] == "a""#)
        #expect(RoutingConnectorConfig.condition(ofStatement: "route()") == "true")
        #expect(RoutingConnectorConfig.condition(ofStatement: "route( ) where  x == 1 ") == "x == 1")
        #expect(RoutingConnectorConfig.condition(ofStatement: "routes() where x") == nil)
        #expect(RoutingConnectorConfig.condition(ofStatement: "route() wherex") == nil)
    }
}
