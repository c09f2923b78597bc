import CZlib

/// Inflates a gzip (or zlib) body without ever holding more than `limit` bytes of output.
///
/// A gzip bomb stops at the limit: inflation runs in fixed-size steps and aborts as soon as the output would pass it.
enum GzipInflater {
    enum Failure: Error, Equatable {
        case corrupt(String)
        case tooLarge(limit: Int)
    }

    static func inflate(_ input: [UInt8], limit: Int) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        // 15 window bits + 32: detect gzip or zlib headers automatically.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .corrupt("cannot initialise zlib")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        output.reserveCapacity(min(limit, max(input.count * 4, 4096)))
        let chunk = 64 * 1024
        var chunkBuffer = [UInt8](repeating: 0, count: chunk)
        var status: Int32 = Z_OK
        var failure: Failure?
        input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = UInt32(inBuf.count)
            while status != Z_STREAM_END {
                status = chunkBuffer.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = UInt32(chunk)
                    return CZlib.inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk - Int(stream.avail_out)
                if output.count + produced > limit {
                    failure = .tooLarge(limit: limit)
                    return
                }
                output.append(contentsOf: chunkBuffer[0..<produced])
                switch status {
                case Z_OK, Z_STREAM_END:
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
            if stream.avail_in > 0 {
                // Trailing bytes after the gzip member; accept concatenated members is rare for OTLP, reject noise.
                failure = .corrupt("unexpected \(stream.avail_in) bytes after the end of the gzip stream")
            }
        }
        if let failure { throw failure }
        return output
    }
}
