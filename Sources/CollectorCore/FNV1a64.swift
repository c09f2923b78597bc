/// FNV-1a, 64-bit: a cheap, stable hash of bytes (the tail-sampling `probabilistic` policy's, as otelcol's; the
/// SQLite writer's key for operations it has already recorded).
public enum FNV1a64 {
    public static let offset: UInt64 = 0xCBF2_9CE4_8422_2325
    public static let prime: UInt64 = 0x0000_0100_0000_01B3

    @inlinable
    public static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 { continueHash(offset, bytes) }

    /// Continues a hash whose state so far is `state` with more bytes.
    @inlinable
    public static func continueHash(_ state: UInt64, _ bytes: some Sequence<UInt8>) -> UInt64 {
        var h = state
        for b in bytes { h = (h ^ UInt64(b)) &* prime }
        return h
    }
}
