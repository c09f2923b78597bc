import CollectorCore
import CollectorTesting
import OTLP
import Processors
import Testing

/// The `resource` processor: the shared actions applied to resource attributes of traces, metrics and logs.
@Suite struct ResourceProcessorTests {
    typealias B = OTLPBuild

    static let yaml = """
        attributes:
          - {key: deployment.environment, value: prod, action: upsert}
          - {key: host.name, action: hash}
          - {key: k8s.pod.uid, action: delete}
          - {key: service.name, pattern: '^(?P<team>[a-z]+)-', action: extract}

        """

    func processor(_ yaml: String = Self.yaml, sink: TracesSink = TracesSink()) throws -> ResourceProcessor {
        let config = try validProcessorConfig(yaml, factory: ResourceProcessorFactory(), id: "resource", as: ResourceProcessorConfig.self)
        return ResourceProcessor(config: config, next: SignalConsumers(traces: sink, metrics: sink, logs: sink))
    }

    static let resource = [B.kv("host.name", B.str("abc")), B.kv("k8s.pod.uid", B.str("123"))]

    func check(_ attributes: [KeyValue]) {
        #expect(attributes.keys == ["service.name", "host.name", "deployment.environment", "team"])
        #expect(attributes[attribute: "deployment.environment"] == B.str("prod"))
        #expect(attributes[attribute: "host.name"] == B.str("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        #expect(attributes[attribute: "team"] == B.str("shop"))
    }

    @Test func editsResourceAttributesOfTracesMetricsAndLogs() async throws {
        let sink = TracesSink()
        let p = try processor(sink: sink)
        #expect(p.mutatesData)
        let traces = B.traces(service: "shop-checkout", resource: Self.resource, [B.span("s", attributes: [B.kv("host.name", B.str("keep"))])])
        try await p.consume(traces)
        check(sink.receivedTraces[0].resourceSpans[0].resource.attributes)
        // span attributes are not touched
        #expect(sink.receivedTraces[0].allSpans[0].attributes[attribute: "host.name"] == B.str("keep"))
        try await p.consume(B.metrics(service: "shop-checkout", resource: Self.resource, [B.gauge("m", points: [[]])]))
        check(sink.receivedMetrics[0].resourceMetrics[0].resource.attributes)
        try await p.consume(B.logs(service: "shop-checkout", resource: Self.resource, [B.log("x")]))
        check(sink.receivedLogs[0].resourceLogs[0].resource.attributes)
    }

    @Test func everyResourceInABatchIsEdited() throws {
        var request = B.traces(service: "a-1", [B.span("s")])
        request.resourceSpans.append(B.traces(service: "b-2", [B.span("t")]).resourceSpans[0])
        try processor("attributes: [{key: env, value: dev, action: insert}]\n").process(&request)
        #expect(request.resourceSpans.allSatisfy { $0.resource.attributes[attribute: "env"] == B.str("dev") })
    }

    @Test func configErrorsNameTheAttributesKey() {
        let (_, problems) = readProcessorConfig(
            "attributes:\n  - {key: a, action: upsrt, value: 1}\n  - {key: b, action: convert, converted_type: float}\n",
            factory: ResourceProcessorFactory(), id: "resource/env", as: ResourceProcessorConfig.self)
        #expect(
            problems == [
                "processors::resource/env::attributes::0::action: unknown action \"upsrt\"; expected one of insert, update, upsert, delete, hash, extract, convert",
                "processors::resource/env::attributes::1::converted_type: unknown type \"float\"; expected one of int, double, string",
            ])
        let (_, unknown) = readProcessorConfig("actions: []\n", factory: ResourceProcessorFactory(), id: "resource", as: ResourceProcessorConfig.self)
        #expect(unknown == ["processors::resource::actions: unknown key"])
    }

    @Test func noActionsIsAValidNoOp() throws {
        var request = B.traces([B.span("s")])
        let before = request
        try processor("").process(&request)
        #expect(request == before)
    }
}
