import CZlib

/// Compresses a body with gzip (zlib's deflate with a gzip header): `/metrics` answers for scrapers that send
/// `Accept-Encoding: gzip`, and the `otlphttp` exporter's requests.
public enum Gzip {
    /// The gzip encoding of `input`, or `nil` if zlib fails (the caller then sends it uncompressed).
    public static func compress(_ input: [UInt8], level: Int32 = 1) -> [UInt8]? {
        var stream = z_stream()
        // 15 window bits + 16 = gzip wrapper; memLevel 8 is zlib's default.
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
        else { return nil }
        defer { deflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(&stream, UInt(input.count))) + 32)
        var input = input
        let result: Int32 = input.withUnsafeMutableBufferPointer { inBuf in
            output.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = inBuf.baseAddress
                stream.avail_in = UInt32(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = UInt32(outBuf.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard result == Z_STREAM_END else { return nil }
        output.removeSubrange(Int(stream.total_out)...)
        return output
    }
}
