import OTLP

/// A trace export as a receiver got it: its wire bytes, indexed, when every span in it can be passed on as it
/// is; otherwise decoded, so that spans with malformed IDs can be removed and reported in `partial_success`.
enum ReceivedTraces: Sendable {
    case encoded(EncodedTraces)
    case decoded(ExportTraceRequest)

    /// Indexes `bytes`, or decodes them with `decode` when indexing cannot take them (malformed, unusual encoding,
    /// or spans with invalid IDs); `decode` reports what is wrong.
    init(_ bytes: [UInt8], decode: () throws -> ExportTraceRequest) throws {
        if let encoded = EncodedTraces(indexing: bytes), encoded.spansWithInvalidIDs == 0 {
            self = .encoded(encoded)
        } else {
            self = .decoded(try decode())
        }
    }
}
