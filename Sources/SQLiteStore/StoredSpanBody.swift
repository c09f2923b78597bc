import Foundation
import GRDB

/// The `body` column of a span row, and reading it back as protobuf.
///
/// A body is either the span's protobuf (without the fields the row's columns hold) as it is, or compressed:
/// `0x00` — never the first byte of a protobuf message, whose first byte is a field tag and field 0 does not
/// exist — then the id of its dictionary in `span_dictionaries` (varint), the protobuf's length (varint) and a zstd
/// frame (``ZstdDictionaryCodec``). Rows written before compression hold the protobuf, and read back unchanged.
enum StoredSpanBody {
    static let compressedMarker: UInt8 = 0
    /// The longest protobuf a compressed body may claim to hold (a span is far smaller: requests are limited
    /// to tens of MiB); a larger claim is a corrupt row, not an allocation.
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
            throw TraceReaderError.corrupt("a compressed span body has a malformed header")
        }
        let dictionary = try varint()
        let length = try varint()
        guard dictionary <= UInt64(Int64.max), length <= UInt64(maxLength) else {
            throw TraceReaderError.corrupt("a compressed span body claims \(length) bytes")
        }
        return (Int64(dictionary), Int(length), i..<bytes.count)
    }
}

/// Reads span bodies back as protobuf within one read of the database, loading each dictionary a body names once.
final class StoredSpanBodies {
    /// The stored bytes of dictionary `id`; nil when there is no such dictionary.
    private let dictionary: (Int64) throws -> Data?
    private var decompressor: ZstdDictionaryCodec.Decompressor?

    /// Loads dictionaries from `db` as bodies name them.
    init(_ db: Database) {
        dictionary = { id in try Self.load(db, id) }
    }

    /// Reads with `dictionaries` (loaded beforehand by ``dictionaries(_:for:)``), away from the database: so that
    /// bodies can be read on several threads, each with its own instance.
    init(dictionaries: [Int64: Data]) { dictionary = { dictionaries[$0] } }

    /// The dictionaries that the compressed bodies among `bodies` name, by id (one that is missing is left out;
    /// reading a body that names it then fails as it would with ``init(_:)``).
    static func dictionaries(_ db: Database, for bodies: some Sequence<Data>) throws -> [Int64: Data] {
        var ids = Set<Int64>()
        for body in bodies where body.first == StoredSpanBody.compressedMarker {
            if let parts = try body.withUnsafeBytes({ try StoredSpanBody.compressedParts($0) }) { ids.insert(parts.dictionary) }
        }
        var out: [Int64: Data] = [:]
        for id in ids {
            out[id] = try load(db, id)
        }
        return out
    }

    private static func load(_ db: Database, _ id: Int64) throws -> Data? {
        try Data.fetchOne(db.cachedStatement(sql: "SELECT dictionary FROM span_dictionaries WHERE id = ?"), arguments: [id])
    }

    /// The span's protobuf bytes: `stored` itself, or what it decompresses to.
    func protobuf(_ stored: Data) throws -> Data {
        guard stored.first == StoredSpanBody.compressedMarker else { return stored }
        return try stored.withUnsafeBytes { bytes in
            guard let parts = try StoredSpanBody.compressedParts(bytes) else { return stored }
            let codec = try codec(dictionary: parts.dictionary)
            guard let out = codec.decompress(UnsafeRawBufferPointer(rebasing: bytes[parts.frame]), dictionary: parts.dictionary, length: parts.length)
            else {
                throw TraceReaderError.corrupt("a compressed span body does not decompress with dictionary \(parts.dictionary)")
            }
            return out
        }
    }

    private func codec(dictionary id: Int64) throws -> ZstdDictionaryCodec.Decompressor {
        if decompressor == nil { decompressor = ZstdDictionaryCodec.Decompressor() }
        guard let d = decompressor else { throw TraceReaderError.corrupt("zstd could not allocate a decompression context") }
        if d.has(id) { return d }
        guard let dictionary = try self.dictionary(id) else {
            throw TraceReaderError.corrupt("span dictionary \(id) is missing")
        }
        guard dictionary.withUnsafeBytes({ d.add(id, dictionary: $0) }) else {
            throw TraceReaderError.corrupt("span dictionary \(id) is not a zstd dictionary")
        }
        return d
    }
}
