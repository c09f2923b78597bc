/// What a protocol handler tells ``ConnectionDeadlineHandler`` (with `triggerUserOutboundEvent`, which travels to
/// the front of the pipeline) about where its connection stands between requests.
public enum ConnectionActivity: Sendable {
    /// A request head arrived (HTTP/1.1), or a stream opened (HTTP/2).
    case requestStarted
    /// A response went out in full, or a stream closed.
    case requestFinished
    /// An HTTP/2 connection is past its preface: from now on bytes that arrive between requests (PING, SETTINGS,
    /// WINDOW_UPDATE) are not the start of a request head.
    case sessionEstablished
}
