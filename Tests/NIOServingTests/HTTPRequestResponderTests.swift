import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOServing
import Testing

@Suite("HTTPRequestResponder")
struct HTTPRequestResponderTests {
    /// A server whose answers say whether they were computed on the connection's event loop: `/loop` is given
    /// that loop's executor, anything else none (Swift's global executor).
    func withServer(_ body: (Int) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let server = try await TCPServer.bind(
            host: "127.0.0.1", port: 0, drainGrace: .seconds(1), options: ListenerOptions(maxConnections: 8),
            logger: Logger(label: "test"), group: group
        ) { channel in
            try channel.pipeline.syncOperations.configureBoundedHTTPServerPipeline(writeTimeout: .seconds(10))
            let loop = channel.eventLoop
            let executor = EventLoopTaskExecutor(loop)
            try channel.pipeline.syncOperations.addHandler(
                HTTPRequestResponder(executorFor: { $0.uri == "/loop" ? executor : nil }) { _ in
                    .text(.ok, loop.inEventLoop ? "on the connection's loop" : "elsewhere")
                })
        }
        do {
            let port = try #require(Int(server.localAddress.split(separator: ":").last ?? ""))
            try await body(port)
        } catch {
            server.beginGracefulShutdown()
            await server.drain()
            try await group.shutdownGracefully()
            throw error
        }
        server.beginGracefulShutdown()
        await server.drain()
        try await group.shutdownGracefully()
    }

    /// The bodies of GET answers to `paths`, sent one after another on one keep-alive connection.
    func get(port: Int, _ paths: [String]) async throws -> [String] {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var bodies: [String] = []
            var responses = inbound.makeAsyncIterator()
            for path in paths {
                var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
                head.headers.add(name: "Host", value: "127.0.0.1")
                try await outbound.write(.head(head))
                try await outbound.write(.end(nil))
                var body = ""
                answer: while let part = try await responses.next() {
                    switch part {
                    case .head(let h): #expect(h.status == .ok)
                    case .body(let b): body += String(buffer: b)
                    case .end: break answer
                    }
                }
                bodies.append(body)
            }
            return bodies
        }
    }

    @Test func aRequestGivenItsConnectionsLoopIsAnsweredThereAndOthersOnTheExecutorChosenForThem() async throws {
        try await withServer { port in
            let bodies = try await get(port: port, ["/loop", "/other", "/loop", "/other"])
            #expect(bodies == ["on the connection's loop\n", "elsewhere\n", "on the connection's loop\n", "elsewhere\n"])
        }
    }
}
