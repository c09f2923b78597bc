import CollectorCore
import ServiceLifecycle

/// A processor that handles each batch inside `consume`, with no background work and nothing buffered: it lives
/// until graceful shutdown and has nothing to flush. Attribute edits, filters and the probabilistic sampler are this.
public protocol StatelessProcessor: Processor {}

extension StatelessProcessor {
    public func run() async throws {
        try? await gracefulShutdown()
    }
}
