import Foundation
import GRDB

/// The stored form of a span's `body` and of a log record's `record`: a protobuf message stored as it is, or
/// compressed.
///
/// Compressed, it is `0x00` — never the first byte of a protobuf message, whose first byte is a field tag and field
/// 0 does not exist — then the id of its dictionary in its ``DictionaryTable`` (varint), the protobuf's length
/// (varint) and a zstd frame (``ZstdDictionaryCodec``). Rows written before compression hold the protobuf, and read
/// back unchanged.
enum CompressedBody {
    static let compressedMarker: UInt8 = 0
    /// The longest protobuf a compressed body may claim to hold (a span or a record is far smaller: requests are
    /// limited to tens of MiB); a larger claim is a corrupt row, not an allocation.
    static let maxLength = 256 << 20

    static func appendHeader(dictionary: Int64, length: Int, to out: inout [UInt8]) {
        out.append(compressedMarker)
        appendVarint(UInt64(max(0, dictionary)), to: &out)
        appendVarint(UInt64(length), to: &out)
    }

    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// A compressed body's parts; nil for a body stored as protobuf. Throws on a compressed body whose header is
    /// malformed.
    static func compressedParts(_ bytes: UnsafeRawBufferPointer) throws -> (dictionary: Int64, length: Int, frame: Range<Int>)? {
        guard bytes.first == compressedMarker else { return nil }
        var i = 1
        func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while i < bytes.count, shift < 64 {
                let byte = bytes[i]
                i += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
            throw TraceReaderError.corrupt("a compressed body has a malformed header")
        }
        let dictionary = try varint()
        let length = try varint()
        guard dictionary <= UInt64(Int64.max), length <= UInt64(maxLength) else {
            throw TraceReaderError.corrupt("a compressed body claims \(length) bytes")
        }
        return (Int64(dictionary), Int(length), i..<bytes.count)
    }
}

/// Where the dictionaries of compressed bodies are stored: span bodies and log records each have their own table
/// (and their own ids), one or more dictionaries per partition, removed with it.
enum DictionaryTable: String, Sendable {
    case spans = "span_dictionaries"
    case logs = "log_dictionaries"

    /// What its dictionaries compress, for messages.
    var noun: String {
        switch self {
        case .spans: "span"
        case .logs: "log record"
        }
    }
}
