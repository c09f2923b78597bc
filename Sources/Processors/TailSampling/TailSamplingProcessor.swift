import CollectorCore
import Logging
import OTLP
import ServiceLifecycle
import Synchronization

/// The `tail_sampling` processor (traces): buffers each trace's spans for `decision_wait` after its first span,
/// then runs the policies over the whole trace and forwards the spans of sampled traces downstream.
///
/// - `consume` acknowledges once the spans are buffered (as otelcol): spans waiting for a decision are only in
///   memory, and a crash loses them. Late spans of a decided trace follow the decision (decision caches):
///   sampled ones are forwarded inside `consume` (a downstream refusal is returned to the caller), others dropped.
/// - Memory is bounded by `num_traces` and `max_buffered_bytes`: when either is exceeded the oldest pending
///   traces are decided early, inside the `consume` that overflowed.
/// - A decision timer driven by the component clock ticks every second (or every `decision_wait` if shorter).
/// - Spans of decided traces were acknowledged long ago: if downstream refuses them, they are logged and counted
///   (``TailSamplingStatistics/spansLostDownstream``), not retried.
/// - Graceful shutdown decides every pending trace and forwards the sampled ones (or, with
///   `drop_pending_traces_on_shutdown`, forgets them); requests arriving after that are refused as retryable.
public struct TailSamplingProcessor: Processor, TracesConsumer {
    public let config: TailSamplingConfig
    let next: any TracesConsumer
    let clock: any MonotonicClock
    let logger: Logger
    let state: TailSamplingState

    /// Most spans per request sent downstream.
    static let maxSpansPerForward = 8192
    /// Most traces decided per lock acquisition, so that `consume` callers are not held up by a long tick.
    static let decisionsPerLock = 1000

    public init(
        config: TailSamplingConfig, next: any TracesConsumer, clock: any MonotonicClock = SystemClock(),
        logger: Logger = Logger(label: "otelsink.tail_sampling")
    ) {
        self.config = config
        self.next = next
        self.clock = clock
        self.logger = logger
        self.state = TailSamplingState(TailTraceBuffer(config: config))
    }

    public var consumers: SignalConsumers { SignalConsumers(traces: self) }

    /// Counters: pending traces and bytes, decisions, late spans, losses.
    public var statistics: TailSamplingStatistics { state.buffer.withLock { $0.stats } }

    public func consume(_ traces: ExportTraceRequest) async throws {
        var arrivals = Self.groupByTrace(traces, checks: state.checks)
        if arrivals.isEmpty { return }
        let now = clock.now
        let result = state.buffer.withLock { buffer -> (late: [ResourceSpans], evicted: [ResourceSpans])? in
            if buffer.shuttingDown { return nil }
            return buffer.add(&arrivals, now: now)
        }
        guard let result else { throw PipelineError.retryable("tail_sampling is shutting down") }
        if !result.evicted.isEmpty { await forwardDecided(result.evicted) }
        if !result.late.isEmpty {
            for request in Self.requests(from: result.late) { try await next.consume(request) }
        }
    }

    public func run() async throws {
        await decisionLoop()
        await finish()
    }

    /// Ticks until graceful shutdown (or cancellation), deciding due traces. Only the sleep is cancelled on
    /// shutdown, never a forward in progress.
    func decisionLoop() async {
        let tick = min(Duration.seconds(1), config.decisionWait)
        var deadline = clock.now + tick
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { [clock, deadline] in try await clock.sleep(until: deadline) }
            } catch {
                return
            }
            await decideDue()
            deadline = max(deadline + tick, clock.now)
        }
    }

    /// Decides and forwards every trace whose decision time has come.
    func decideDue() async {
        while true {
            let now = clock.now
            let (sampled, more) = state.buffer.withLock { $0.decideDue(now: now, limit: Self.decisionsPerLock) }
            if !sampled.isEmpty { await forwardDecided(sampled) }
            if !more { return }
        }
    }

    /// Shutdown: stop accepting, then decide (or drop) everything pending.
    func finish() async {
        let drop = config.dropPendingTracesOnShutdown
        state.buffer.withLock { buffer in
            buffer.shuttingDown = true
            if drop { buffer.dropAllPending() }
        }
        while true {
            let now = clock.now
            let (sampled, more) = state.buffer.withLock { $0.decideOldest(now: now, limit: Self.decisionsPerLock) }
            if !sampled.isEmpty { await forwardDecided(sampled) }
            if !more { break }
        }
        let stats = statistics
        logger.debug(
            "tail_sampling stopped",
            metadata: [
                "sampled": "\(stats.tracesSampled)", "not_sampled": "\(stats.tracesNotSampled)",
                "dropped_on_shutdown": "\(stats.pendingTracesDroppedOnShutdown)", "lost_downstream": "\(stats.spansLostDownstream)",
            ])
    }

    /// Sends spans of decided (already acknowledged) traces downstream; a refusal is logged and counted.
    private func forwardDecided(_ fragments: [ResourceSpans]) async {
        for request in Self.requests(from: fragments) {
            do {
                try await next.consume(request)
            } catch {
                let spans = request.spanCount
                state.buffer.withLock { $0.recordLostDownstream(spans) }
                logger.warning(
                    "tail_sampling: downstream refused sampled spans; they are lost",
                    metadata: [
                        "spans": "\(spans)", "error": "\(PipelineError.classify(error))",
                    ])
            }
        }
    }

    /// Packs fragments into requests of at most ``maxSpansPerForward`` spans (a fragment is never split).
    static func requests(from fragments: [ResourceSpans]) -> [ExportTraceRequest] {
        var out: [ExportTraceRequest] = []
        var current = ExportTraceRequest()
        var spans = 0
        for fragment in fragments {
            let n = fragment.scopeSpans.reduce(0) { $0 + $1.spans.count }
            if spans > 0 && spans + n > maxSpansPerForward {
                out.append(current)
                current = ExportTraceRequest()
                spans = 0
            }
            current.resourceSpans.append(fragment)
            spans += n
        }
        if spans > 0 || !current.resourceSpans.isEmpty { out.append(current) }
        return out
    }

    /// Splits a request into one fragment per trace per resource, keeping resources and scopes, and runs the
    /// policies' per-span checks on each span (and resource) while it is at hand.
    ///
    /// Each scope is walked twice: first to find each span's trace (estimating its size and running the checks),
    /// then to append the spans to lists allocated at their final size.
    static func groupByTrace(_ request: ExportTraceRequest, checks: TailSpanChecks) -> [TailTraceBuffer.Arrival] {
        var arrivals: [TailTraceBuffer.Arrival] = []
        var scopeMarkers: [Int] = []  // per arrival: the scope (numbered across the request) its last span came from
        var scopeCounts: [Int] = []  // per arrival: its spans in the current scope
        var spanArrivals: [Int] = []  // per span of the current scope: its arrival
        var index: [TailTraceKey: Int] = [:]  // a resource's arrivals by trace, once there are many
        var scopeNumber = 0
        let resourceChecks = checks.hasAttributeChecks
        for rs in request.resourceSpans {
            let resourceStart = arrivals.count
            var indexed = false
            var shell = rs
            shell.scopeSpans = []
            let resourceBytes = TailSamplingSizeEstimate.of(rs)
            let resourceFacts = TailTraceFacts(matches: resourceChecks ? checks.resourceMatches(rs) : TailPolicyMatches())
            for ss in rs.scopeSpans {
                scopeNumber += 1
                let spans = ss.spans
                spanArrivals.removeAll(keepingCapacity: true)
                spanArrivals.reserveCapacity(spans.count)
                var lastKey: TailTraceKey?
                var lastArrival = -1
                for span in spans {
                    let key = TailTraceKey(span.traceID)
                    if key != lastKey {
                        lastArrival = -1
                        if indexed {
                            lastArrival = index[key] ?? -1
                        } else if let j = arrivals[resourceStart...].firstIndex(where: { $0.key == key }) {
                            lastArrival = j
                        }
                        if lastArrival < 0 {
                            lastArrival = arrivals.count
                            arrivals.append(
                                TailTraceBuffer.Arrival(key: key, fragment: shell, spanCount: 0, bytes: resourceBytes, facts: resourceFacts))
                            scopeMarkers.append(0)
                            scopeCounts.append(0)
                            if indexed {
                                index[key] = lastArrival
                            } else if arrivals.count - resourceStart > 16 {
                                // Past a few traces, a linear search costs more than hashing.
                                index.removeAll(keepingCapacity: true)
                                for j in resourceStart..<arrivals.count { index[arrivals[j].key] = j }
                                indexed = true
                            }
                        }
                        lastKey = key
                    }
                    let a = lastArrival
                    spanArrivals.append(a)
                    scopeCounts[a] += 1
                    let bytes = TailSamplingSizeEstimate.of(span)
                    arrivals[a].spanCount += 1
                    arrivals[a].bytes += bytes
                    checks.observe(span, into: &arrivals[a].facts)
                }
                var scopeShell = ss
                scopeShell.spans = []
                for i in spans.indices {
                    let a = spanArrivals[i]
                    if scopeMarkers[a] != scopeNumber {
                        scopeMarkers[a] = scopeNumber
                        var scope = scopeShell
                        scope.spans.reserveCapacity(scopeCounts[a])
                        scopeCounts[a] = 0
                        arrivals[a].fragment.scopeSpans.append(scope)
                    }
                    arrivals[a].fragment.scopeSpans[arrivals[a].fragment.scopeSpans.count - 1].spans.append(spans[i])
                }
            }
        }
        return arrivals
    }
}

/// The processor's mutable state, shared by `consume` callers and the decision timer.
final class TailSamplingState: Sendable {
    let buffer: Mutex<TailTraceBuffer>
    /// The policies' per-span checks, run as spans arrive (outside the lock).
    let checks: TailSpanChecks
    init(_ buffer: sending TailTraceBuffer) {
        checks = buffer.checks
        self.buffer = Mutex(buffer)
    }
}

/// Registers `tail_sampling`.
public struct TailSamplingProcessorFactory: ProcessorFactory {
    public init() {}
    public var type: String { "tail_sampling" }
    public var kind: ComponentKind { .processor }
    public var signals: Set<Signal> { [.traces] }
    public var summary: String { "buffers traces for decision_wait, then keeps those its policies select (traces)" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { TailSamplingConfig(reading: reader) }

    public func makeProcessor(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Processor {
        let config = try config.as(TailSamplingConfig.self, for: type)
        guard let traces = next.traces else { throw PipelineError.permanent("tail_sampling: no traces consumer downstream") }
        if config.policies.isEmpty {
            context.logger.warning("tail_sampling has no policies: every trace will be dropped (as in otelcol)")
        }
        return TailSamplingProcessor(config: config, next: traces, clock: context.clock, logger: context.logger)
    }
}
