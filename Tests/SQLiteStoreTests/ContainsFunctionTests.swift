import CollectorTesting
import Foundation
import GRDB
import Testing

@testable import SQLiteStore

/// `otelsink_contains`, the substring test of log line filters: the same answers as `instr(…) > 0`.
@Suite struct ContainsFunctionTests {
    static func queue() throws -> DatabaseQueue {
        var config = Configuration()
        config.prepareDatabase { db in try ContainsFunction.register(on: db) }
        return try DatabaseQueue(configuration: config)
    }

    @Test func textAndBlobsAreSearchedByTheirBytesAndNullGivesNull() throws {
        try Self.queue().read { (db: Database) throws in
            func ask(_ sql: String, _ arguments: StatementArguments = []) throws -> Int64? {
                try Int64.fetchOne(db, sql: "SELECT otelsink_contains(\(sql))", arguments: arguments)
            }
            #expect(try ask("'payment authorised t3 r8: lorem', 'authorised t3'") == 1)
            #expect(try ask("'payment authorised t3 r8', 'Authorised'") == 0, "case matters, as in Loki's |=")
            #expect(try ask("'héllo wörld ✓', 'wörld ✓'") == 1)
            #expect(try ask("'short', 'longer than it'") == 0)
            #expect(try ask("'anything', ''") == 1, "an empty needle is found, as instr finds it")
            #expect(try ask("'', ''") == 1)
            #expect(try ask("NULL, 'x'") == nil)
            #expect(try ask("'x', NULL") == nil)
            #expect(try ask("?, ?", [Data([0, 1, 2, 0, 3]), Data([2, 0, 3])]) == 1, "blobs, NUL bytes included")
            #expect(try ask("?, ?", [Data([0, 1, 2, 0, 3]), Data([2, 3])]) == 0)
            // "a\0b\nc" (as the log writer binds text: by its length, NUL characters included) contains "b\nc".
            #expect(try ask("CAST(x'6100620a63' AS TEXT), CAST(x'620a63' AS TEXT)") == 1, "text with a NUL character is searched whole")
            #expect(try ask("12345, 34") == 1, "numbers are searched as their text, as instr does")
        }
    }

    @Test func answersAsInstrDoesOnRandomUTF8Text() throws {
        let seed = UInt64.random(in: 0...UInt64.max)
        var rng = SplitMix64(seed: seed)
        let alphabet = Array("ab ✓é\n\"'%_") + ["\u{1F600}"]
        func text(_ n: Int) -> String { String((0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }) }
        try Self.queue().read { (db: Database) throws in
            for round in 0..<2_000 {
                let haystack = text(Int(rng.next() % 40))
                let needle = text(1 + Int(rng.next() % 4))
                let row = try #require(
                    try Row.fetchOne(db, sql: "SELECT otelsink_contains(?1, ?2), instr(?1, ?2) > 0", arguments: [haystack, needle]))
                #expect(row[0] as Int64 == row[1] as Int64, "seed \(seed), round \(round): \(haystack.debugDescription) / \(needle.debugDescription)")
            }
        }
    }
}
