import CollectorCore
import Dispatch
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOServing
import Synchronization

/// The query API's HTTP/1.1 listener (SwiftNIO; see docs/architecture.md for why not Hummingbird): one request at a
/// time per connection, answered through the router; a connection idle past `idle_timeout` is closed.
enum QueryHTTPServer {
    /// An answer this large (gzipped: a trace of a few thousand spans; a big diff) leaves many times its size freed
    /// but held by the allocator (the decoded trace, the JSON, its copy for the socket): that memory is handed back
    /// to the system once large answers stop for ``quietPeriod``.
    static let largeAnswer = 256 << 10
    /// How long after the last large answer freed memory is handed back. Not after each one: the next would fault
    /// the same pages in again (a dashboard or a script asks for several large traces back to back).
    static let quietPeriod: UInt64 = 1_000_000_000
    /// Whether a return of freed memory is scheduled (one at a time, whatever the number of large answers).
    private static let returnQueued = Atomic<Bool>(false)
    /// When the last large answer was written (`DispatchTime` nanoseconds).
    private static let lastLargeAnswer = Atomic<UInt64>(0)

    /// Hands freed memory back to the system off the event loop, once large answers have stopped for
    /// ``quietPeriod``; at most one return scheduled at a time.
    @Sendable static func returnFreedMemory() {
        lastLargeAnswer.store(DispatchTime.now().uptimeNanoseconds, ordering: .releasing)
        guard returnQueued.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        scheduleReturn(in: quietPeriod)
    }

    private static func scheduleReturn(in nanoseconds: UInt64) {
        DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + .nanoseconds(Int(min(nanoseconds, quietPeriod)))) {
            let last = lastLargeAnswer.load(ordering: .acquiring)
            let since = DispatchTime.now().uptimeNanoseconds &- last
            if since < quietPeriod { return scheduleReturn(in: quietPeriod - since) }
            returnQueued.store(false, ordering: .releasing)
            FreedMemory.returnToSystem()
            // A large answer written meanwhile found a return scheduled and left it to this one: schedule its own.
            if lastLargeAnswer.load(ordering: .acquiring) != last,
                returnQueued.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
            {
                scheduleReturn(in: quietPeriod)
            }
        }
    }

    /// Requests in flight get 5 s to finish on shutdown. `group`: the query API's own event loops, never the
    /// receivers' (point reads block them while they read the database; see ``QueryRouter/isPointRead(_:)``).
    static func bind(
        endpoint: ListenEndpoint, router: QueryRouter, options: ListenerOptions, group: MultiThreadedEventLoopGroup, logger: Logger
    ) async throws -> TCPServer {
        try await TCPServer.bind(
            host: endpoint.host, port: endpoint.port, drainGrace: .seconds(5), options: options, logger: logger, group: group
        ) { channel in
            try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: options.idleTimeout))
            try channel.pipeline.syncOperations.configureBoundedHTTPServerPipeline(writeTimeout: options.writeTimeout)
            let loop: any TaskExecutor = EventLoopTaskExecutor(channel.eventLoop)
            let executor: @Sendable (HTTPRequestHead) -> (any TaskExecutor)? = {
                QueryRouter.isPointRead($0.uri) ? loop : TraceQueryService.executor
            }
            try channel.pipeline.syncOperations.addHandler(
                HTTPRequestResponder(executorFor: executor) { head in
                    let credentials = router.authenticator.flatMap { head.headers.first(name: $0.headerName) }
                    // The headers the router reads: Loki's encoding flags, compression, the UI's cache validators,
                    // and whether a script asks.
                    let passed = head.headers.filter {
                        ["x-loki-response-encoding-flags", "accept-encoding", "if-none-match", "x-requested-with"].contains($0.name.lowercased())
                    }
                    // The task runs on a thread there for blocking reads (the connection's loop or the query
                    // queue): reads need no further hand-off.
                    let r = await TraceQueryService.$readsInPlace.withValue(true) {
                        await router.handle(method: head.method, uri: head.uri, credentials: credentials, headers: passed)
                    }
                    return HTTPAnswer(
                        status: r.status, contentType: r.contentType, headers: r.headers, body: r.body,
                        afterWrite: r.body.count >= largeAnswer ? returnFreedMemory : nil)
                })
        }
    }
}
