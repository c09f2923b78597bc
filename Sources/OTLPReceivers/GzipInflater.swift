import CZlib

/// Inflates a gzip (or zlib) body without ever holding more than `limit` bytes of output.
///
/// A gzip bomb stops at the limit: inflation runs in fixed-size steps and aborts as soon as the output would pass it.
enum GzipInflater {
    enum Failure: Error, Equatable {
        case corrupt(String)
        case tooLarge(limit: Int)
        case noMemory
    }

    /// - Parameter reserve: asked for every chunk of output before it is kept. When it says no (the receiver's
    ///   memory budget is spent), inflation goes on only counting bytes, without keeping them, so that a body over
    ///   the limit is still reported as ``Failure/tooLarge``; otherwise the result is ``Failure/noMemory``.
    static func inflate(_ input: [UInt8], limit: Int, reserve: (Int) -> Bool = { _ in true }) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        // 15 window bits + 32: detect gzip or zlib headers automatically.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .corrupt("cannot initialise zlib")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        output.reserveCapacity(min(limit, 1 << 20, max(input.count * 4, 4096)))
        let chunk = 64 * 1024
        var chunkBuffer = [UInt8](repeating: 0, count: chunk)
        var status: Int32 = Z_OK
        var failure: Failure?
        var counted = 0  // output size, kept or not
        var keeping = true
        input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = UInt32(inBuf.count)
            while true {
                status = chunkBuffer.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = UInt32(chunk)
                    return CZlib.inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk - Int(stream.avail_out)
                counted += produced
                if counted > limit {
                    failure = .tooLarge(limit: limit)
                    return
                }
                if keeping && reserve(produced) {
                    output.append(contentsOf: chunkBuffer[0..<produced])
                } else if keeping {
                    keeping = false
                    output = []
                }
                switch status {
                case Z_OK:
                    continue
                case Z_STREAM_END:
                    // RFC 1952 allows several gzip members back to back: start the next one if bytes remain.
                    if stream.avail_in == 0 {
                        if !keeping { failure = .noMemory }
                        return
                    }
                    guard inflateReset(&stream) == Z_OK else {
                        failure = .corrupt("cannot reset zlib")
                        return
                    }
                    continue
                case Z_BUF_ERROR where stream.avail_in == 0:
                    failure = .corrupt("gzip body is truncated")
                    return
                default:
                    let reason = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                    failure = .corrupt("gzip body is corrupt: \(reason)")
                    return
                }
            }
        }
        if let failure { throw failure }
        return output
    }
}
