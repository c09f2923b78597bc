import CollectorCore

/// `sending_queue`, with otelcol's keys and defaults (exporterhelper).
public struct SendingQueueSettings: Sendable, Equatable {
    /// What `queue_size` counts.
    public enum Sizer: String, Sendable, Equatable { case requests, items, bytes }

    public var enabled = true
    public var numConsumers = 10
    public var queueSize = 1000
    public var sizer = Sizer.requests
    /// When full: wait for room (true) or refuse at once with a retryable error (false).
    public var blockOnOverflow = false
    /// Answer the caller only once its data was delivered (or dropped), instead of when it was queued.
    public var waitForResult = false
    /// The storage extension that holds the queue on disk (`file_storage`); nil keeps it in memory.
    public var storage: ComponentID?

    public init() {}

    public init(reading r: ConfigReader) {
        enabled = r.bool("enabled", default: enabled)
        numConsumers = r.int("num_consumers", default: numConsumers, range: 1...1000)
        queueSize = r.int("queue_size", default: queueSize, range: 1...(1 << 40))
        let sizerText = r.string("sizer", default: sizer.rawValue)
        if let s = Sizer(rawValue: sizerText) { sizer = s } else { r.report("sizer", "expected requests, items or bytes; got \"\(sizerText)\"") }
        blockOnOverflow = r.bool("block_on_overflow", default: blockOnOverflow)
        waitForResult = r.bool("wait_for_result", default: waitForResult)
        storage = r.storageReference("storage")
    }
}
