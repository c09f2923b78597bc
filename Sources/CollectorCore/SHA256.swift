/// SHA-256 (FIPS 180-4), small and dependency-free; pinned by test vectors computed with Python's hashlib.
/// Works on stack buffers: hashing a short attribute value allocates only the result.
public enum SHA256 {
    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    public static func hash(_ message: [UInt8]) -> [UInt8] {
        message.withUnsafeBufferPointer { hash($0) }
    }

    public static func hash(_ message: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
            (0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19)
        k.withUnsafeBufferPointer { k in
            withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 128) { tail in
                    func block(_ p: UnsafePointer<UInt8>) {
                        for t in 0..<16 {
                            let o = t * 4
                            w[t] = UInt32(p[o]) << 24 | UInt32(p[o + 1]) << 16 | UInt32(p[o + 2]) << 8 | UInt32(p[o + 3])
                        }
                        for t in 16..<64 {
                            let a = w[t - 15], b = w[t - 2]
                            let s0 = rotr(a, 7) ^ rotr(a, 18) ^ (a >> 3)
                            let s1 = rotr(b, 17) ^ rotr(b, 19) ^ (b >> 10)
                            w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
                        }
                        var (a, b, c, d, e, f, g, hh) = h
                        for t in 0..<64 {
                            let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                            let ch = (e & f) ^ (~e & g)
                            let t1 = hh &+ s1 &+ ch &+ k[t] &+ w[t]
                            let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                            let maj = (a & b) ^ (a & c) ^ (b & c)
                            hh = g; g = f; f = e; e = d &+ t1; d = c; c = b; b = a; a = t1 &+ s0 &+ maj
                        }
                        h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e, h.5 &+ f, h.6 &+ g, h.7 &+ hh)
                    }
                    let count = message.count
                    let full = count / 64
                    if let base = message.baseAddress {
                        for i in 0..<full { block(base + i * 64) }
                    }
                    // The rest, 0x80, zeros, and the bit length: one or two final blocks.
                    let rest = count - full * 64
                    let tailBlocks = rest < 56 ? 1 : 2
                    guard let tailBase = tail.baseAddress else { return }
                    tail.initialize(repeating: 0)
                    if let base = message.baseAddress, rest > 0 { (tailBase).update(from: base + full * 64, count: rest) }
                    tailBase[rest] = 0x80
                    let bits = UInt64(count) &* 8
                    let end = tailBlocks * 64
                    for i in 0..<8 { tailBase[end - 1 - i] = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i))) }
                    for i in 0..<tailBlocks { block(UnsafePointer(tailBase + i * 64)) }
                }
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(32)
        for word in [h.0, h.1, h.2, h.3, h.4, h.5, h.6, h.7] {
            out.append(UInt8(truncatingIfNeeded: word >> 24))
            out.append(UInt8(truncatingIfNeeded: word >> 16))
            out.append(UInt8(truncatingIfNeeded: word >> 8))
            out.append(UInt8(truncatingIfNeeded: word))
        }
        return out
    }

    @inline(__always) private static func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
}
