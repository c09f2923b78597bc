import Foundation
import GRDB

/// Reads stored bodies (span bodies, log records; ``CompressedBody``) back as protobuf within one read of the
/// database, finding each dictionary a body names in the reader's ``ZstdDictionaryCache``.
final class StoredBodies {
    private let table: DictionaryTable
    /// The dictionary of a compressed body by id; throws when it is missing or unusable.
    private let find: (Int64) throws -> ZstdDictionaryCodec.DigestedDictionary
    /// The dictionary found last: consecutive bodies mostly share one.
    private var last: (id: Int64, dictionary: ZstdDictionaryCodec.DigestedDictionary)?

    /// Finds dictionaries in `cache`, loading the ones it lacks from `db`.
    init(_ db: Database, table: DictionaryTable, cache: ZstdDictionaryCache) {
        self.table = table
        find = { id in
            try cache.dictionary(ZstdDictionaryCache.Key(table: table, id: id)) {
                try Data.fetchOne(db.cachedStatement(sql: "SELECT dictionary FROM \(table.rawValue) WHERE id = ?"), arguments: [id])
            }
        }
    }

    /// Reads with `dictionaries` (found beforehand by ``dictionaries(for:)``), away from the database: so that bodies
    /// can be read on several threads, each with its own instance.
    init(dictionaries: [Int64: ZstdDictionaryCodec.DigestedDictionary], table: DictionaryTable) {
        self.table = table
        find = { id in
            guard let d = dictionaries[id] else { throw TraceReaderError.corrupt("\(table.noun) dictionary \(id) is missing") }
            return d
        }
    }

    /// The dictionaries that the compressed bodies among `bodies` name, by id.
    func dictionaries(for bodies: some Sequence<Data>) throws -> [Int64: ZstdDictionaryCodec.DigestedDictionary] {
        var out: [Int64: ZstdDictionaryCodec.DigestedDictionary] = [:]
        for body in bodies where body.first == CompressedBody.compressedMarker {
            if let id = try body.withUnsafeBytes({ try CompressedBody.compressedParts($0) })?.dictionary, out[id] == nil {
                out[id] = try dictionary(id)
            }
        }
        return out
    }

    /// The dictionary `stored` names when it is compressed; nil when it is stored as protobuf.
    func dictionary(of stored: Data) throws -> ZstdDictionaryCodec.DigestedDictionary? {
        guard stored.first == CompressedBody.compressedMarker,
            let id = try stored.withUnsafeBytes({ try CompressedBody.compressedParts($0) })?.dictionary
        else { return nil }
        return try dictionary(id)
    }

    private func dictionary(_ id: Int64) throws -> ZstdDictionaryCodec.DigestedDictionary {
        if let last, last.id == id { return last.dictionary }
        let found = try find(id)
        last = (id, found)
        return found
    }

    /// The protobuf bytes of a stored body: `stored` itself, or what it decompresses to.
    func protobuf(_ stored: Data) throws -> Data {
        guard stored.first == CompressedBody.compressedMarker else { return stored }
        return try Self.protobuf(stored, table: table) { try dictionary($0) }
    }

    /// The protobuf bytes of a stored body, with `dictionary` finding the dictionary a compressed one names.
    static func protobuf(
        _ stored: Data, table: DictionaryTable, dictionary: (Int64) throws -> ZstdDictionaryCodec.DigestedDictionary
    ) throws -> Data {
        guard stored.first == CompressedBody.compressedMarker else { return stored }
        return try stored.withUnsafeBytes { bytes in
            guard let parts = try CompressedBody.compressedParts(bytes) else { return stored }
            let d = try dictionary(parts.dictionary)
            guard let out = d.decompress(UnsafeRawBufferPointer(rebasing: bytes[parts.frame]), length: parts.length) else {
                throw TraceReaderError.corrupt("a compressed \(table.noun) does not decompress with dictionary \(parts.dictionary)")
            }
            return out
        }
    }
}
