import CollectorTesting
import SwiftProtobuf
import Testing

@testable import OTLP

@Suite("OTLPCommonWire: the validators every signal's index shares")
struct OTLPCommonWireTests {
    /// A `KeyValue` as SDKs write it, or a near miss: a random key and a string, integer, boolean or double value,
    /// sometimes with invalid UTF-8, a length at the one-byte limit, or a byte changed, cut or added.
    private static func keyValueBytes(_ g: inout SplitMix64) -> [UInt8] {
        let alphabet: [UInt8] = [0x61, 0x2E, 0x5F, 0x7F, 0x00, 0xC3, 0xA9, 0xE2, 0x9C, 0x93, 0xC0, 0xFF, 0xED, 0xA0, 0x80]
        func text() -> [UInt8] {
            let length = [0, 1, 7, 8, 9, 60, 120, 124, 125, 126, 127, 128, 200].randomElement(using: &g) ?? 0
            let ascii = Bool.random(using: &g)
            return (0..<length).map { _ in ascii ? 0x61 : alphabet.randomElement(using: &g) ?? 0 }
        }
        let value: [UInt8]
        switch Int.random(in: 0..<5, using: &g) {
        case 0: value = field(1, text())
        case 1: value = [0x10] + varint(Int.random(in: 0...Int.max, using: &g))
        case 2: value = [0x18, UInt8.random(in: 0...2, using: &g)]
        case 3: value = [0x21] + (0..<8).map { _ in UInt8.random(in: 0...255, using: &g) }
        default: value = [0x08, 0x01]  // string_value with the wrong wire type
        }
        var bytes = field(1, text()) + (Bool.random(using: &g) ? field(2, value) : [])
        switch Int.random(in: 0..<8, using: &g) {
        case 0 where !bytes.isEmpty: bytes[Int.random(in: 0..<bytes.count, using: &g)] = UInt8.random(in: 0...255, using: &g)
        case 1 where !bytes.isEmpty: bytes.removeLast(Int.random(in: 1...min(3, bytes.count), using: &g))
        case 2: bytes += [0x18, 0x01]  // an unknown field after the value
        case 3: bytes = field(2, value) + field(1, text())  // value before key
        default: break
        }
        return bytes
    }

    /// The fast reading of the usual layout gives what swift-protobuf decodes, and refuses nothing it could read:
    /// every KeyValue sits between random bytes, so reading past its range would show.
    @Test func keyValueAgreesWithSwiftProtobuf() throws {
        let seed = TestSeed.next()
        var g = SplitMix64(seed: seed)
        var read = 0
        for _ in 0..<20_000 {
            let kv = Self.keyValueBytes(&g)
            let before = (0..<Int.random(in: 0...12, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
            let after = (0..<Int.random(in: 0...12, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
            let buffer = before + kv + after
            let range = before.count..<(before.count + kv.count)
            let fast = buffer.withUnsafeBytes { b in try? OTLPCommonWire.keyValue(b, range, depth: 0) }
            let decoded = try? KeyValue(serializedBytes: kv)
            guard let fast else {
                // Refusing is allowed (swift-protobuf decides then), but not for the layout SDKs write.
                if let decoded, decoded.unknownFields.data.isEmpty, decoded.value.unknownFields.data.isEmpty,
                    kv == (try decoded.serializedBytes())
                {
                    Issue.record("seed \(seed): refused \(kv)")
                }
                continue
            }
            read += 1
            let value = try #require(decoded, "seed \(seed): read \(kv), which swift-protobuf refuses")
            #expect(Array(buffer[fast.key]) == Array(value.key.utf8), "seed \(seed): \(kv)")
            if case .stringValue(let s)? = value.value.value {
                #expect(fast.stringValue.map { Array(buffer[$0]) } == Array(s.utf8), "seed \(seed): \(kv)")
            } else {
                #expect(fast.stringValue == nil, "seed \(seed): \(kv)")
            }
        }
        #expect(read > 5_000, "seed \(seed)")
    }

    /// Strings up to 16 bytes are checked with one or two eight-byte loads, which may reach before the string (under
    /// eight bytes) but never count the bytes around it.
    @Test func utf8OfAShortStringIgnoresTheBytesAroundIt() {
        let seed = TestSeed.next()
        var g = SplitMix64(seed: seed)
        let interesting: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xA0, 0xED, 0x9F, 0xF0, 0x90, 0xF4, 0xFF]
        for length in 0..<20 {
            for _ in 0..<2_000 {
                let bytes = (0..<length).map { _ in interesting.randomElement(using: &g) ?? 0 }
                let before = (0..<Int.random(in: 0...10, using: &g)).map { _ in interesting.randomElement(using: &g) ?? 0 }
                let after = (0..<Int.random(in: 0...3, using: &g)).map { _ in interesting.randomElement(using: &g) ?? 0 }
                let buffer = before + bytes + after
                let valid = buffer.withUnsafeBytes { isValidUTF8($0, before.count..<(before.count + length)) }
                #expect(valid == (String(validating: bytes, as: UTF8.self) != nil), "seed \(seed): \(before) \(bytes) \(after)")
            }
        }
    }
}
