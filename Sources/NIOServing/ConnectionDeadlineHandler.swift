import NIOCore

/// Deadlines of one connection that more bytes do not push back, so a client sending a byte at a time (slowloris)
/// cannot hold it open.
///
/// - From the moment the connection opens, its first request head (or its HTTP/2 preface, TLS handshake included)
///   must arrive within the header timeout.
/// - With no request in progress, the connection is idle: after the idle timeout it is asked to quiesce
///   (`ChannelShouldQuiesceEvent`: HTTP/1.1 closes, gRPC sends GOAWAY) and closed shortly after.
/// - On an HTTP/1.1 connection, the first byte after an idle period starts the header timeout for the next request
///   head, without extending the idle deadline already running.
///
/// It sits at the front of the pipeline and learns of request boundaries from ``ConnectionActivity`` events.
public final class ConnectionDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = NIOAny
    public typealias InboundOut = NIOAny
    public typealias OutboundIn = NIOAny
    public typealias OutboundOut = NIOAny

    private enum Waiting { case none, header, idle }

    private let headerTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var inFlight = 0
    private var multiplexed = false
    private var waiting = Waiting.none
    private var deadline = NIODeadline.distantFuture
    private var timer: Scheduled<Void>?
    /// When ``timer`` fires (it may be earlier than ``deadline``).
    private var timerDue = NIODeadline.distantFuture
    private var started = false

    public init(headerTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    private func start(context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        arm(.header, at: context.eventLoop.now + headerTimeout, context: context)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if waiting == .idle && inFlight == 0 && !multiplexed {
            // The start of the next request head: it must be complete within the header timeout (or by the idle
            // deadline, if that comes first).
            arm(.header, at: min(deadline, context.eventLoop.now + headerTimeout), context: context)
        }
        context.fireChannelRead(data)
    }

    public func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let activity = event as? ConnectionActivity else {
            return context.triggerUserOutboundEvent(event, promise: promise)
        }
        switch activity {
        case .requestStarted:
            inFlight += 1
            disarm()
        case .requestFinished:
            inFlight = max(0, inFlight - 1)
            if inFlight == 0 { arm(.idle, at: context.eventLoop.now + idleTimeout, context: context) }
        case .sessionEstablished:
            multiplexed = true
            if inFlight == 0 { arm(.idle, at: context.eventLoop.now + idleTimeout, context: context) }
        }
        promise?.succeed()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) { stop() }

    private func stop() {
        disarm()
        timer?.cancel()
        timer = nil
    }

    /// Nothing to wait for. The timer is left to run out (it finds nothing to do then): cancelling and scheduling
    /// one for every request costs more than one spare wake-up per idle timeout.
    private func disarm() {
        waiting = .none
        deadline = .distantFuture
    }

    /// Waits for `kind` until `when`. A timer already due no later than `when` is kept and looks again when it
    /// fires; only an earlier deadline replaces it.
    private func arm(_ kind: Waiting, at when: NIODeadline, context: ChannelHandlerContext) {
        waiting = kind
        deadline = when
        if timer != nil && timerDue <= when { return }
        timer?.cancel()
        schedule(at: when, context: context)
    }

    private func schedule(at when: NIODeadline, context: ChannelHandlerContext) {
        timerDue = when
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: when) { [weak self] in
            self?.fired(context: context)
        }
    }

    private func fired(context: ChannelHandlerContext) {
        timer = nil
        guard waiting != .none else { return }
        if deadline > context.eventLoop.now {
            schedule(at: deadline, context: context)
        } else {
            expired(waiting, context: context)
        }
    }

    private func expired(_ kind: Waiting, context: ChannelHandlerContext) {
        switch kind {
        case .header, .none:
            context.close(promise: nil)
        case .idle:
            // Let the protocol end the connection politely, then make sure it ends.
            context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
            let channel = context.channel
            context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        }
    }
}
