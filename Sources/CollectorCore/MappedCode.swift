#if canImport(Glibc)
    import Glibc
#endif

/// The machine code (and read-only data) the process has mapped from its executable and shared libraries.
///
/// Pages of code count in the process's resident memory from the first time they run until the process ends,
/// although much of what has run by the time the collector serves — reading and checking the config, building
/// every component, opening the database — never runs again; the same holds for the read-only data that code
/// read (type metadata and conformance records the runtime scans once, tables, strings). ``releaseResidentPages()``
/// unmaps them all; what does run again is mapped back on its next use from the page cache (a minor fault, no
/// disk read while the file stays cached), so what stays resident is what the process keeps using.
public enum MappedCode {
    /// Unmaps, with `madvise(MADV_DONTNEED)`, the resident pages of every private, read-only file mapping (`r-xp`
    /// or `r--p` in `/proc/self/smaps`) that holds no private copy of a page (`Anonymous: 0 kB`): its pages are
    /// the file's own, so nothing is lost. A mapping the dynamic loader relocated and then made read-only (RELRO)
    /// holds private copies and is left alone, as are data and anything writable. Returns the bytes of the
    /// mappings advised (0 where `/proc` is not available).
    @discardableResult
    public static func releaseResidentPages() -> Int {
        #if os(Linux)
            guard let smaps = read("/proc/self/smaps") else { return 0 }
            var advised = 0
            for range in releasableMappings(smaps) {
                guard let start = UnsafeMutableRawPointer(bitPattern: range.lowerBound) else { continue }
                if madvise(start, range.count, MADV_DONTNEED) == 0 { advised += range.count }
            }
            return advised
        #else
            return 0
        #endif
    }

    /// The address ranges of the private, read-only mappings of files without private pages, in a
    /// `/proc/PID/smaps` text.
    static func releasableMappings(_ smaps: String) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var candidate: Range<Int>?
        for line in smaps.split(separator: "\n") {
            if let header = header(line) {
                // A new mapping starts: a candidate until its `Anonymous:` line says whether it holds private pages.
                candidate = header.privateReadOnlyFile ? header.range : nil
                continue
            }
            guard let range = candidate, line.hasPrefix("Anonymous:") else { continue }
            let value = line.dropFirst("Anonymous:".count).split(separator: " ", omittingEmptySubsequences: true)
            if value.count == 2, value[0] == "0", value[1] == "kB" { out.append(range) }
            candidate = nil
        }
        return out
    }

    /// A smaps header line (`address perms offset dev inode [path]`): its range, and whether it maps a file
    /// privately and read-only; nil for the `Key: value` lines between headers.
    private static func header(_ line: Substring) -> (range: Range<Int>, privateReadOnlyFile: Bool)? {
        let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
        guard fields.count >= 5 else { return nil }
        let bounds = fields[0].split(separator: "-")
        guard bounds.count == 2, let low = UInt(bounds[0], radix: 16), let high = UInt(bounds[1], radix: 16) else { return nil }
        guard low < high, let lower = Int(exactly: low), let upper = Int(exactly: high) else { return (0..<0, false) }
        let file = fields.count == 6 && fields[5].trimmingPrefixSpaces.first == "/"
        return (lower..<upper, file && (fields[1] == "r-xp" || fields[1] == "r--p"))
    }

    #if os(Linux)
        private static func read(_ path: String) -> String? {
            guard let file = fopen(path, "r") else { return nil }
            defer { fclose(file) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16_384)
            while true {
                let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
                if n <= 0 { break }
                bytes += chunk[0..<n]
                if bytes.count > 16 << 20 { return nil }  // not a smaps file any process has
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    #endif
}

extension Substring {
    fileprivate var trimmingPrefixSpaces: Substring { drop(while: { $0 == " " }) }
}
