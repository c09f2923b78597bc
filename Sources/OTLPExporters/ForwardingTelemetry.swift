import CollectorCore

/// A forwarding exporter's self-telemetry, with otelcol's names: what went upstream (`sent`), what the upstream
/// refused or was given up on (`send_failed`), what the queue refused (`enqueue_failed`), per signal; and the
/// queues' size and capacity.
struct ForwardingTelemetry: Sendable {
    private let enqueueFailed: [Signal: TelemetryCounter]
    private let dropped: [Signal: TelemetryCounter]
    private let delivery: [Signal: PipelineTelemetry.ExporterCounters]
    let registry: TelemetryRegistry
    let exporter: ComponentID

    init(context: ComponentContext) {
        registry = context.telemetry
        exporter = context.id
        let labels: TelemetryLabels = ["exporter": context.id.description]
        var enqueueFailed: [Signal: TelemetryCounter] = [:]
        var dropped: [Signal: TelemetryCounter] = [:]
        var delivery: [Signal: PipelineTelemetry.ExporterCounters] = [:]
        for (signal, noun) in [(Signal.traces, "spans"), (.metrics, "metric_points"), (.logs, "log_records")] {
            enqueueFailed[signal] = context.telemetry.counter(
                "otelcol_exporter_enqueue_failed_\(noun)_total", help: "Number of \(noun) failed to be added to the sending queue.", labels: labels)
            dropped[signal] = context.telemetry.counter(
                "otelsink_exporter_dropped_\(noun)_total", help: "Number of \(noun) given up on after the queue: refused for good or out of retries.",
                labels: labels)
            delivery[signal] = PipelineTelemetry.ExporterCounters(registry: context.telemetry, exporter: context.id, signal: signal)
        }
        self.enqueueFailed = enqueueFailed
        self.dropped = dropped
        self.delivery = delivery
    }

    /// Counts a request's end: sent is what the upstream accepted; send_failed what it refused (partially or for
    /// good) or was given up on.
    func record(_ report: DeliveryReport) {
        switch report.outcome {
        case .delivered:
            let rejected = Int(clamping: min(Int64(report.items), max(0, report.rejected)))
            delivery[report.signal]?.sent.add(report.items - rejected)
            delivery[report.signal]?.failed.add(rejected)
        case .dropped:
            delivery[report.signal]?.failed.add(report.items)
            dropped[report.signal]?.add(report.items)
        case .kept:
            break
        }
    }

    func recordEnqueueFailed(_ signal: Signal, items: Int) {
        enqueueFailed[signal]?.add(items)
    }

    /// Registers the queue gauges (and the circuit state), read through `queue()` so a replaced queue is followed;
    /// `extraLabels` tells apart the queues of one exporter (a load balancer's backends).
    func registerQueueGauges(extraLabels: [String: String] = [:], breakerEnabled: Bool, queue: @escaping @Sendable () -> SendingQueue?) {
        let labels = TelemetryLabels(extraLabels.merging(["exporter": exporter.description]) { _, ours in ours })
        registry.gauge("otelcol_exporter_queue_size", help: "Current size of the retry queue (in sizer units).", labels: labels) {
            Double(queue()?.size ?? 0)
        }
        registry.gauge("otelcol_exporter_queue_capacity", help: "Fixed capacity of the retry queue (in sizer units).", labels: labels) {
            Double(queue()?.capacity ?? 0)
        }
        if breakerEnabled {
            registry.gauge(
                "otelsink_exporter_circuit_state", help: "The upstream's circuit breaker: 0 closed, 1 half-open, 2 open.",
                labels: labels
            ) { queue()?.breaker.state.gaugeValue ?? 0 }
        }
    }
}
