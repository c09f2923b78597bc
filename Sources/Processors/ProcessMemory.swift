import CollectorCore

#if canImport(Glibc)
    import Glibc
#endif

/// What the memory limiter reads about the process and the machine (Linux `/proc` and cgroup files).
public enum ProcessMemory {
    /// Resident set size of this process in bytes, from `/proc/self/statm`; nil when it cannot be read.
    public static func residentBytes() -> Int? {
        guard let text = readSmallFile("/proc/self/statm") else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count >= 2, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// The memory this process may use: the cgroup limit (v2 `memory.max`, or v1 `memory.limit_in_bytes`) when
    /// one is set, else the machine's total memory.
    public static func availableBytes() -> Int? {
        var candidates: [Int] = []
        if let v2 = readSmallFile("/sys/fs/cgroup/memory.max"), let limit = Int(v2.trimmed) { candidates.append(limit) }
        if let v1 = readSmallFile("/sys/fs/cgroup/memory/memory.limit_in_bytes"), let limit = Int(v1.trimmed),
            limit < (1 << 60)
        {
            candidates.append(limit)
        }
        if let total = machineTotalBytes() { candidates.append(total) }
        return candidates.min()
    }

    /// `MemTotal` from `/proc/meminfo`.
    static func machineTotalBytes() -> Int? {
        guard let text = readSmallFile("/proc/meminfo") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemTotal:") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count >= 2, let kib = Int(parts[1]) { return kib * 1024 }
        }
        return nil
    }

    /// Gives freed heap memory back to the system (glibc `malloc_trim`), the closest thing to otelcol's forced GC.
    public static func releaseFreeMemory() {
        FreedMemory.returnToSystem()
    }

    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }
}

extension String {
    fileprivate var trimmed: String {
        var s = Substring(self)
        while let c = s.last, c.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
