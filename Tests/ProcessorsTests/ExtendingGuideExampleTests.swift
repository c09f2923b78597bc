// The processor from docs/extending.md, verbatim, built and run
// through the real config loader and a pipeline, so the guide keeps compiling and working.
import CollectorCore
import CollectorService
import CollectorTesting
import Logging
import OTLP
import Processors
import Testing

/// Settings of the `span_name_prefix` processor.
public struct SpanNamePrefixConfig: ComponentConfig {
    public var prefix = ""

    public init(reading r: ConfigReader) {
        prefix = r.string("prefix", default: prefix)
        if prefix.isEmpty { r.report("prefix", "must not be empty") }
    }
}

/// The `span_name_prefix` processor: prepends `prefix` to every span name.
public struct SpanNamePrefixProcessor: StatelessProcessor, TracesConsumer {
    let prefix: String
    let next: any TracesConsumer

    public var consumers: SignalConsumers { SignalConsumers(traces: self) }
    public var mutatesData: Bool { true }

    public func consume(_ request: consuming ExportTraceRequest) async throws {
        var request = consume request
        request.modifySpans { span, _, _ in span.name = prefix + span.name }
        try await next.consume(consume request)
    }
}

public struct SpanNamePrefixProcessorFactory: ProcessorFactory {
    public init() {}
    public var type: String { "span_name_prefix" }
    public var kind: ComponentKind { .processor }
    public var signals: Set<Signal> { [.traces] }
    public var summary: String { "prepends a fixed text to every span name" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { SpanNamePrefixConfig(reading: reader) }

    public func makeProcessor(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Processor {
        let c = try config.as(SpanNamePrefixConfig.self, for: type)
        guard let traces = next.traces else { throw PipelineError.permanent("span_name_prefix needs a traces consumer") }
        return SpanNamePrefixProcessor(prefix: c.prefix, next: traces)
    }
}

@Suite struct ExtendingGuideExampleTests {
    @Test func theGuidesProcessorLoadsFromYAMLAndRunsInAPipeline() async throws {
        let sink = TracesSink()
        let registry = ComponentRegistry(ComponentRegistry.builtin.all + [SpanNamePrefixProcessorFactory(), TestExporterFactory(sink: sink)])
        let config = try CollectorConfig.load(
            yaml: """
                receivers:
                  otlp:
                    protocols:
                      grpc:
                        endpoint: 127.0.0.1:0
                processors:
                  span_name_prefix:
                    prefix: "shop."
                exporters:
                  test: {}
                service:
                  pipelines:
                    traces:
                      receivers: [otlp]
                      processors: [span_name_prefix]
                      exporters: [test]
                """, environment: [:], registry: registry)
        let pipeline = try #require(config.pipelines.values.first)
        #expect(pipeline.processors.map(\.description) == ["span_name_prefix"])

        let factory = SpanNamePrefixProcessorFactory()
        let (processorConfig, problems) = readComponentConfig(factory, yaml: "prefix: shop.")
        #expect(problems.isEmpty)
        let p = try factory.makeProcessor(
            config: processorConfig, next: SignalConsumers(traces: sink),
            context: ComponentContext(id: ComponentID(type: "span_name_prefix"), logger: Logger(label: "test")))
        try await p.consumers.traces?.consume(SpanFactory.request(spansPerTrace: 2))
        #expect(sink.receivedTraces.flatMap { $0.resourceSpans[0].scopeSpans[0].spans.map(\.name) } == ["shop.GET /checkout", "shop.op-1"])

        let empty = readComponentConfig(factory, yaml: "prefix: \"\"").problems
        #expect(empty == ["processors::span_name_prefix::prefix: must not be empty"])
    }
}
