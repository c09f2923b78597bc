import Foundation
import GRDB
import Synchronization

/// The digested zstd dictionaries of one database, shared by every read through one reader, so that reading a
/// trace or a log record does not load and digest its dictionary again (about 40 µs for a 16 KiB dictionary: more
/// than the rest of a small trace's decoding).
///
/// An entry stays right as long as the file is open: a dictionary is never changed once stored, and dictionary ids
/// are never reused (`AUTOINCREMENT`). Bounded: at most ``maxDictionaries``; the least recently used one goes first.
final class ZstdDictionaryCache: Sendable {
    struct Key: Hashable, Sendable {
        var table: DictionaryTable
        var id: Int64
    }

    private struct Entry {
        var dictionary: ZstdDictionaryCodec.DigestedDictionary
        var lastUse: UInt64
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        var clock: UInt64 = 0
    }

    private let state = Mutex(State())
    static let maxDictionaries = 32

    init() {}

    /// The digested dictionary `key`, from the cache or else loaded by `load` (its stored bytes; nil when there is
    /// no such dictionary) and digested. Throws what `load` throws, or `TraceReaderError.corrupt` when the
    /// dictionary is missing or zstd refuses it.
    func dictionary(_ key: Key, load: () throws -> Data?) throws -> ZstdDictionaryCodec.DigestedDictionary {
        if let known = state.withLock({ s -> ZstdDictionaryCodec.DigestedDictionary? in
            s.clock &+= 1
            s.entries[key]?.lastUse = s.clock
            return s.entries[key]?.dictionary
        }) {
            return known
        }
        // Loaded and digested outside the lock; two readers that race both digest it, and one copy is kept.
        guard let bytes = try load() else { throw TraceReaderError.corrupt("\(key.table.noun) dictionary \(key.id) is missing") }
        guard let digested = bytes.withUnsafeBytes({ ZstdDictionaryCodec.DigestedDictionary($0) }) else {
            throw TraceReaderError.corrupt("\(key.table.noun) dictionary \(key.id) is not a zstd dictionary")
        }
        return state.withLock { s in
            s.clock &+= 1
            if let raced = s.entries[key] { return raced.dictionary }
            if s.entries.count >= Self.maxDictionaries, let oldest = s.entries.min(by: { $0.value.lastUse < $1.value.lastUse })?.key {
                s.entries[oldest] = nil
            }
            s.entries[key] = Entry(dictionary: digested, lastUse: s.clock)
            return digested
        }
    }

    /// Dictionaries held now.
    var count: Int { state.withLock { $0.entries.count } }
}
