import CollectorCore

/// Settings of the `loadbalancing` (`load_balancing`) exporter, with otelcol-contrib's keys: `routing_key`,
/// `protocol.otlp` (the `otlp` exporter's settings, used for every backend) and one `resolver` (`static` or `dns`).
public struct LoadBalancingExporterConfig: ComponentConfig, Equatable {
    public enum Resolver: Sendable, Equatable {
        case fixed(hostnames: [String])
        case dns(hostname: String, port: Int, interval: Duration, timeout: Duration)
    }

    /// nil: by trace ID for traces and logs, by service for metrics (otelcol's defaults).
    public var routingKey: RoutingKey?
    public var backend = OTLPGRPCExporterConfig()
    public var resolver = Resolver.fixed(hostnames: [])

    public init() {}

    public init(reading r: ConfigReader) {
        if let key = r.optionalString("routing_key") {
            switch key {
            case "traceID", "traceid", "trace_id": routingKey = .traceID
            case "service": routingKey = .service
            case "resource": routingKey = .resource
            case "metric", "streamID", "attributes":
                r.report("routing_key", "\"\(key)\" is not supported yet; use traceID, service or resource")
            default:
                r.report("routing_key", "expected traceID, service or resource; got \"\(key)\"")
            }
        }
        let p = r.child("protocol")
        if !p.contains("otlp") { r.report("protocol", "is required: protocol.otlp holds the otlp exporter's settings used for each backend") }
        backend = OTLPGRPCExporterConfig(reading: p.child("otlp"), backendTemplate: true)
        if backend.queue.storage != nil {
            p.child("otlp").child("sending_queue").report(
                "storage", "a persistent queue per load-balanced backend is not supported yet; remove storage to queue in memory")
        }
        let res = r.child("resolver")
        let given = ["static", "dns", "k8s", "aws_cloud_map"].filter { res.contains($0) }
        if given.isEmpty { r.report("resolver", "is required: resolver.static.hostnames or resolver.dns") }
        if given.count > 1 { r.report("resolver", "set only one resolver, got \(given.joined(separator: ", "))") }
        for unsupported in ["k8s", "aws_cloud_map"] where res.contains(unsupported) {
            _ = res.raw(unsupported)
            res.report(unsupported, "this resolver is not supported; use static or dns")
        }
        if res.contains("static") {
            let s = res.child("static")
            let hostnames = s.stringList("hostnames")
            if hostnames.isEmpty { s.report("hostnames", "must list at least one backend (host:port)") }
            resolver = .fixed(hostnames: hostnames)
        } else if res.contains("dns") {
            let d = res.child("dns")
            let hostname = d.string("hostname", default: "")
            if hostname.isEmpty { d.report("hostname", "is required") }
            let portText = d.string("port", default: "4317")
            var port = 4317
            if let n = Int(portText), (1...65535).contains(n) { port = n } else { d.report("port", "expected a port number, got \"\(portText)\"") }
            resolver = .dns(
                hostname: hostname, port: port, interval: d.duration("interval", default: .seconds(5), minimum: .milliseconds(100)),
                timeout: d.duration("timeout", default: .seconds(1), minimum: .milliseconds(10)))
        }
    }
}
