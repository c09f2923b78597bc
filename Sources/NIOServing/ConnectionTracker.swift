import NIOCore
import Synchronization

/// The open connections of a SwiftNIO server: bounded in number, and closed in order on graceful shutdown (requests
/// in flight finish first).
public final class ConnectionTracker: Sendable {
    private let open = Mutex<[ObjectIdentifier: any Channel]>([:])

    public init() {}

    /// Tracks `channel` until it closes, unless `limit` connections are open already (then false).
    public func admit(_ channel: any Channel, limit: Int = .max) -> Bool {
        let id = ObjectIdentifier(channel)
        let admitted = open.withLock { o in
            guard o.count < limit else { return false }
            o[id] = channel
            return true
        }
        guard admitted else { return false }
        channel.closeFuture.whenComplete { [weak self] _ in
            self?.open.withLock { _ = $0.removeValue(forKey: id) }
        }
        return true
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
