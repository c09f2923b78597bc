import NIOCore
import NIOHTTP2

/// One HTTP/2 frame as it arrived (RFC 9113 §4.1): the fields of its header and its payload, padding included.
struct HTTP2WireFrame {
    /// Frame types (RFC 9113 §6).
    enum Kind {
        static let data: UInt8 = 0x0
        static let headers: UInt8 = 0x1
        static let priority: UInt8 = 0x2
        static let rstStream: UInt8 = 0x3
        static let settings: UInt8 = 0x4
        static let pushPromise: UInt8 = 0x5
        static let ping: UInt8 = 0x6
        static let goAway: UInt8 = 0x7
        static let windowUpdate: UInt8 = 0x8
        static let continuation: UInt8 = 0x9
    }

    /// Frame flags (RFC 9113 §6).
    enum Flag {
        static let endStream: UInt8 = 0x1
        static let ack: UInt8 = 0x1
        static let endHeaders: UInt8 = 0x4
        static let padded: UInt8 = 0x8
        static let priority: UInt8 = 0x20
    }

    var kind: UInt8
    var flags: UInt8
    /// The stream identifier, its reserved bit cleared.
    var stream: UInt32
    var payload: ByteBuffer

    func has(_ flag: UInt8) -> Bool { flags & flag != 0 }
}

/// A connection error (RFC 9113 §5.4.1): the connection ends with GOAWAY carrying `code`, and `reason` as its debug
/// data.
struct HTTP2ConnectionError: Error {
    var code: HTTP2ErrorCode
    var reason: String
}

/// Cuts a server connection's bytes into frames: first the client's connection preface, then frames no larger
/// than the frame size the server allows (it never raises SETTINGS_MAX_FRAME_SIZE above its default, 16,384).
///
/// Bytes are kept only until a frame is whole; a frame's payload is a slice of the bytes read, not a copy.
struct HTTP2FrameReader {
    static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    static let maxFrameSize = 16_384

    private var buffer: ByteBuffer?
    private var prefaceRead = false

    /// Adds bytes read from the connection.
    mutating func append(_ bytes: ByteBuffer) {
        guard var held = buffer, held.readableBytes > 0 else {
            buffer = bytes
            return
        }
        buffer = nil  // so that `held` is the only reference, appended to in place when it can be
        var more = bytes
        held.writeBuffer(&more)
        buffer = held
    }

    /// The next whole frame, or nil until more bytes arrive.
    mutating func next() throws(HTTP2ConnectionError) -> HTTP2WireFrame? {
        guard var bytes = buffer else { return nil }
        defer { buffer = bytes.readableBytes > 0 ? bytes : nil }
        if !prefaceRead {
            let count = min(bytes.readableBytes, Self.preface.count)
            guard let head = bytes.readableBytesView.prefix(count).elementsEqual(Self.preface.prefix(count)) ? count : nil else {
                throw HTTP2ConnectionError(code: .protocolError, reason: "not an HTTP/2 connection preface")
            }
            guard head == Self.preface.count else { return nil }
            bytes.moveReaderIndex(forwardBy: head)
            prefaceRead = true
        }
        guard bytes.readableBytes >= 9,
            let lengthAndKind = bytes.getInteger(at: bytes.readerIndex, as: UInt32.self),
            let flags = bytes.getInteger(at: bytes.readerIndex + 4, as: UInt8.self),
            let stream = bytes.getInteger(at: bytes.readerIndex + 5, as: UInt32.self)
        else { return nil }
        let length = Int(lengthAndKind >> 8)
        guard length <= Self.maxFrameSize else {
            throw HTTP2ConnectionError(code: .frameSizeError, reason: "a frame of \(length) bytes exceeds SETTINGS_MAX_FRAME_SIZE")
        }
        guard bytes.readableBytes >= 9 + length else { return nil }
        bytes.moveReaderIndex(forwardBy: 9)
        guard let payload = bytes.readSlice(length: length) else { return nil }
        return HTTP2WireFrame(kind: UInt8(truncatingIfNeeded: lengthAndKind), flags: flags, stream: stream & 0x7fff_ffff, payload: payload)
    }
}
