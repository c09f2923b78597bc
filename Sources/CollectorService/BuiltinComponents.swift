import CollectorCore
import Connectors
import Exporters
import Extensions
import FileStorage
import OTLPExporters
import OTLPReceivers
import Processors
import PrometheusExporter
import QueryAPI
import SQLiteStore

extension ComponentRegistry {
    /// Every component otelsink ships. Adding a component is one line here.
    public static let builtin = ComponentRegistry([
        OTLPReceiverFactory(),
        SQLiteExporterFactory(),
        DebugExporterFactory(),
        FileExporterFactory(),
        NopExporterFactory(),
        OTLPGRPCExporterFactory(type: "otlp"),
        OTLPGRPCExporterFactory(type: "otlp_grpc"),
        OTLPHTTPExporterFactory(type: "otlphttp"),
        OTLPHTTPExporterFactory(type: "otlp_http"),
        LoadBalancingExporterFactory(type: "loadbalancing"),
        LoadBalancingExporterFactory(type: "load_balancing"),
        PrometheusExporterFactory(),
        SpanMetricsConnectorFactory(),
        ServiceGraphConnectorFactory(),
        ForwardConnectorFactory(),
        RoutingConnectorFactory(),
        BatchProcessorFactory(),
        MemoryLimiterProcessorFactory(),
        ProbabilisticSamplerFactory(),
        TailSamplingProcessorFactory(),
        AttributesProcessorFactory(),
        ResourceProcessorFactory(),
        FilterProcessorFactory(),
        TransformProcessorFactory(),
        QueryExtensionFactory(),
        BearerTokenAuthFactory(),
        BasicAuthFactory(),
        HealthCheckFactory(),
        FileStorageFactory(),
    ])
}
