import ArgumentParser
import Foundation

/// A span of time on the command line: `30s`, `500ms`, `2m`, `1.5s`, `250us`; a bare number is seconds.
struct DurationArg: ExpressibleByArgument, CustomStringConvertible, Sendable {
    var nanoseconds: Int64

    init(seconds: Double) { nanoseconds = Int64(seconds * 1e9) }

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
        var number = Substring(text)
        var scale = 1e9
        for (suffix, s) in units where text.hasSuffix(suffix) {
            number = text.dropLast(suffix.count)
            scale = s
            break
        }
        guard let v = Double(number), v >= 0, v.isFinite else { return nil }
        nanoseconds = Int64(v * scale)
    }

    var seconds: Double { Double(nanoseconds) / 1e9 }
    var duration: Duration { .nanoseconds(nanoseconds) }
    var description: String {
        if nanoseconds % 1_000_000_000 == 0 { return "\(nanoseconds / 1_000_000_000)s" }
        if nanoseconds % 1_000_000 == 0 { return "\(nanoseconds / 1_000_000)ms" }
        return "\(seconds)s"
    }
    var defaultValueDescription: String { description }
}

enum TransportProtocol: String, ExpressibleByArgument, CaseIterable, Sendable {
    case grpc
    case http
}

/// `host:port`, `[v6]:port`, or with an `http://` prefix (ignored; plaintext only).
struct Endpoint: Sendable, CustomStringConvertible {
    var host: String
    var port: Int

    static func parse(_ text: String) -> Endpoint? {
        var t = Substring(text)
        for scheme in ["http://", "grpc://", "dns:///", "ipv4:"] where t.hasPrefix(scheme) { t = t.dropFirst(scheme.count) }
        if let slash = t.firstIndex(of: "/") { t = t[..<slash] }
        if t.hasPrefix("["), let close = t.firstIndex(of: "]") {
            let host = t[t.index(after: t.startIndex)..<close]
            let rest = t[t.index(after: close)...]
            guard rest.hasPrefix(":"), let port = Int(rest.dropFirst()), (1...65535).contains(port) else { return nil }
            return Endpoint(host: String(host), port: port)
        }
        guard let colon = t.lastIndex(of: ":"), let port = Int(t[t.index(after: colon)...]),
            (1...65535).contains(port), colon != t.startIndex
        else { return nil }
        return Endpoint(host: String(t[..<colon]), port: port)
    }

    var isIPv4Literal: Bool {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { UInt8($0) != nil }
    }
    var isIPv6Literal: Bool { host.contains(":") }

    var description: String { isIPv6Literal ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Which OTLP signal the load generator sends.
enum WorkloadSignal: String, ExpressibleByArgument, CaseIterable, Sendable {
    case traces
    case logs
    case metrics

    /// Items (spans, log records or data points) per request.
    var itemsPerRequest: Int { self == .metrics ? PayloadTemplate.pointsPerRequest : PayloadTemplate.spansPerRequest }

    /// The OTLP/HTTP path of the signal.
    var httpPath: String {
        switch self {
        case .traces: "/v1/traces"
        case .logs: "/v1/logs"
        case .metrics: "/v1/metrics"
        }
    }
}
