import Foundation
import Testing

@testable import SQLiteStore

/// Digested dictionaries kept across reads (``ZstdDictionaryCache``).
@Suite("zstd dictionary cache")
struct ZstdDictionaryCacheTests {
    /// A dictionary trained on samples that share text, as span bodies do.
    static func dictionary(seed: Int) throws -> [UInt8] {
        let samples = (0..<200).map { i in Array("seed \(seed) http.route=/api/orders/\(i * 7) db.statement=SELECT \(i % 13) user=\(i * 31)".utf8) }
        return try #require(ZstdDictionaryCodec.train(buffer: samples.flatMap { $0 }, sizes: samples.map(\.count)))
    }

    @Test func aDictionaryIsLoadedOnceAndThenServedFromTheCache() throws {
        let cache = ZstdDictionaryCache()
        let bytes = Data(try Self.dictionary(seed: 1))
        var loads = 0
        let key = ZstdDictionaryCache.Key(table: .spans, id: 7)
        let first = try cache.dictionary(key) {
            loads += 1
            return bytes
        }
        let second = try cache.dictionary(key) {
            loads += 1
            return bytes
        }
        #expect(loads == 1)
        #expect(first === second)
        // The same id in the other table is another dictionary.
        _ = try cache.dictionary(ZstdDictionaryCache.Key(table: .logs, id: 7)) {
            loads += 1
            return bytes
        }
        #expect(loads == 2)
    }

    @Test func theCacheHoldsAtMostItsLimitAndDropsTheLeastRecentlyUsed() throws {
        let cache = ZstdDictionaryCache()
        let bytes = Data(try Self.dictionary(seed: 2))
        var loaded: [Int64] = []
        func use(_ id: Int64) throws {
            _ = try cache.dictionary(ZstdDictionaryCache.Key(table: .spans, id: id)) {
                loaded.append(id)
                return bytes
            }
        }
        for id in 0..<Int64(ZstdDictionaryCache.maxDictionaries) { try use(id) }
        try use(0)  // 0 is now the most recently used; 1 the least
        try use(1_000)
        #expect(cache.count == ZstdDictionaryCache.maxDictionaries)
        loaded.removeAll()
        try use(0)
        try use(1)
        #expect(loaded == [1])
    }

    @Test func aMissingOrUnusableDictionaryIsAnErrorNamingIt() throws {
        let cache = ZstdDictionaryCache()
        #expect {
            try cache.dictionary(ZstdDictionaryCache.Key(table: .logs, id: 3)) { nil }
        } throws: { "\($0)".contains("log record dictionary 3 is missing") }
        #expect(cache.count == 0)
    }

    /// What a compressor writes, a digested dictionary reads back, on any thread.
    @Test func framesDecompressOnSeveralThreadsAtOnce() async throws {
        let dictionary = try Self.dictionary(seed: 3)
        let compressor = try #require(ZstdDictionaryCodec.Compressor(level: 3))
        #expect(compressor.add(1, dictionary: dictionary))
        let inputs = (0..<64).map { i in Array("seed 3 http.route=/api/orders/\(i) db.statement=SELECT \(i) user=\(i * 97) tail".utf8) }
        var frames: [[UInt8]] = []
        for input in inputs {
            var out: [UInt8] = []
            #expect(input.withUnsafeBytes { compressor.compress($0, dictionary: 1, limit: input.count, appendingTo: &out) })
            frames.append(out)
        }
        let digested = try #require(dictionary.withUnsafeBytes { ZstdDictionaryCodec.DigestedDictionary($0) })
        let pairs = Array(zip(frames, inputs))
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    pairs.allSatisfy { frame, input in
                        frame.withUnsafeBytes { digested.decompress($0, length: input.count) } == Data(input)
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results == Array(repeating: true, count: 8))
        // A frame asked for the wrong length is refused, not truncated.
        #expect(frames[0].withUnsafeBytes { digested.decompress($0, length: inputs[0].count - 1) } == nil)
    }
}
