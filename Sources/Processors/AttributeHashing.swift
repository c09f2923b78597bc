import CollectorCore
import OTLP

/// The `hash` action's digest, as otelcol's `attraction` computes it today (SHA-256; SHA-1 before v0.75):
/// strings hash their UTF-8 bytes, booleans one byte (1 or 0), ints and doubles their 8 little-endian bytes
/// (a double's IEEE-754 bit pattern); the result is the lower-case hex digest as a string attribute. A value with
/// no bytes to hash (empty string, bytes, array, map, empty value) becomes the empty string, as in otelcol.
enum AttributeHashing {
    static func hashed(_ value: AnyValue) -> AnyValue {
        var digest: [UInt8] = []
        switch value.value {
        case .stringValue(let s)?:
            if !s.isEmpty {
                var text = s
                digest = text.withUTF8 { SHA256.hash($0) }
            }
        case .boolValue(let b)?:
            digest = SHA256.hash([b ? 1 : 0])
        case .intValue(let i)?:
            digest = SHA256.hash(littleEndianBytes(UInt64(bitPattern: i)))
        case .doubleValue(let d)?:
            digest = SHA256.hash(littleEndianBytes(d.bitPattern))
        default:
            break
        }
        return .string(hex(digest))
    }

    private static func littleEndianBytes(_ v: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func hex(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(hexDigits[Int(b >> 4)])
            out.append(hexDigits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
