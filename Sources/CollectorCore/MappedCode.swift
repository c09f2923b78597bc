#if canImport(Glibc)
    import Glibc
#endif

/// The machine code the process has mapped from its executable and shared libraries.
///
/// Pages of code count in the process's resident memory from the first time they run until the process ends,
/// although much of what has run by the time the collector serves — reading and checking the config, building
/// every component, opening the database — never runs again. ``releaseResidentPages()`` unmaps them all; the
/// code that does run again is mapped back on its next call from the page cache (a minor fault, no disk read while
/// the file stays cached), so what stays resident is what the process keeps using.
public enum MappedCode {
    /// Unmaps the resident pages of every private, read-only, executable file mapping (`r-xp` in
    /// `/proc/self/maps`: code that is never written, so nothing is lost) with `madvise(MADV_DONTNEED)`. Data,
    /// relocated tables and anything writable are left alone. Returns the bytes of the mappings advised (0
    /// where `/proc` is not available).
    @discardableResult
    public static func releaseResidentPages() -> Int {
        #if os(Linux)
            guard let maps = readMaps() else { return 0 }
            var advised = 0
            for range in executableFileMappings(maps) {
                guard let start = UnsafeMutableRawPointer(bitPattern: range.lowerBound) else { continue }
                if madvise(start, range.count, MADV_DONTNEED) == 0 { advised += range.count }
            }
            return advised
        #else
            return 0
        #endif
    }

    /// The address ranges of the private, read-only, executable mappings of files in a `/proc/PID/maps` text.
    static func executableFileMappings(_ maps: String) -> [Range<Int>] {
        var out: [Range<Int>] = []
        for line in maps.split(separator: "\n") {
            // address perms offset dev inode [path]
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6, fields[1] == "r-xp", fields[5].trimmingPrefixSpaces.first == "/" else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let low = UInt(bounds[0], radix: 16), let high = UInt(bounds[1], radix: 16), low < high,
                let lower = Int(exactly: low), let upper = Int(exactly: high)
            else { continue }
            out.append(lower..<upper)
        }
        return out
    }

    #if os(Linux)
        private static func readMaps() -> String? {
            guard let file = fopen("/proc/self/maps", "r") else { return nil }
            defer { fclose(file) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16_384)
            while true {
                let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
                if n <= 0 { break }
                bytes += chunk[0..<n]
                if bytes.count > 16 << 20 { return nil }  // not a maps file any process has
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    #endif
}

extension Substring {
    fileprivate var trimmingPrefixSpaces: Substring { drop(while: { $0 == " " }) }
}
