import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file that records are appended to, each with a single write(2) and no user-space buffer, optionally rotated by
/// size as otelcol's file exporter (lumberjack) rotates it.
///
/// Rotation: when the next record would take a non-empty file over ``Rotation/maxBytes``, the file is synced and
/// renamed with the time inserted before its extension (`data.json` → `data-2026-12-03T05-12-41.123.json`, UTC
/// unless ``Rotation/localTime``), a new file is started at ``path``, and backups beyond ``Rotation/maxBackups``
/// (oldest first) or older than ``Rotation/maxDays`` (by the time in their name) are removed. A record larger than
/// the limit is written whole to a fresh file. An existing file is appended to.
///
/// Writers are serialized by a mutex, so records never interleave. A record that fails part-way is cut off again
/// (the file is truncated to where it started), so the file holds whole records only.
final class RotatingFile: Sendable {
    /// When and how the file is rotated.
    struct Rotation: Sendable, Equatable {
        /// Size past which the next record goes to a new file.
        var maxBytes: Int
        /// Backups whose name says they are older than this many days are removed; 0 keeps them regardless of age.
        var maxDays: Int
        /// Backups kept, newest first; 0 keeps all.
        var maxBackups: Int
        /// Backup names carry local time instead of UTC.
        var localTime: Bool
    }

    /// Why a record was not written, naming the file.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let path: String
    let rotation: Rotation?
    /// Wall-clock time for backup names and `maxDays`.
    private let now: @Sendable () -> Date
    private let state = Mutex(OpenFile())

    private struct OpenFile {
        var descriptor: Int32 = -1
        /// Bytes in the current file.
        var size = 0
        /// Something was written since the last fsync.
        var unsynced = false
        var closed = false
    }

    init(path: String, rotation: Rotation?, now: @escaping @Sendable () -> Date = { Date() }) {
        self.path = path
        self.rotation = rotation
        self.now = now
    }

    /// Writes `record` (not empty) to the end of the file with one write(2), rotating first when it would not fit.
    /// Returns once the bytes are in the OS's hands; opens the file on first use and after a failed open.
    func append(_ record: [UInt8]) throws {
        try state.withLock { file in
            guard !file.closed else { throw Failure(description: "the file exporter writing \(path) is shut down") }
            if file.descriptor < 0 { try openCurrent(&file) }
            if let rotation, file.size > 0, record.count > rotation.maxBytes - file.size {
                try rotateCurrent(&file, rotation)
            }
            try writeWhole(record, to: &file)
        }
    }

    /// Fsyncs what was written since the last sync. The fsync runs outside the lock (on a duplicate descriptor), so
    /// writers are not held up by it.
    func sync() throws {
        let duplicate: Int32 = state.withLock { file in
            guard file.descriptor >= 0, file.unsynced else { return -1 }
            file.unsynced = false
            return dup(file.descriptor)
        }
        guard duplicate >= 0 else { return }
        defer { _ = close(duplicate) }
        if fsync(duplicate) != 0 {
            let reason = Self.errorText()
            state.withLock { $0.unsynced = true }
            throw Failure(description: "cannot sync \(path): \(reason)")
        }
    }

    /// Fsyncs and closes the file; later appends fail. Returns why the final sync failed, if it did.
    func shutDown() -> Failure? {
        state.withLock { file in
            file.closed = true
            guard file.descriptor >= 0 else { return nil }
            var failure: Failure?
            if file.unsynced, fsync(file.descriptor) != 0 {
                failure = Failure(description: "cannot sync \(path): \(Self.errorText())")
            }
            _ = close(file.descriptor)
            file.descriptor = -1
            return failure
        }
    }

    // MARK: Under the lock

    private func openCurrent(_ file: inout OpenFile) throws {
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Failure(description: "cannot open \(path): \(Self.errorText())") }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            let reason = Self.errorText()
            _ = close(descriptor)
            throw Failure(description: "cannot read the size of \(path): \(reason)")
        }
        file.descriptor = descriptor
        file.size = Int(status.st_size)
        file.unsynced = false
    }

    /// Writes all of `record`, retrying short writes; on failure truncates back to where the record started.
    private func writeWhole(_ record: [UInt8], to file: inout OpenFile) throws {
        var written = 0
        while written < record.count {
            let result = record.withUnsafeBytes { bytes -> Int in
                guard let base = bytes.baseAddress else { return 0 }
                return write(file.descriptor, base + written, bytes.count - written)
            }
            if result > 0 {
                written += result
                file.unsynced = true
                continue
            }
            if result < 0, errno == EINTR { continue }
            let reason = result < 0 ? Self.errorText() : "nothing was written"
            if written > 0 { _ = ftruncate(file.descriptor, off_t(file.size)) }
            throw Failure(description: "cannot write to \(path): \(reason)")
        }
        file.size += written
    }

    /// Syncs and renames the current file to a backup name, starts a new one, then removes surplus backups.
    private func rotateCurrent(_ file: inout OpenFile, _ rotation: Rotation) throws {
        if file.unsynced { _ = fsync(file.descriptor) }
        _ = close(file.descriptor)
        file.descriptor = -1
        let names = BackupNames(path: path)
        var millis = Self.millis(now())
        var backup = names.path(for: millis, localTime: rotation.localTime)
        // Two rotations in one millisecond would share a name, and rename(2) would replace the first backup.
        var attempts = 0
        while attempts < 1000, access(backup, F_OK) == 0 {
            attempts += 1
            millis += 1
            backup = names.path(for: millis, localTime: rotation.localTime)
        }
        guard rename(path, backup) == 0 else {
            let reason = Self.errorText()
            try openCurrent(&file)
            throw Failure(description: "cannot rotate \(path) to \(backup): \(reason)")
        }
        names.syncDirectory()
        try openCurrent(&file)
        names.removeSurplus(rotation, now: now())
    }

    /// Milliseconds since 1970, within ±10^15 (about 31,000 years) so that arithmetic on them cannot overflow.
    static func millis(_ date: Date) -> Int64 {
        let millis = (date.timeIntervalSince1970 * 1000).rounded(.down)
        guard millis.isFinite else { return 0 }
        return Int64(min(max(millis, -1e15), 1e15))
    }

    static func errorText() -> String { String(cString: strerror(errno)) }
}

/// Backup file names of one path, as lumberjack writes them: `<name>-<yyyy-MM-ddTHH-mm-ss.SSS><.ext>`.
struct BackupNames: Sendable {
    /// The directory the file and its backups are in.
    let directory: String
    /// The file name without its extension, followed by `-`.
    let prefix: String
    /// The extension with its dot, or empty.
    let ext: String

    static let timestampLength = 23

    init(path: String) {
        let fileName: Substring
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
            fileName = path[path.index(after: slash)...]
        } else {
            directory = "."
            fileName = Substring(path)
        }
        if let dot = fileName.lastIndex(of: "."), dot != fileName.startIndex {
            prefix = String(fileName[..<dot]) + "-"
            ext = String(fileName[dot...])
        } else {
            prefix = String(fileName) + "-"
            ext = ""
        }
    }

    func name(for millis: Int64, localTime: Bool) -> String {
        prefix + Self.timestamp(millis, localTime: localTime) + ext
    }

    func path(for millis: Int64, localTime: Bool) -> String {
        (directory.hasSuffix("/") ? directory : directory + "/") + name(for: millis, localTime: localTime)
    }

    /// The backups in the directory with the time in their names, newest first.
    func backups(localTime: Bool) -> [(name: String, millis: Int64)] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return entries.compactMap { entry -> (name: String, millis: Int64)? in
            guard entry.hasPrefix(prefix), entry.hasSuffix(ext),
                entry.utf8.count == prefix.utf8.count + Self.timestampLength + ext.utf8.count
            else { return nil }
            let stamp = entry.utf8.dropFirst(prefix.utf8.count).prefix(Self.timestampLength)
            guard let millis = Self.parse(Array(stamp), localTime: localTime) else { return nil }
            return (entry, millis)
        }
        .sorted { $0.millis != $1.millis ? $0.millis > $1.millis : $0.name > $1.name }
    }

    /// Removes backups beyond `maxBackups` (oldest first) and those older than `maxDays` before `now`.
    func removeSurplus(_ rotation: RotatingFile.Rotation, now: Date) {
        guard rotation.maxBackups > 0 || rotation.maxDays > 0 else { return }
        let cutoff = RotatingFile.millis(now) - Int64(rotation.maxDays) * 86_400_000
        for (index, backup) in backups(localTime: rotation.localTime).enumerated() {
            let surplus = rotation.maxBackups > 0 && index >= rotation.maxBackups
            let expired = rotation.maxDays > 0 && backup.millis < cutoff
            if surplus || expired {
                _ = unlink((directory.hasSuffix("/") ? directory : directory + "/") + backup.name)
            }
        }
    }

    /// Makes a rename in the directory durable.
    func syncDirectory() {
        let descriptor = open(directory, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        _ = close(descriptor)
    }

    /// `2026-12-03T05-12-41.123`.
    static func timestamp(_ millis: Int64, localTime: Bool) -> String {
        var seconds = time_t(millis >= 0 ? millis / 1000 : (millis - 999) / 1000)
        let fraction = Int(millis - Int64(seconds) * 1000)
        var parts = tm()
        if localTime { localtime_r(&seconds, &parts) } else { gmtime_r(&seconds, &parts) }
        func padded(_ number: Int, _ width: Int) -> String {
            let digits = String(number)
            return digits.count < width ? String(repeating: "0", count: width - digits.count) + digits : digits
        }
        let date = "\(padded(Int(parts.tm_year) + 1900, 4))-\(padded(Int(parts.tm_mon) + 1, 2))-\(padded(Int(parts.tm_mday), 2))"
        let time = "\(padded(Int(parts.tm_hour), 2))-\(padded(Int(parts.tm_min), 2))-\(padded(Int(parts.tm_sec), 2)).\(padded(fraction, 3))"
        return date + "T" + time
    }

    /// The milliseconds since 1970 a ``timestamp(_:localTime:)`` stands for; nil when `text` is not one.
    static func parse(_ text: [UInt8], localTime: Bool) -> Int64? {
        guard text.count == timestampLength else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            var value: Int32 = 0
            for byte in text[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int32(byte - UInt8(ascii: "0"))
            }
            return value
        }
        let separators: [(Int, UInt8)] = [
            (4, UInt8(ascii: "-")), (7, UInt8(ascii: "-")), (10, UInt8(ascii: "T")),
            (13, UInt8(ascii: "-")), (16, UInt8(ascii: "-")), (19, UInt8(ascii: ".")),
        ]
        for (offset, separator) in separators where text[offset] != separator { return nil }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            let fraction = number(20..<23),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        parts.tm_isdst = -1
        let seconds = localTime ? mktime(&parts) : timegm(&parts)
        return Int64(seconds) * 1000 + Int64(fraction)
    }
}
