import NIOCore
import Testing

@testable import NIOServing

@Suite("HTTP2GoAwayWatcher")
struct HTTP2GoAwayWatcherTests {
    /// A frame: 9-byte header (length, type, flags, stream) and payload.
    func frame(type: UInt8, stream: UInt32 = 0, payload: [UInt8]) -> [UInt8] {
        let n = payload.count
        return [
            UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), type, 0,
            UInt8(stream >> 24), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF),
        ] + payload
    }

    func goAway(code: UInt32) -> [UInt8] {
        frame(
            type: 7,
            payload: [0, 0, 0, 1, UInt8(code >> 24), UInt8(code >> 16 & 0xFF), UInt8(code >> 8 & 0xFF), UInt8(code & 0xFF)] + Array("bye".utf8))
    }

    func scan(_ watcher: HTTP2GoAwayWatcher, _ bytes: [UInt8]) -> Bool {
        watcher.scan(ByteBuffer(bytes: bytes).readableBytesView)
    }

    @Test func aGoAwayWithAnErrorCodeIsFoundEvenWhenSplitAcrossWrites() {
        let bytes = frame(type: 4, payload: [0, 3, 0, 0, 0, 100]) + goAway(code: 1)  // SETTINGS, then GOAWAY PROTOCOL_ERROR
        for cut in 1..<bytes.count {
            let watcher = HTTP2GoAwayWatcher()
            let first = scan(watcher, Array(bytes[..<cut]))
            let second = scan(watcher, Array(bytes[cut...]))
            #expect(first != second, "cut at \(cut)")
            #expect(first == (cut >= bytes.count - 3), "cut at \(cut)")  // found once its error code is in
        }
    }

    @Test func aGracefulGoAwayAndLookAlikeBytesInsideAPayloadAreIgnored() {
        let watcher = HTTP2GoAwayWatcher()
        #expect(!scan(watcher, goAway(code: 0)))
        // A DATA frame whose payload looks like a GOAWAY with an error: payloads are skipped, not parsed.
        #expect(!scan(watcher, frame(type: 0, stream: 1, payload: goAway(code: 2))))
        #expect(scan(watcher, goAway(code: 11)))
    }

    @Test func framesWrittenTogetherAreFollowedToAGoAwayAtTheirEnd() {
        let frames =
            frame(type: 1, stream: 1, payload: Array(repeating: 0x07, count: 40)) + frame(type: 0, stream: 1, payload: goAway(code: 5))
            + frame(type: 1, stream: 1, payload: [0, 0, 0, 7, 0, 0, 0, 9])
        let watcher = HTTP2GoAwayWatcher()
        #expect(!scan(watcher, frames))
        #expect(!scan(watcher, frames + goAway(code: 0)))
        #expect(scan(watcher, frames + goAway(code: 2) + frames))
    }
}
