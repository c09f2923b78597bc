import Foundation
import FuzzChecks
import Testing

/// Replays every fuzz target's committed seed corpus and past findings (`bench/fuzz/corpus/<target>/`,
/// `bench/fuzz/regressions/<target>/`) through the same checks the fuzzer runs: a finding fixed once stays fixed.
@Suite("Fuzz corpora and regressions")
struct FuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("bench/fuzz")

    static func inputs(_ target: FuzzTarget) -> [URL] {
        ["corpus", "regressions"].flatMap { folder -> [URL] in
            let dir = root.appendingPathComponent(folder).appendingPathComponent(target.rawValue)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            return names.filter { !$0.hasPrefix(".") }.sorted().map { dir.appendingPathComponent($0) }
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func everyCommittedInputPassesItsCheck(_ target: FuzzTarget) throws {
        let files = Self.inputs(target)
        #expect(!files.isEmpty, "no seed corpus for \(target.rawValue)")
        guard let check = target.check else { return }
        for file in files {
            check(Array(try Data(contentsOf: file)))  // a failing check aborts the run, naming the check
        }
    }
}
