import OTLP
import SwiftProtobuf

extension FuzzChecks {
    /// OTLP/JSON for each signal: decoding never crashes, and what decodes encodes back to JSON that decodes to the
    /// same message.
    public static func otlpJSON(_ input: [UInt8]) {
        roundTrip(input, as: ExportTraceRequest.self)
        roundTrip(input, as: ExportMetricsRequest.self)
        roundTrip(input, as: ExportLogsRequest.self)
    }

    private static func roundTrip<M: SwiftProtobuf.Message & Equatable>(_ input: [UInt8], as type: M.Type) {
        guard let message = try? OTLPJSON.decode(M.self, from: input) else { return }
        guard let encoded = try? OTLPJSON.encode(message) else { fail("\(M.protoMessageName) decoded but does not encode", input) }
        guard let again = try? OTLPJSON.decode(M.self, from: encoded), again == message else {
            fail("\(M.protoMessageName) does not survive an OTLP/JSON round trip", input)
        }
    }
}
