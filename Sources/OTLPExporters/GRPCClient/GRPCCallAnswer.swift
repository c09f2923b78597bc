import Foundation
import OTLP

/// How one unary gRPC call ended: the status (from the trailers, from the HTTP status when there are none, or
/// UNAVAILABLE / DEADLINE_EXCEEDED for a call that never got an answer) and, on success, the response message.
struct GRPCCallAnswer: Sendable, Equatable {
    var status: Int
    var message: String
    /// `grpc-status-details-bin`, decoded: a `google.rpc.Status`.
    var details: [UInt8]?
    /// The response message, without its 5-byte prefix.
    var body: [UInt8] = []

    static func unavailable(_ message: String) -> GRPCCallAnswer { GRPCCallAnswer(status: 14, message: message) }

    /// `RetryInfo.retry_delay` from the status details, when the server attached one.
    var retryDelay: Duration? {
        guard let details, let status = try? Google_Rpc_Status(serializedBytes: details) else { return nil }
        for any in status.details where any.typeURL.hasSuffix("/google.rpc.RetryInfo") {
            guard let info = try? Google_Rpc_RetryInfo(serializedBytes: any.value) else { continue }
            return .seconds(info.retryDelay.seconds) + .nanoseconds(Int64(info.retryDelay.nanos))
        }
        return nil
    }

    /// The gRPC status for an HTTP status that came without `grpc-status` (gRPC's "HTTP to gRPC status mapping").
    static func status(forHTTP code: Int) -> Int {
        switch code {
        case 400: 13
        case 401: 16
        case 403: 7
        case 404: 12
        case 429, 502, 503, 504: 14
        default: 2
        }
    }

    /// `grpc-message` is percent-encoded (gRPC over HTTP/2, "Responses").
    static func percentDecoded(_ text: String) -> String {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let b = utf8.popFirst() {
            if b == UInt8(ascii: "%"), utf8.count >= 2,
                let v = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(v)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `-bin` metadata is base64, padded or not.
    static func base64Decoded(_ text: String) -> [UInt8]? {
        var t = text.trimmingCharacters(in: .whitespaces)
        while t.count % 4 != 0 { t.append("=") }
        return Data(base64Encoded: t).map { [UInt8]($0) }
    }
}
