import CollectorCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOServing
import Synchronization

/// The query API's HTTP/1.1 listener (SwiftNIO; see docs/architecture.md for why not Hummingbird): one request at a
/// time per connection, answered through the router; a connection idle past `idle_timeout` is closed.
enum QueryHTTPServer {
    /// Requests in flight get 5 s to finish on shutdown.
    static func bind(endpoint: ListenEndpoint, router: QueryRouter, options: ListenerOptions, logger: Logger) async throws -> TCPServer {
        try await TCPServer.bind(host: endpoint.host, port: endpoint.port, drainGrace: .seconds(5), options: options, logger: logger) { channel in
            try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: options.idleTimeout))
            try channel.pipeline.syncOperations.configureBoundedHTTPServerPipeline(writeTimeout: options.writeTimeout)
            try channel.pipeline.syncOperations.addHandler(
                HTTPRequestResponder { head in
                    let credentials = router.authenticator.flatMap { head.headers.first(name: $0.headerName) }
                    // The headers the router reads: Loki's encoding flags, compression, the UI's cache validators,
                    // and whether a script asks.
                    let passed = head.headers.filter {
                        ["x-loki-response-encoding-flags", "accept-encoding", "if-none-match", "x-requested-with"].contains($0.name.lowercased())
                    }
                    let r = await router.handle(method: head.method, uri: head.uri, credentials: credentials, headers: passed)
                    return HTTPAnswer(status: r.status, contentType: r.contentType, headers: r.headers, body: r.body)
                })
        }
    }
}
