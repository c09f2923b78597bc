import Foundation
import Testing

@testable import CollectorCore

/// ``MappedCode``: which mappings it releases, and that releasing them gives resident memory back without harm.
@Suite struct MappedCodeTests {
    @Test func onlyPrivateReadOnlyFileMappingsWithoutPrivatePagesAreChosen() {
        func mapping(_ header: String, anonymous: Int?) -> String {
            let fields = ["Size:               1024 kB", "Rss:                 512 kB"]
            let anon = anonymous.map { ["Anonymous:          \($0) kB"] } ?? []
            return ([header] + fields + anon + ["VmFlags: rd ex mr mw me"]).joined(separator: "\n")
        }
        let smaps = [
            mapping("55d0c0a00000-55d0c0b00000 r--p 00000000 08:01 123 /usr/bin/otelsink", anonymous: 0),
            mapping("55d0c0b00000-55d0c1000000 r-xp 00100000 08:01 123                      /usr/bin/otelsink", anonymous: 0),
            // RELRO: relocated by the loader, then made read-only; its pages are private copies.
            mapping("55d0c1000000-55d0c1100000 r--p 00600000 08:01 123 /usr/bin/otelsink", anonymous: 1024),
            mapping("55d0c1100000-55d0c1200000 rw-p 00700000 08:01 123 /usr/bin/otelsink", anonymous: 0),
            mapping("7f0000000000-7f0000001000 r-xp 00000000 00:00 0 ", anonymous: 0),
            mapping("7f0000001000-7f0000002000 r-xs 00000000 08:01 77 /dev/shm/shared code", anonymous: 0),
            mapping("7f0000002000-7f0000003000 rwxp 00000000 08:01 78 /tmp/jit", anonymous: 0),
            mapping("7f0000003000-7f0000004000 r-xp 00000000 08:01 79 /usr/lib/libz.so.1 (deleted)", anonymous: 0),
            // No `Anonymous:` line: nothing says it is safe, and the next mapping's line is not taken for it.
            mapping("7f0000004000-7f0000005000 r--p 00000000 08:01 80 /usr/lib/libm.so.6", anonymous: nil),
            mapping("7f0000005000-7f0000006000 rw-p 00000000 08:01 80 /usr/lib/libm.so.6", anonymous: 0),
            mapping("7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0                          [vdso]", anonymous: 0),
            "not a smaps line",
            mapping("ffff-0000 r-xp 00000000 08:01 81 /backwards", anonymous: 0),
        ].joined(separator: "\n")
        let ranges = MappedCode.releasableMappings(smaps)
        #expect(
            ranges == [
                0x55d0_c0a0_0000..<0x55d0_c0b0_0000, 0x55d0_c0b0_0000..<0x55d0_c100_0000, 0x7f00_0000_3000..<0x7f00_0000_4000,
            ])
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
