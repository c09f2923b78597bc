import NIOCore
import Synchronization

/// The open connections of a SwiftNIO server, so a graceful shutdown can let requests in flight finish and then
/// close what is left. Shared by otelsink's HTTP servers (OTLP/HTTP receiver, query API).
public final class ConnectionTracker: Sendable {
    private let open = Mutex<[ObjectIdentifier: any Channel]>([:])

    public init() {}

    /// Tracks `channel` until it closes.
    public func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        open.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { [weak self] _ in
            self?.open.withLock { _ = $0.removeValue(forKey: id) }
        }
    }

    /// Asks every connection to quiesce (NIO's HTTP/1 server closes an idle keep-alive connection then, and lets a
    /// request in flight finish), waits up to `grace` for them to close, then closes whatever is left.
    public func closeAll(after grace: Duration) async {
        let deadline = ContinuousClock.now + grace
        for c in open.withLock({ Array($0.values) }) { c.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        while ContinuousClock.now < deadline, !open.withLock({ $0.isEmpty }) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        for c in open.withLock({ Array($0.values) }) { c.close(promise: nil) }
    }
}
