import ArgumentParser
import CollectorCore
import Foundation
import QueryAPI
import SQLiteStore

/// `otelsink baselines`: the operations whose recent p99 latency moved most against their baseline.
struct BaselinesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baselines",
        abstract: "List the operations whose recent p99 latency (about the last hour) moved most against their baseline (the last days), slower or faster.")

    @Option(help: "At most this many operations.")
    var limit = 20

    @Flag(help: "Print the list as JSON (the structure GET /api/v3/baselines answers in \"result\").")
    var json = false

    @OptionGroup var source: SourceOptions

    @OptionGroup var output: OutputWidth

    func run() async throws {
        do {
            guard (1...10_000).contains(limit) else { throw CLIError.input("--limit must be from 1 to 10000, got \(limit)") }
            let shifts = try await source.open().latencyShifts(limit: limit)
            if json {
                FileHandle.standardOutput.write(Data(Self.json(shifts).serialized()) + Data("\n".utf8))
            } else if shifts.isEmpty {
                FileHandle.standardError.write(Data("no operation has enough samples for a baseline yet\n".utf8))
            } else {
                FileHandle.standardOutput.write(Data(Self.table(shifts, width: try output.resolve()).utf8))
            }
        } catch {
            CLIError.exit(error)
        }
    }

    static func json(_ shifts: [LatencyShift]) -> JSON {
        .object([("operations", .array(shifts.map(\.json)))])
    }

    /// One line per operation: `service: operation (kind)`, baseline p99 → recent p99, the change, sample counts.
    static func table(_ shifts: [LatencyShift], width: Int) -> String {
        func duration(_ nanos: Double) -> String { TraceWaterfall.duration(UInt64(max(0, nanos.rounded()))) }
        let numbers = shifts.map { s -> String in
            let samples = "(\(Int(s.recentSamples.rounded())) recent / \(Int(s.baselineSamples.rounded())) samples)"
            return duration(s.baselineP99Nanos) + " → " + duration(s.recentP99Nanos) + "  " + s.changeText + "  " + samples
        }
        let names = shifts.map { s -> String in
            let kind = SpanKindName.name(s.kind).map { " (\($0))" } ?? ""
            return TerminalSafeText.escape(s.service) + ": " + TerminalSafeText.escape(s.operation) + kind
        }
        let header = "OPERATION", values = "p99 BASELINE → RECENT"
        let numberCells = max(TerminalCells.width(values), numbers.map(TerminalCells.width).max() ?? 0)
        let nameCells = max(12, min(names.map(TerminalCells.width).max() ?? 0, width - numberCells - 2))
        var out = TerminalCells.padded(header, nameCells) + "  " + values + "\n"
        for (name, number) in zip(names, numbers) {
            out += TerminalCells.padded(TerminalCells.fit(name, nameCells), nameCells) + "  " + number + "\n"
        }
        return out
    }
}
