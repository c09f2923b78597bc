import Foundation
import Testing

@testable import CollectorCore

/// ``MappedCode``: which mappings it releases, and that releasing them gives resident memory back without harm.
@Suite struct MappedCodeTests {
    @Test func onlyPrivateExecutableMappingsOfFilesAreChosen() {
        let maps = """
            55d0c0a00000-55d0c0b00000 r--p 00000000 08:01 123 /usr/bin/otelsink
            55d0c0b00000-55d0c1000000 r-xp 00100000 08:01 123                      /usr/bin/otelsink
            55d0c1000000-55d0c1100000 r--p 00600000 08:01 123 /usr/bin/otelsink
            55d0c1100000-55d0c1200000 rw-p 00700000 08:01 123 /usr/bin/otelsink
            7f0000000000-7f0000001000 r-xp 00000000 00:00 0 
            7f0000001000-7f0000002000 r-xs 00000000 08:01 77 /dev/shm/shared code
            7f0000002000-7f0000003000 rwxp 00000000 08:01 78 /tmp/jit
            7f0000003000-7f0000004000 r-xp 00000000 08:01 79 /usr/lib/libz.so.1 (deleted)
            7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0                          [vdso]
            not a maps line
            ffff-0000 r-xp 00000000 08:01 80 /backwards
            """
        let ranges = MappedCode.executableFileMappings(maps)
        #expect(ranges == [0x55d0_c0b0_0000..<0x55d0_c100_0000, 0x7f00_0000_3000..<0x7f00_0000_4000])
    }

    @Test func releasingTheCodePagesLowersResidentFileMemoryAndTheCodeStillRuns() throws {
        // This test process maps the test bundle and the Swift libraries: many MiB of code have run by now.
        let before = try Self.residentFileKiB()
        let advised = MappedCode.releaseResidentPages()
        let after = try Self.residentFileKiB()
        #expect(advised > 1 << 20, "advised \(advised) bytes")
        #expect(after < before, "RssFile \(before) KiB before, \(after) KiB after")
        // Code that ran before runs again (mapped back from the page cache).
        let text = String(decoding: try JSONEncoder().encode(["k": [1, 2, 3]]), as: UTF8.self)
        #expect(text == #"{"k":[1,2,3]}"#)
    }

    static func residentFileKiB() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        for line in status.split(separator: "\n") where line.hasPrefix("RssFile:") {
            if let kib = Int(line.dropFirst("RssFile:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") { return kib }
        }
        throw CocoaError(.fileReadCorruptFile)
    }
}
