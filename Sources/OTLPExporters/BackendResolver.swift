import CollectorCore
import Dispatch

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Says which backends the `loadbalancing` exporter sends to, as `host:port` endpoints.
public protocol BackendResolver: Sendable {
    /// The current backends. Throws when it cannot tell (the exporter keeps the backends it had).
    func resolve() async throws -> [String]
    /// How often to ask again; nil for a list that never changes.
    var interval: Duration? { get }
    /// Its name in logs and self-telemetry (`static`, `dns`).
    var name: String { get }
}

/// `resolver.static.hostnames`: a fixed list; a name without a port gets 4317.
public struct StaticResolver: BackendResolver {
    public let endpoints: [String]
    public init(hostnames: [String]) { endpoints = hostnames.map { StaticResolver.withDefaultPort($0, 4317) } }
    public func resolve() async throws -> [String] { endpoints }
    public var interval: Duration? { nil }
    public var name: String { "static" }

    static func withDefaultPort(_ host: String, _ port: Int) -> String {
        if host.hasPrefix("[") { return host.contains("]:") ? host : "\(host):\(port)" }
        let colons = host.filter { $0 == ":" }.count
        if colons == 1 { return host }
        return colons > 1 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// `resolver.dns`: the addresses of `hostname`, each with `port`, looked up every `interval` (each lookup
/// bounded by `timeout`). The lookup is substitutable for tests; by default it is the system's (getaddrinfo).
public struct DNSResolver: BackendResolver {
    public typealias Lookup = @Sendable (String) async throws -> [String]
    public let hostname: String
    public let port: Int
    public let lookupInterval: Duration
    public let timeout: Duration
    let lookup: Lookup

    public init(
        hostname: String, port: Int = 4317, interval: Duration = .seconds(5), timeout: Duration = .seconds(1),
        lookup: @escaping Lookup = DNSResolver.systemLookup
    ) {
        self.hostname = hostname
        self.port = port
        self.lookupInterval = interval
        self.timeout = timeout
        self.lookup = lookup
    }

    public var interval: Duration? { lookupInterval }
    public var name: String { "dns" }

    public func resolve() async throws -> [String] {
        let (hostname, lookup, timeout) = (self.hostname, self.lookup, self.timeout)
        let addresses = try await withThrowingTaskGroup(of: [String]?.self) { group in
            group.addTask { try await lookup(hostname) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let addresses = first else {
                throw PipelineError.retryable("looking up \(hostname) took longer than \(DurationText.format(timeout))")
            }
            return addresses
        }
        let port = self.port
        return Set(addresses).sorted().map { (a: String) -> String in a.contains(":") ? "[\(a)]:\(port)" : "\(a):\(port)" }
    }

    /// The system's lookup (getaddrinfo) on a dispatch thread, so no task thread blocks on it.
    public static let systemLookup: Lookup = { hostname in
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try getAddresses(hostname) })
            }
        }
    }

    struct LookupFailed: Error, CustomStringConvertible {
        var description: String
    }

    static func getAddresses(_ hostname: String) throws -> [String] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(hostname, nil, &hints, &result)
        guard status == 0 else { throw LookupFailed(description: "cannot resolve \(hostname): \(String(cString: gai_strerror(status)))") }
        defer { freeaddrinfo(result) }
        var addresses: [String] = []
        var cursor = result
        while let info = cursor?.pointee {
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
            if info.ai_family == AF_INET, let sa = info.ai_addr {
                var address = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                if inet_ntop(AF_INET, &address, &text, socklen_t(text.count)) != nil {
                    addresses.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
                }
            } else if info.ai_family == AF_INET6, let sa = info.ai_addr {
                var address = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                if inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil {
                    addresses.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
                }
            }
            cursor = info.ai_next
        }
        return addresses
    }
}
