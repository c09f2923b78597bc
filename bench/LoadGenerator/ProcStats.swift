import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reads a (server) process's CPU time and resident set size from Linux procfs.
enum ProcStats {
    /// Clock ticks per second, the unit of utime/stime in /proc/PID/stat.
    static let clockTicksPerSecond: Int = sysconf(Int32(_SC_CLK_TCK))

    static func exists(pid: Int32) -> Bool {
        FileManager.default.fileExists(atPath: "/proc/\(pid)/stat")
    }

    /// Reads a whole procfs file. (procfs reports a size of 0, so read until EOF rather than trusting stat.)
    private static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// utime + stime of the process (all its threads), in clock ticks.
    static func cpuTicks(pid: Int32) -> UInt64? {
        guard let stat = read("/proc/\(pid)/stat"),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after "(comm)" start at field 3 (state); utime is field 14 and stime field 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count > 12, let utime = UInt64(fields[11]), let stime = UInt64(fields[12]) else { return nil }
        return utime + stime
    }

    /// VmRSS in KiB.
    static func rssKiB(pid: Int32) -> Int? { statusField("VmRSS", pid: pid) }

    /// VmHWM (the kernel's peak RSS since the process started) in KiB.
    static func hwmKiB(pid: Int32) -> Int? { statusField("VmHWM", pid: pid) }

    private static func statusField(_ name: String, pid: Int32) -> Int? {
        guard let status = read("/proc/\(pid)/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            // "VmRSS:\t   12345 kB"
            let parts = line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" })
            return parts.first.flatMap { Int($0) }
        }
        return nil
    }
}

/// Runs the user's `--count-command` (through /bin/sh) and parses the number it prints.
enum CountCommand {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static func run(_ command: String, timeoutSeconds: Double = 30) throws -> Int64 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw Failure(description: "cannot run /bin/sh: \(error)") }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        // Output is a number: far below the pipe buffer, so waiting before reading cannot deadlock.
        while process.isRunning {
            if Date() > deadline {
                process.terminate()
                throw Failure(description: "count command timed out after \(Int(timeoutSeconds)) s")
            }
            usleep(10_000)
        }
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationStatus == 0 else {
            let msg = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw Failure(description: "count command exited \(process.terminationStatus)\(msg.isEmpty ? "" : ": \(msg)")")
        }
        let lines = stdout.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let last = lines.last, let n = Int64(last) else {
            throw Failure(description: "count command printed no number (got \(stdout.debugDescription.prefix(80)))")
        }
        return n
    }
}
