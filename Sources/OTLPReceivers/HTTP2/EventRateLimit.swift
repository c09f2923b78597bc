import NIOCore

/// Counts events in fixed windows of time: more than `limit` in one window means a client is abusing the
/// connection (swift-nio-http2's limits: 200 resets, stream errors or control frames per 30 seconds).
///
/// Fixed windows let at most twice the limit through across a window's edge, and take no memory per event.
struct EventRateLimit {
    let limit: Int
    let window: TimeAmount
    private var windowStart = NIODeadline.distantPast
    private var count = 0

    init(limit: Int = 200, window: TimeAmount = .seconds(30)) {
        self.limit = limit
        self.window = window
    }

    /// Records one event at `now`; false once the window holds more than `limit`.
    mutating func record(at now: NIODeadline) -> Bool {
        if now - windowStart > window {
            windowStart = now
            count = 0
        }
        count += 1
        return count <= limit
    }
}
