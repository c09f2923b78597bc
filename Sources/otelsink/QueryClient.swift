import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A minimal HTTP/1.1 GET client for the CLI's `--endpoint` mode (one request per connection).
public struct QueryClient: Sendable {
    /// `http://host:port`, as the user gave it (for messages).
    public let endpoint: String
    let host: String
    let port: Int
    let basePath: String

    public enum ClientError: Error, CustomStringConvertible {
        case badEndpoint(String)
        case unreachable(String, String)
        case timeout(String)
        case badResponse(String)

        public var description: String {
            switch self {
            case .badEndpoint(let e): "invalid endpoint \"\(e)\": expected http://host:port"
            case .unreachable(let e, let why): "cannot reach the otelsink query API at \(e): \(why)"
            case .timeout(let e): "no answer from the otelsink query API at \(e) within 30 s"
            case .badResponse(let why): "unexpected answer from the query API: \(why)"
            }
        }
    }

    public init(endpoint: String) throws(ClientError) {
        self.endpoint = endpoint
        var rest = Substring(endpoint)
        if rest.hasPrefix("http://") {
            rest = rest.dropFirst(7)
        } else if rest.contains("://") {
            throw .badEndpoint(endpoint)
        }
        let hostPort = rest.prefix { $0 != "/" }
        basePath = String(rest.dropFirst(hostPort.count)).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw .badEndpoint(endpoint) }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            port = after.hasPrefix(":") ? Int(after.dropFirst()) ?? -1 : 80
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<colon])
            port = Int(hostPort[hostPort.index(after: colon)...]) ?? -1
        } else {
            host = String(hostPort)
            port = 80
        }
        guard !host.isEmpty, (1...65535).contains(port) else { throw .badEndpoint(endpoint) }
    }

    /// GETs `pathAndQuery` (starting with `/`); returns the status code and body.
    public func get(_ pathAndQuery: String) async throws(ClientError) -> (status: Int, body: Data) {
        let collector = ResponseCollector()
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(ResponseHandler(collector: collector))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            throw .unreachable(endpoint, Self.reason(error))
        }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(host):\(port)")
        headers.add(name: "Accept", value: "application/json")
        headers.add(name: "Connection", value: "close")
        let uri = basePath.isEmpty ? pathAndQuery : "/" + basePath + pathAndQuery
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let timeout = channel.eventLoop.scheduleTask(in: .seconds(30)) {
            collector.fail(.timeout(endpoint))
            channel.close(promise: nil)
        }
        defer { timeout.cancel() }
        let result = await collector.result()
        channel.close(promise: nil)
        switch result {
        case .success(let r): return r
        case .failure(let e): throw e
        }
    }

    static func reason(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("connectionRefused") || text.contains("Connection refused") || text.contains("ECONNREFUSED") {
            return "connection refused (is `otelsink serve` running with the query extension?)"
        }
        return text
    }
}

typealias ClientResult = Result<(status: Int, body: Data), QueryClient.ClientError>

/// Gathers one response, completed once.
final class ResponseCollector: Sendable {
    private struct State {
        var result: ClientResult?
        var waiter: CheckedContinuation<ClientResult, Never>?
    }
    private let state = Mutex(State())

    func finish(_ r: ClientResult) {
        let waiter: CheckedContinuation<ClientResult, Never>? = state.withLock { s in
            guard s.result == nil else { return nil }
            s.result = r
            let w = s.waiter
            s.waiter = nil
            return w
        }
        waiter?.resume(returning: r)
    }

    func fail(_ e: QueryClient.ClientError) { finish(.failure(e)) }

    func result() async -> ClientResult {
        await withCheckedContinuation { (c: CheckedContinuation<ClientResult, Never>) in
            let ready: ClientResult? = state.withLock { s in
                if let r = s.result { return r }
                s.waiter = c
                return nil
            }
            if let ready { c.resume(returning: ready) }
        }
    }
}

final class ResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    private let collector: ResponseCollector
    private var status = 0
    private var body = Data()

    init(collector: ResponseCollector) { self.collector = collector }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): status = Int(h.status.code)
        case .body(var b):
            if let bytes = b.readBytes(length: b.readableBytes) { body.append(contentsOf: bytes) }
        case .end: collector.finish(.success((status, body)))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        collector.fail(.badResponse("the connection closed before the response was complete"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        collector.fail(.badResponse("\(error)"))
        context.close(promise: nil)
    }
}
