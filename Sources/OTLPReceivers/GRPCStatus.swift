import CollectorCore
import Foundation
import NIOHPACK
import OTLP
import SwiftProtobuf

/// How a gRPC call ends: the `grpc-status`, `grpc-message` and `grpc-status-details-bin` trailers.
struct GRPCStatus: Error, Sendable, Equatable {
    /// The gRPC status codes otelsink answers with (grpc/doc/statuscodes.md).
    enum Code: Int, Sendable {
        case ok = 0
        case invalidArgument = 3
        case notFound = 5
        case resourceExhausted = 8
        case unimplemented = 12
        case internalError = 13
        case unavailable = 14
        case unauthenticated = 16
    }

    var code: Code
    var message: String
    /// Sent as a `google.rpc.RetryInfo` detail, which OTLP exporters honour before retrying.
    var retryAfter: Duration?

    init(_ code: Code, _ message: String, retryAfter: Duration? = nil) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    static let ok = GRPCStatus(.ok, "")

    /// The status the OTLP specification prescribes for a pipeline refusal: retryable → `UNAVAILABLE` with
    /// `RetryInfo` (the client backs off and retries); invalid data → `INVALID_ARGUMENT`; anything else → `INTERNAL`.
    init(_ error: PipelineError) {
        switch error.kind {
        case .retryable(let after): self.init(.unavailable, error.message, retryAfter: after)
        case .invalidData: self.init(.invalidArgument, error.message)
        case .permanent: self.init(.internalError, error.message)
        }
    }

    /// Adds this status to a trailer block.
    func addTrailers(to headers: inout HPACKHeaders) {
        headers.add(name: "grpc-status", value: String(code.rawValue))
        guard code != .ok else { return }
        if !message.isEmpty { headers.add(name: "grpc-message", value: Self.percentEncoded(message)) }
        if let retryAfter {
            var info = Google_Rpc_RetryInfo()
            var delay = Google_Protobuf_Duration()
            delay.seconds = retryAfter.components.seconds
            delay.nanos = Int32(retryAfter.components.attoseconds / 1_000_000_000)
            info.retryDelay = delay
            var status = Google_Rpc_Status()
            status.code = Int32(code.rawValue)
            status.message = message
            if let any = try? Google_Protobuf_Any(message: info) { status.details = [any] }
            if let bytes: [UInt8] = try? status.serializedBytes() {
                headers.add(name: "grpc-status-details-bin", value: Self.base64(bytes))
            }
        }
    }

    /// `grpc-message` encoding (gRPC over HTTP/2 spec): UTF-8 bytes outside printable ASCII, and `%`, as `%XX`.
    static func percentEncoded(_ message: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(message.utf8.count)
        for byte in message.utf8 {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Binary header values are base64; gRPC accepts them padded or not.
    static func base64(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }
}
