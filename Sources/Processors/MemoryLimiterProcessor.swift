import CollectorCore
import Logging
import OTLP
import ServiceLifecycle
import Synchronization

/// Settings of the `memory_limiter` processor, with otelcol's keys. Limits are resolved to bytes when the config is
/// read (percentages against the cgroup limit or the machine's memory).
public struct MemoryLimiterConfig: ComponentConfig, Equatable {
    /// How often resident memory is measured. Must be above zero (otelcol's rule); otelsink defaults to 1s.
    public var checkInterval: Duration = .seconds(1)
    /// Hard limit in bytes: above it otelsink also returns freed heap to the system.
    public var hardLimitBytes: Int
    /// Room between the soft and hard limits, in bytes; above `hard - spike` data is refused.
    public var spikeLimitBytes: Int

    public var softLimitBytes: Int { hardLimitBytes - spikeLimitBytes }

    /// The hard limit, as a share of available memory, when the config sets neither limit.
    public static let defaultLimitPercentage = 80

    public init(checkInterval: Duration = .seconds(1), hardLimitBytes: Int, spikeLimitBytes: Int? = nil) {
        self.checkInterval = checkInterval
        self.hardLimitBytes = hardLimitBytes
        self.spikeLimitBytes = spikeLimitBytes ?? hardLimitBytes / 5
    }

    /// - Parameter availableBytes: what percentages are taken of (the cgroup limit or machine memory).
    public init(reading r: ConfigReader, availableBytes: Int? = ProcessMemory.availableBytes()) {
        let mib = 1 << 20
        checkInterval = r.duration("check_interval", default: .seconds(1))
        if checkInterval <= .zero {
            r.report("check_interval", "must be greater than zero (otelcol recommends 1s)")
        }
        let limitMiB = r.int("limit_mib", default: 0, range: 0...Int(UInt32.max))
        let spikeMiB = r.int("spike_limit_mib", default: 0, range: 0...Int(UInt32.max))
        let limitPercent = r.int("limit_percentage", default: 0, range: 0...100)
        let spikePercent = r.int("spike_limit_percentage", default: 0, range: 0...100)
        // Go GC pacing knobs: otelsink has no GC to pace; accepted so otelcol configs load unchanged.
        _ = r.duration("min_gc_interval_when_soft_limited", default: .seconds(10))
        _ = r.duration("min_gc_interval_when_hard_limited", default: .zero)

        hardLimitBytes = 0
        spikeLimitBytes = 0
        if limitMiB > 0 {
            if limitPercent > 0 { r.report("limit_percentage", "set either limit_mib or limit_percentage, not both") }
            hardLimitBytes = limitMiB * mib
            if spikeMiB >= limitMiB {
                r.report("spike_limit_mib", "must be smaller than limit_mib (\(limitMiB)), got \(spikeMiB)")
            }
            spikeLimitBytes = spikeMiB > 0 ? spikeMiB * mib : hardLimitBytes / 5
        } else if limitPercent > 0 {
            guard let available = availableBytes else {
                r.report("limit_percentage", "cannot read the cgroup limit or total memory; use limit_mib")
                return
            }
            if spikePercent >= limitPercent {
                r.report("spike_limit_percentage", "must be smaller than limit_percentage (\(limitPercent)), got \(spikePercent)")
            }
            hardLimitBytes = available / 100 * limitPercent
            spikeLimitBytes = spikePercent > 0 ? available / 100 * spikePercent : hardLimitBytes / 5
        } else {
            // Neither limit set: otelsink defaults to 80 % of the available memory (otelcol has no default and
            // refuses to start), so the processor's default config is usable as is.
            guard let available = availableBytes else {
                r.report("limit_mib", "cannot read the cgroup limit or total memory; set limit_mib")
                return
            }
            hardLimitBytes = available / 100 * Self.defaultLimitPercentage
            spikeLimitBytes = spikePercent > 0 ? available / 100 * spikePercent : hardLimitBytes / 5
        }
        if spikeMiB > 0, limitPercent > 0, limitMiB == 0 {
            r.report("spike_limit_mib", "use spike_limit_percentage with limit_percentage")
        }
    }
}

/// The `memory_limiter` processor: measures otelsink's resident memory every `check_interval` and, while it is
/// above the soft limit (hard limit minus spike limit), refuses data with a retryable error, which receivers turn
/// into gRPC `UNAVAILABLE` / HTTP 503 with a retry hint. Above the hard limit it also returns freed heap to the
/// system. It holds no data, so nothing acknowledged is at risk; put it first in a pipeline so refusals happen
/// before anything else allocates.
public final class MemoryLimiterProcessor: Processor, TracesConsumer, MetricsConsumer, LogsConsumer {
    public let config: MemoryLimiterConfig
    private let next: SignalConsumers
    private let clock: any MonotonicClock
    private let logger: Logger
    private let residentBytes: @Sendable () -> Int?
    private let releaseMemory: @Sendable () -> Void
    private let refusing = Atomic<Bool>(false)

    /// - Parameters:
    ///   - residentBytes: how memory is measured (RSS from `/proc` by default; tests substitute their own).
    ///   - releaseMemory: what runs above the hard limit (`malloc_trim` by default).
    public init(
        config: MemoryLimiterConfig, next: SignalConsumers, clock: any MonotonicClock = SystemClock(),
        logger: Logger = Logger(label: "memory_limiter"),
        residentBytes: @escaping @Sendable () -> Int? = ProcessMemory.residentBytes,
        releaseMemory: @escaping @Sendable () -> Void = ProcessMemory.releaseFreeMemory
    ) {
        self.config = config
        self.next = next
        self.clock = clock
        self.logger = logger
        self.residentBytes = residentBytes
        self.releaseMemory = releaseMemory
    }

    public var consumers: SignalConsumers { next.routed(through: self) }

    /// Whether data is being refused now.
    public var isRefusing: Bool { refusing.load(ordering: .relaxed) }

    public func run() async throws {
        checkMemory()
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await self.clock.sleep(for: self.config.checkInterval) } catch { return }
                self.checkMemory()
            }
        }
    }

    /// Measures memory once and updates the refusal state (the periodic check; public for tests and benches).
    public func checkMemory() {
        guard var rss = residentBytes() else { return }
        if rss >= config.hardLimitBytes {
            releaseMemory()
            rss = residentBytes() ?? rss
        }
        let above = rss >= config.softLimitBytes
        let was = refusing.exchange(above, ordering: .relaxed)
        if above, !was {
            logger.warning(
                "memory usage is above the soft limit; refusing data",
                metadata: [
                    "rss_mib": "\(rss >> 20)", "soft_limit_mib": "\(config.softLimitBytes >> 20)",
                    "hard_limit_mib": "\(config.hardLimitBytes >> 20)",
                ])
        } else if !above, was {
            logger.info("memory usage is below the soft limit again; accepting data", metadata: ["rss_mib": "\(rss >> 20)"])
        }
    }

    private func admit() throws {
        if refusing.load(ordering: .relaxed) {
            let hint = max(config.checkInterval, .seconds(1))
            throw PipelineError.retryable("data refused due to high memory usage", after: hint)
        }
    }

    public func consume(_ request: consuming ExportTraceRequest) async throws {
        try admit()
        try await next.traces?.consume(consume request)
    }

    public func consume(_ request: EncodedTraces) async throws {
        try admit()
        try await next.traces?.consume(request)
    }

    public func consume(_ request: consuming ExportMetricsRequest) async throws {
        try admit()
        try await next.metrics?.consume(consume request)
    }

    public func consume(_ request: EncodedMetrics) async throws {
        try admit()
        try await next.metrics?.consume(request)
    }

    public func consume(_ request: consuming ExportLogsRequest) async throws {
        try admit()
        try await next.logs?.consume(consume request)
    }

    public func consume(_ request: EncodedLogs) async throws {
        try admit()
        try await next.logs?.consume(request)
    }
}

public struct MemoryLimiterProcessorFactory: ProcessorFactory {
    public init() {}
    public var type: String { "memory_limiter" }
    public var kind: ComponentKind { .processor }
    public var signals: Set<Signal> { [.traces, .metrics, .logs] }
    public var summary: String { "refuses data (retryably) while resident memory is above the soft limit" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { MemoryLimiterConfig(reading: reader) }

    public func makeProcessor(config: any ComponentConfig, next: SignalConsumers, context: ComponentContext) throws -> any Processor {
        MemoryLimiterProcessor(
            config: try config.as(MemoryLimiterConfig.self, for: "memory_limiter"), next: next,
            clock: context.clock, logger: context.logger)
    }
}
