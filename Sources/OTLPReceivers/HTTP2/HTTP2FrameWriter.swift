import NIOCore
import NIOHPACK
import NIOHTTP2

/// Writes HTTP/2 frames (RFC 9113 §4.1, §6) into a buffer, and header blocks in HPACK (RFC 7541) as literals.
///
/// Header fields are written as literals without indexing and without Huffman coding: the encoder keeps no dynamic
/// table, so it needs no state and is valid whatever SETTINGS_HEADER_TABLE_SIZE the client sets. A gRPC server's
/// answers are a few short fields, where what indexing would save is a few bytes.
enum HTTP2FrameWriter {
    static func frameHeader(_ buffer: inout ByteBuffer, length: Int, kind: UInt8, flags: UInt8, stream: UInt32) {
        buffer.writeInteger(UInt32(truncatingIfNeeded: length) << 8 | UInt32(kind))
        buffer.writeInteger(flags)
        buffer.writeInteger(stream & 0x7fff_ffff)
    }

    static func settings(_ buffer: inout ByteBuffer, _ values: [(id: UInt16, value: UInt32)]) {
        frameHeader(&buffer, length: 6 * values.count, kind: HTTP2WireFrame.Kind.settings, flags: 0, stream: 0)
        for (id, value) in values {
            buffer.writeInteger(id)
            buffer.writeInteger(value)
        }
    }

    static func settingsAck(_ buffer: inout ByteBuffer) {
        frameHeader(&buffer, length: 0, kind: HTTP2WireFrame.Kind.settings, flags: HTTP2WireFrame.Flag.ack, stream: 0)
    }

    static func windowUpdate(_ buffer: inout ByteBuffer, stream: UInt32, increment: Int) {
        frameHeader(&buffer, length: 4, kind: HTTP2WireFrame.Kind.windowUpdate, flags: 0, stream: stream)
        buffer.writeInteger(UInt32(truncatingIfNeeded: increment) & 0x7fff_ffff)
    }

    static func ping(_ buffer: inout ByteBuffer, _ data: HTTP2PingData, ack: Bool) {
        frameHeader(&buffer, length: 8, kind: HTTP2WireFrame.Kind.ping, flags: ack ? HTTP2WireFrame.Flag.ack : 0, stream: 0)
        buffer.writeInteger(data.integer)
    }

    static func rstStream(_ buffer: inout ByteBuffer, stream: UInt32, code: HTTP2ErrorCode) {
        frameHeader(&buffer, length: 4, kind: HTTP2WireFrame.Kind.rstStream, flags: 0, stream: stream)
        buffer.writeInteger(UInt32(truncatingIfNeeded: code.networkCode))
    }

    static func goAway(_ buffer: inout ByteBuffer, lastStream: UInt32, code: HTTP2ErrorCode, debugData: ByteBuffer?) {
        // Debug data is cut to what one frame can carry.
        var debug = debugData ?? ByteBuffer()
        let debugLength = min(debug.readableBytes, HTTP2FrameReader.maxFrameSize - 8)
        frameHeader(&buffer, length: 8 + debugLength, kind: HTTP2WireFrame.Kind.goAway, flags: 0, stream: 0)
        buffer.writeInteger(lastStream & 0x7fff_ffff)
        buffer.writeInteger(UInt32(truncatingIfNeeded: code.networkCode))
        if var slice = debug.readSlice(length: debugLength) { buffer.writeBuffer(&slice) }
    }

    static func data(_ buffer: inout ByteBuffer, stream: UInt32, _ payload: ByteBuffer, endStream: Bool) {
        frameHeader(
            &buffer, length: payload.readableBytes, kind: HTTP2WireFrame.Kind.data, flags: endStream ? HTTP2WireFrame.Flag.endStream : 0,
            stream: stream)
        buffer.writeImmutableBuffer(payload)
    }

    /// A header block as HEADERS, then CONTINUATION frames if it is larger than `maxFrameSize`.
    static func headers(_ buffer: inout ByteBuffer, stream: UInt32, block: ByteBuffer, endStream: Bool, maxFrameSize: Int) {
        var rest = block
        var first = true
        repeat {
            let size = min(rest.readableBytes, maxFrameSize)
            let last = size == rest.readableBytes
            let kind = first ? HTTP2WireFrame.Kind.headers : HTTP2WireFrame.Kind.continuation
            var flags: UInt8 = last ? HTTP2WireFrame.Flag.endHeaders : 0
            if first && endStream { flags |= HTTP2WireFrame.Flag.endStream }
            frameHeader(&buffer, length: size, kind: kind, flags: flags, stream: stream)
            if var piece = rest.readSlice(length: size) { buffer.writeBuffer(&piece) }
            first = false
        } while rest.readableBytes > 0
    }

    /// `headers` in HPACK: `:status: 200` as its static-table entry, every other field a literal without indexing.
    static func headerBlock(_ headers: HPACKHeaders, into buffer: inout ByteBuffer) {
        for (name, value, _) in headers {
            if name == ":status" && value == "200" {
                buffer.writeInteger(UInt8(0x88))  // indexed field 8 of the static table
                continue
            }
            buffer.writeInteger(UInt8(0x00))  // literal without indexing, new name
            string(name, into: &buffer)
            string(value, into: &buffer)
        }
    }

    /// An HPACK string literal, not Huffman-coded: its length as a 7-bit-prefix integer, then its bytes.
    private static func string(_ text: String, into buffer: inout ByteBuffer) {
        integer(text.utf8.count, prefixBits: 7, firstByte: 0, into: &buffer)
        buffer.writeString(text)
    }

    /// An HPACK integer (RFC 7541 §5.1).
    static func integer(_ value: Int, prefixBits: Int, firstByte: UInt8, into buffer: inout ByteBuffer) {
        let limit = (1 << prefixBits) - 1
        guard value >= limit else {
            buffer.writeInteger(firstByte | UInt8(value))
            return
        }
        buffer.writeInteger(firstByte | UInt8(limit))
        var rest = value - limit
        while rest >= 128 {
            buffer.writeInteger(UInt8(rest & 0x7f | 0x80))
            rest >>= 7
        }
        buffer.writeInteger(UInt8(rest))
    }
}
