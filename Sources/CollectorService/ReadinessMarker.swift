import CollectorCore
import ServiceLifecycle

/// Moves ``CollectorStatus`` forward: `ready` once every receiver has announced the address it listens on,
/// `stopping` when graceful shutdown begins. It runs last in the service group, so it is told of a shutdown first,
/// before receivers stop taking data.
struct ReadinessMarker: Service {
    let status: CollectorStatus
    let listening: ListeningAddresses
    let receivers: [ComponentID]

    func run() async throws {
        await withGracefulShutdownHandler {
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                if receivers.allSatisfy({ listening.isListening(component: $0) }) {
                    status.markReady()
                    break
                }
                try? await Task.sleep(for: .milliseconds(10))
            }
            try? await gracefulShutdown()
        } onGracefulShutdown: {
            status.markStopping()
        }
        status.markStopping()
    }
}
