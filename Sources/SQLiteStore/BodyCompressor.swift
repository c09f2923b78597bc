import Foundation
import GRDB

/// Compresses span bodies or log records on the writer with a zstd dictionary per partition (``CompressedBody``
/// describes the stored form); one instance per ``DictionaryTable``.
///
/// A partition's first bodies are stored as protobuf and kept as samples; once there are enough, a dictionary is
/// trained on them (tens of milliseconds, once per partition) and inserted into the table in the same transaction
/// as the first rows compressed with it, so no committed row names a dictionary that is not stored. Each later body
/// of the partition is stored compressed when that is shorter. Attribute keys, service and operation names and the
/// values that repeat across spans (or records) are in the dictionary, so what a body costs is mostly what is
/// unique to it.
///
/// Bounded: samples are collected for at most two partitions at a time (the newest ones) and hold at most
/// ``sampleBytesLimit`` bytes each; at most ``maxDigestedDictionaries`` digested dictionaries are kept (others are
/// loaded again from the database when their partition is written to).
final class BodyCompressor {
    static let level: Int32 = 3
    /// Bodies sampled before a partition's dictionary is trained.
    static let samplesWanted = 1_000
    static let sampleBytesLimit = 1 << 20
    static let maxSamplingPartitions = 2
    static let maxDigestedDictionaries = 8
    /// Bodies shorter than this are stored as they are.
    static let minimumLength = 32

    private enum State {
        /// Collecting samples (in `samples`).
        case sampling
        case compressing(dictionary: Int64)
        /// Stored as protobuf: no dictionary could be trained, or the partition is older than the ones sampled.
        case uncompressed
    }

    private var states: [Int64: State] = [:]
    /// The bodies sampled so far per sampling partition (a class, so appending does not copy the buffer).
    private final class Samples {
        var buffer: [UInt8] = []
        var sizes: [Int] = []
    }
    private var samples: [Int64: Samples] = [:]
    private let compressor: ZstdDictionaryCodec.Compressor?
    /// The newest partition written to; only it and the one before it sample.
    private var newest = Int64.min
    private let table: DictionaryTable

    init(enabled: Bool, table: DictionaryTable) {
        compressor = enabled ? ZstdDictionaryCodec.Compressor(level: Self.level) : nil
        self.table = table
    }

    /// Writes the stored form of `body` (protobuf, going to partition `bucket`) into `out` and returns true, or
    /// returns false when the body is to be stored as it is.
    func encode(_ body: UnsafeRawBufferPointer, bucket: Int64, db: Database, into out: inout [UInt8]) throws -> Bool {
        guard let compressor, body.count >= Self.minimumLength else { return false }
        if bucket > newest {
            newest = bucket
            // Partitions that fell behind stop sampling, and give their samples back.
            for b in samples.keys where b < newest - 1 {
                states[b] = .uncompressed
                samples[b] = nil
            }
        }
        let state: State
        if let known = states[bucket] {
            state = known
        } else {
            state = try startState(bucket, db: db)
            states[bucket] = state
        }
        switch state {
        case .uncompressed:
            return false
        case .compressing(let dictionary):
            out.removeAll(keepingCapacity: true)
            CompressedBody.appendHeader(dictionary: dictionary, length: body.count, to: &out)
            return compressor.compress(body, dictionary: dictionary, limit: body.count - out.count, appendingTo: &out)
        case .sampling:
            guard let s = samples[bucket] else {
                states[bucket] = .uncompressed
                return false
            }
            if s.buffer.count + body.count <= Self.sampleBytesLimit {
                s.buffer.append(contentsOf: body)
                s.sizes.append(body.count)
            }
            if s.sizes.count >= Self.samplesWanted || s.buffer.count + body.count > Self.sampleBytesLimit {
                samples[bucket] = nil
                states[bucket] = try train(bucket, buffer: s.buffer, sizes: s.sizes, db: db)
            }
            return false
        }
    }

    /// A partition's state the first time it is written to in this process: its stored dictionary, else sampling
    /// if it is one of the newest two partitions and a sampling slot is free.
    private func startState(_ bucket: Int64, db: Database) throws -> State {
        if let row = try Row.fetchOne(
            db, sql: "SELECT id, dictionary FROM \(table.rawValue) WHERE bucket = ? ORDER BY id DESC LIMIT 1", arguments: [bucket])
        {
            let id: Int64 = row[0]
            let dictionary: [UInt8] = [UInt8]((row[1] as Data?) ?? Data())
            return digest(id, bucket: bucket, dictionary: dictionary) ? .compressing(dictionary: id) : .uncompressed
        }
        guard bucket >= newest - 1, samples.count < Self.maxSamplingPartitions else { return .uncompressed }
        samples[bucket] = Samples()
        return .sampling
    }

    private func train(_ bucket: Int64, buffer: [UInt8], sizes: [Int], db: Database) throws -> State {
        guard let dictionary = ZstdDictionaryCodec.train(buffer: buffer, sizes: sizes) else { return .uncompressed }
        try db.execute(sql: "INSERT INTO \(table.rawValue)(bucket, dictionary) VALUES (?, ?)", arguments: [bucket, Data(dictionary)])
        let id = db.lastInsertedRowID
        return digest(id, bucket: bucket, dictionary: dictionary) ? .compressing(dictionary: id) : .uncompressed
    }

    /// Makes a dictionary ready for compression, first forgetting the digested dictionary of the oldest other
    /// partition when ``maxDigestedDictionaries`` are held.
    private func digest(_ id: Int64, bucket: Int64, dictionary: [UInt8]) -> Bool {
        guard let compressor else { return false }
        if compressor.dictionaryCount >= Self.maxDigestedDictionaries {
            let held = states.compactMap { b, s -> (Int64, Int64)? in if case .compressing(let d) = s { (b, d) } else { nil } }
            if let oldest = held.min(by: { $0.0 < $1.0 }) {
                compressor.remove(oldest.1)
                states[oldest.0] = nil
            }
        }
        return compressor.add(id, dictionary: dictionary)
    }

    /// Forgets a dropped partition.
    func forget(bucket: Int64) {
        if case .compressing(let d) = states[bucket] { compressor?.remove(d) }
        states[bucket] = nil
        samples[bucket] = nil
    }

    /// Forgets everything (after a failed transaction: a dictionary it inserted was rolled back with it).
    func reset() {
        states.removeAll()
        samples.removeAll()
        compressor?.removeAll()
        newest = .min
    }
}
