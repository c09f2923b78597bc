// A small application instrumented with swift-log, swift-metrics and swift-distributed-tracing, exporting through
// swift-otel's OTLP backends, as a Swift user would write it. Everything about where and how it exports comes from
// the standard environment variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL = grpc,
// http/protobuf or http/json, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, …), which swift-otel applies over the
// configuration below.
//
// It emits one trace (a server span and its client child, attributes of every type, events, a link to a span of a
// second trace, an error status), a counter, a floating-point counter, a gauge, a histogram and a timer, and log
// records inside and outside the spans; prints what it produced as one JSON line on stdout; then shuts the
// backends down gracefully, which flushes everything, and exits 0. Diagnostics (swift-otel's own) go to stderr.
//
// Run by Tests/interop/test_swift_sdk.py, which reads everything back from otelsink field for field.

import Foundation
import Instrumentation
import Logging
import Metrics
import OTel
import ServiceLifecycle
import Synchronization
import Tracing

/// What the client produced, printed as JSON for the test to look up.
struct Produced: Codable, Sendable {
    struct SpanIDs: Codable, Sendable {
        var name: String
        var traceID: String
        var spanID: String
        var kind: String
    }

    var serviceName: String
    var exportProtocol: String
    var server: SpanIDs
    var client: SpanIDs
    var producer: SpanIDs
    var logBodies: [String]
}

/// Reads the W3C `traceparent` that the configured propagator writes for a context: `00-<trace>-<span>-<flags>`.
struct HeaderInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key.lowercased()] = value
    }
}

enum ClientError: Error, CustomStringConvertible {
    case noSpanContext(String)
    case paymentDeclined(code: Int)

    var description: String {
        switch self {
        case .noSpanContext(let name): "span \(name) has no trace context to propagate (is tracing bootstrapped?)"
        case .paymentDeclined(let code): "payment declined with code \(code)"
        }
    }
}

func ids(of span: any Span, name: String, kind: String) throws -> Produced.SpanIDs {
    var headers: [String: String] = [:]
    InstrumentationSystem.instrument.inject(span.context, into: &headers, using: HeaderInjector())
    let parts = headers["traceparent"]?.split(separator: "-") ?? []
    guard parts.count == 4 else { throw ClientError.noSpanContext(name) }
    return .init(name: name, traceID: String(parts[1]), spanID: String(parts[2]), kind: kind)
}

/// Where the application leaves what it produced, for `main` to print once everything has been flushed.
final class ResultBox: Sendable {
    let produced = Mutex<Produced?>(nil)
}

/// The application: does its work, records the IDs, and returns, which shuts the service group down gracefully.
struct ClientWork: Service {
    let serviceName: String
    let exportProtocol: String
    let result: ResultBox

    func run() async throws {
        let logger = Logger(label: "swift-sdk-client")

        // Metrics, through swift-metrics: the "unit" and "description" dimensions are swift-otel's way of setting
        // the OTLP metric's unit and description.
        Counter(
            label: "swift_client.orders",
            dimensions: [
                ("unit", "{orders}"), ("description", "Orders placed."), ("payment.method", "card"),
            ]
        ).increment(by: 3)
        Counter(
            label: "swift_client.orders",
            dimensions: [
                ("unit", "{orders}"), ("description", "Orders placed."), ("payment.method", "cash"),
            ]
        ).increment(by: 1)
        FloatingPointCounter(label: "swift_client.revenue", dimensions: [("unit", "EUR")]).increment(by: 12.75)
        Gauge(label: "swift_client.queue.depth", dimensions: [("queue", "orders")]).record(7.5)
        let amounts = Recorder(label: "swift_client.order.amount", dimensions: [("unit", "EUR")], aggregate: true)
        for value in [3.0, 30, 30, 120] {
            amounts.record(value)
        }
        Metrics.Timer(label: "swift_client.checkout.duration").recordMilliseconds(42)

        // A span of another trace (a message that was enqueued earlier), linked from the server span below.
        let (producer, producerContext) = try withSpan("enqueue order", context: .topLevel, ofKind: .producer) { span in
            span.attributes["messaging.system"] = "memory"
            return (try ids(of: span, name: "enqueue order", kind: "producer"), span.context)
        }

        let (server, client) = try withSpan("GET /orders/{id}", context: .topLevel, ofKind: .server) { server in
            server.attributes["http.request.method"] = "GET"
            server.attributes["http.response.status_code"] = 500
            server.attributes["order.total"] = 12.75
            server.attributes["order.express"] = true
            server.attributes["order.tags"] = ["gift", "fragile"]
            server.attributes["order.quantities"] = [1, 2, 3] as [Int64]
            // swift-distributed-tracing types an array of `Int` (not Int32/Int64) as strings: a trap for users.
            server.attributes["order.sizes"] = [36, 42] as [Int]
            server.attributes["order.weights"] = [0.5, 1.25]
            server.attributes["order.flags"] = [true, false]
            server.addEvent(
                SpanEvent(
                    name: "order.validated",
                    attributes: [
                        "order.items": 3, "order.valid": true, "order.discount": 0.1, "order.currency": "EUR",
                    ]))
            server.addLink(SpanLink(context: producerContext, attributes: ["link.reason": "dequeued", "link.attempt": 2]))
            let serverIDs = try ids(of: server, name: "GET /orders/{id}", kind: "server")

            let clientIDs = try withSpan("POST /payments", ofKind: .client) { client in
                client.attributes["server.address"] = "payments.internal"
                client.attributes["server.port"] = 8443
                client.attributes["payment.amount"] = 12.75
                client.attributes["payment.retried"] = false
                client.recordError(ClientError.paymentDeclined(code: 51))
                logger.error(
                    "payment declined",
                    metadata: [
                        "order.id": "A-1001",
                        "payment.code": "\(51)",
                        "payment.tags": .array(["card", "3ds"]),
                        "payment.card": .dictionary(["brand": "visa", "last4": "4242"]),
                    ])
                client.setStatus(SpanStatus(code: .error, message: "payment declined with code 51"))
                return try ids(of: client, name: "POST /payments", kind: "client")
            }

            logger.warning("order failed", metadata: ["order.id": "A-1001"])
            server.setStatus(SpanStatus(code: .error, message: "upstream payment service failed"))
            return (serverIDs, clientIDs)
        }

        logger.info("client finished")

        result.produced.withLock {
            $0 = Produced(
                serviceName: serviceName, exportProtocol: exportProtocol, server: server, client: client,
                producer: producer, logBodies: ["payment declined", "order failed", "client finished"])
        }
    }
}

@main
struct SwiftSDKClient {
    static func main() async {
        do {
            try await run()
        } catch {
            FileHandle.standardError.write(Data("swift-sdk-client: \(error)\n".utf8))
            exit(1)
        }
    }

    static func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var config = OTel.Configuration.default
        config.serviceName = "swift-sdk-client"  // OTEL_SERVICE_NAME overrides it
        // Short batching delays, so a run takes a second; the graceful shutdown below exports whatever is left.
        config.traces.batchSpanProcessor.scheduleDelay = .milliseconds(200)
        config.logs.batchLogRecordProcessor.scheduleDelay = .milliseconds(200)
        config.metrics.exportInterval = .seconds(60)
        config.diagnosticLogLevel = .warning

        let observability = try OTel.bootstrap(configuration: config)

        let result = ResultBox()
        let work = ClientWork(
            serviceName: environment["OTEL_SERVICE_NAME"] ?? config.serviceName,
            exportProtocol: environment["OTEL_EXPORTER_OTLP_PROTOCOL"] ?? "http/protobuf",
            result: result
        )
        var groupConfig = ServiceGroupConfiguration(
            services: [
                .init(service: observability),
                // When the work is done, shut everything down gracefully: the exporters flush what they hold.
                .init(service: work, successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm],
            logger: Logger(label: "swift-sdk-client.lifecycle", factory: { StreamLogHandler.standardError(label: $0) })
        )
        // Bounded: an exporter that cannot deliver is cancelled rather than holding the process.
        groupConfig.maximumGracefulShutdownDuration = .seconds(30)
        try await ServiceGroup(configuration: groupConfig).run()

        guard let produced = result.produced.withLock({ $0 }) else {
            throw CancellationError()
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        FileHandle.standardOutput.write(try encoder.encode(produced) + Data("\n".utf8))
    }
}
