import CZstd
import Foundation
import Synchronization

/// zstd with a trained dictionary, for many small inputs of the same shape (span bodies).
///
/// Frames are written in zstd's magicless format, without a checksum, the content size or the dictionary's ID: the
/// caller stores the dictionary and the original length beside each frame, so a span body costs only its compressed
/// bytes. Every call that takes input checks zstd's answer; nothing here traps on a bad frame.
enum ZstdDictionaryCodec {
    /// `ZSTD_c_format` (zstd.h defines it as this parameter; macros naming enum cases do not reach Swift), like
    /// `ZSTD_d_format` = `ZSTD_d_experimentalParam1` for decompression.
    static let frameFormat = ZSTD_c_experimentalParam2

    /// The largest dictionary trained.
    static let dictionaryCapacity = 16 << 10

    /// A dictionary trained on `samples` (each a slice of `buffer` by `sizes`), or nil when zstd cannot build one
    /// (too few or too small samples, or nothing they share).
    static func train(buffer: [UInt8], sizes: [Int]) -> [UInt8]? {
        guard sizes.count >= 8, sizes.reduce(0, +) == buffer.count else { return nil }
        var dictionary = [UInt8](repeating: 0, count: dictionaryCapacity)
        let written = dictionary.withUnsafeMutableBytes { dict in
            buffer.withUnsafeBytes { samples in
                sizes.withUnsafeBufferPointer { sizes in
                    ZDICT_trainFromBuffer(dict.baseAddress, dict.count, samples.baseAddress, sizes.baseAddress, UInt32(sizes.count))
                }
            }
        }
        guard ZDICT_isError(written) == 0, written > 0, written <= dictionary.count else { return nil }
        dictionary.removeLast(dictionary.count - written)
        return dictionary
    }

    /// Compresses with one dictionary at a time; reuses one context across dictionaries.
    final class Compressor {
        private let context: OpaquePointer
        /// Digested dictionaries by the caller's key; a few at most (one per partition being written).
        private var dictionaries: [Int64: OpaquePointer] = [:]
        private var current: Int64?
        let level: Int32
        private var scratch: [UInt8] = []
        /// A scratch buffer larger than this (a body of hundreds of KiB) is not kept.
        static let scratchLimit = 64 << 10

        init?(level: Int32) {
            guard let context = ZSTD_createCCtx() else { return nil }
            self.context = context
            self.level = level
        }

        deinit {
            for d in dictionaries.values { ZSTD_freeCDict(d) }
            ZSTD_freeCCtx(context)
        }

        var dictionaryCount: Int { dictionaries.count }

        /// Makes `dictionary` available as `key`; false when zstd refuses it.
        func add(_ key: Int64, dictionary: [UInt8]) -> Bool {
            if dictionaries[key] != nil { return true }
            guard let digested = dictionary.withUnsafeBytes({ ZSTD_createCDict($0.baseAddress, $0.count, level) }) else { return false }
            dictionaries[key] = digested
            return true
        }

        func remove(_ key: Int64) {
            guard let d = dictionaries.removeValue(forKey: key) else { return }
            if current == key {
                _ = ZSTD_CCtx_reset(context, ZSTD_reset_session_and_parameters)
                current = nil
            }
            ZSTD_freeCDict(d)
        }

        func removeAll() {
            for key in Array(dictionaries.keys) { remove(key) }
        }

        /// Appends `source` compressed with dictionary `key` to `out`; false (and `out` unchanged) when the key is
        /// unknown, zstd fails, or the frame would not be shorter than `limit` bytes.
        func compress(_ source: UnsafeRawBufferPointer, dictionary key: Int64, limit: Int, appendingTo out: inout [UInt8]) -> Bool {
            guard let digested = dictionaries[key] else { return false }
            if current != key {
                _ = ZSTD_CCtx_reset(context, ZSTD_reset_session_and_parameters)
                guard ZSTD_isError(ZSTD_CCtx_setParameter(context, ZstdDictionaryCodec.frameFormat, Int32(ZSTD_f_zstd1_magicless.rawValue))) == 0,
                    ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_contentSizeFlag, 0)) == 0,
                    ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_dictIDFlag, 0)) == 0,
                    ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 0)) == 0,
                    ZSTD_isError(ZSTD_CCtx_refCDict(context, digested)) == 0
                else {
                    current = nil
                    return false
                }
                current = key
            }
            let capacity = min(limit, ZSTD_compressBound(source.count))
            guard capacity > 0 else { return false }
            // Into a scratch buffer kept at its largest size, so that only the frame's bytes are copied into `out`
            // (growing `out` by `capacity` would write that many zeros first, for every body).
            if scratch.count < capacity { scratch = [UInt8](repeating: 0, count: capacity) }
            let written = scratch.withUnsafeMutableBytes { o -> Int in
                guard let base = o.baseAddress else { return -1 }
                return ZSTD_compress2(context, base, capacity, source.baseAddress, source.count)
            }
            guard written >= 0, ZSTD_isError(written) == 0, written < limit, written <= scratch.count else { return false }
            out.append(contentsOf: scratch[..<written])
            if scratch.count > Self.scratchLimit { scratch = [] }
            return true
        }
    }

    /// A dictionary digested for decompression (zstd copies the bytes it is made from). Never changed once made,
    /// which is what lets zstd's threads share one (`ZSTD_DDict` is read-only during decompression).
    final class DigestedDictionary: @unchecked Sendable {
        fileprivate let pointer: OpaquePointer
        /// Bytes held, as zstd counts them (for bounding a cache).
        let size: Int

        /// Nil when zstd refuses `dictionary`.
        init?(_ dictionary: UnsafeRawBufferPointer) {
            guard let digested = ZSTD_createDDict(dictionary.baseAddress, dictionary.count) else { return nil }
            pointer = digested
            size = ZSTD_sizeof_DDict(digested)
        }

        deinit { ZSTD_freeDDict(pointer) }

        /// The `length` bytes `frame` holds, or nil when it does not decompress to exactly `length` bytes with this
        /// dictionary (or zstd cannot allocate a context).
        func decompress(_ frame: UnsafeRawBufferPointer, length: Int) -> Data? {
            guard length >= 0 else { return nil }
            return ZstdDictionaryCodec.idleContexts.withContext { context in
                guard ZSTD_isError(ZSTD_DCtx_refDDict(context.pointer, pointer)) == 0 else { return nil }
                var out = Data(count: length)
                let written = out.withUnsafeMutableBytes { o in
                    // A zero-length output still needs a valid pointer.
                    var scratch: UInt8 = 0
                    return length == 0
                        ? ZSTD_decompressDCtx(context.pointer, &scratch, 0, frame.baseAddress, frame.count)
                        : ZSTD_decompressDCtx(context.pointer, o.baseAddress, length, frame.baseAddress, frame.count)
                }
                guard ZSTD_isError(written) == 0, written == length else { return nil }
                return out
            }
        }
    }

    /// A decompression context set for the magicless frames ``Compressor`` writes; used by one thread at a time
    /// (taken from ``ContextPool`` and given back).
    final class DecompressionContext: @unchecked Sendable {
        fileprivate let pointer: OpaquePointer

        init?() {
            guard let context = ZSTD_createDCtx() else { return nil }
            guard ZSTD_isError(ZSTD_DCtx_setParameter(context, ZSTD_d_experimentalParam1, Int32(ZSTD_f_zstd1_magicless.rawValue))) == 0 else {
                ZSTD_freeDCtx(context)
                return nil
            }
            pointer = context
        }

        deinit { ZSTD_freeDCtx(pointer) }
    }

    /// Decompression contexts kept between reads (making one allocates about 100 KiB and costs microseconds, more
    /// than decompressing a span), at most ``maxIdle`` of them idle.
    final class ContextPool: Sendable {
        private let idle = Mutex<[DecompressionContext]>([])
        static let maxIdle = 4

        /// Runs `body` with a context of its own; nil when zstd cannot allocate one.
        func withContext<T>(_ body: (DecompressionContext) -> T?) -> T? {
            guard let context = idle.withLock({ $0.popLast() }) ?? DecompressionContext() else { return nil }
            let result = body(context)
            idle.withLock { if $0.count < Self.maxIdle { $0.append(context) } }
            return result
        }
    }

    /// The process's idle decompression contexts.
    static let idleContexts = ContextPool()
}
