/// Protobuf wire bytes written by hand, for encodings swift-protobuf would not produce.

/// A varint.
func varint(_ n: Int) -> [UInt8] {
    var n = UInt64(n)
    var out: [UInt8] = []
    while n >= 0x80 {
        out.append(UInt8(n & 0x7F) | 0x80)
        n >>= 7
    }
    out.append(UInt8(n))
    return out
}

/// A length-delimited field.
func field(_ number: Int, _ payload: [UInt8]) -> [UInt8] {
    varint(number << 3 | 2) + varint(payload.count) + payload
}
