import ArgumentParser
import CollectorCore
import Foundation
import QueryAPI
import SQLiteStore

/// `otelsink baselines`: the operations whose recent p99 latency moved most against their baseline.
struct BaselinesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baselines",
        abstract:
            "List the operations whose recent p99 latency (about the last hour) moved most against their baseline (the last days), slower or faster.")

    @Option(help: "At most this many operations.")
    var limit = 20

    @Flag(help: "Print the list as JSON (the structure GET /api/v3/baselines answers in \"result\").")
    var json = false

    @OptionGroup var source: SourceOptions

    @OptionGroup var output: OutputWidth

    @OptionGroup var colors: ColorOption

    func run() async throws {
        do {
            guard (1...10_000).contains(limit) else { throw CLIError.input("--limit must be from 1 to 10000, got \(limit)") }
            let shifts = try await source.open().latencyShifts(limit: limit)
            if json {
                FileHandle.standardOutput.write(Data(Self.json(shifts).serialized()) + Data("\n".utf8))
            } else if !shifts.isEmpty {
                FileHandle.standardOutput.write(Data(Self.table(shifts, width: try output.resolve(), style: colors.style).utf8))
            }
            if shifts.isEmpty { throw CLIError.notFound("no operation has enough samples for a baseline yet") }
        } catch {
            CLIError.exit(error)
        }
    }

    static func json(_ shifts: [LatencyShift]) -> JSON {
        .object([("operations", .array(shifts.map(\.json)))])
    }

    /// One line per operation: `service: operation (kind)`, baseline p99 → recent p99, the change, sample counts.
    static func table(_ shifts: [LatencyShift], width: Int, style: TerminalStyle = TerminalStyle(enabled: false)) -> String {
        func duration(_ nanos: Double) -> String { ReadableText.duration(UInt64(max(0, nanos.rounded()))) }
        func numbers(_ s: LatencyShift, _ style: TerminalStyle) -> String {
            let samples = "(\(Int(s.recentSamples.rounded())) recent / \(Int(s.baselineSamples.rounded())) samples)"
            let change = abs(s.ratio - 1) < 0.05 ? s.changeText : s.ratio > 1 ? style.red(s.changeText) : style.green(s.changeText)
            return duration(s.baselineP99Nanos) + " → " + duration(s.recentP99Nanos) + "  " + change + "  " + samples
        }
        let plain = TerminalStyle(enabled: false)
        let names = shifts.map { s -> String in
            let kind = SpanKindName.name(s.kind).map { " (\($0))" } ?? ""
            return TerminalSafeText.escape(s.service) + ": " + TerminalSafeText.escape(s.operation) + kind
        }
        let header = "OPERATION"
        let values = "p99 BASELINE → RECENT"
        let numberCells = max(TerminalCells.width(values), shifts.map { TerminalCells.width(numbers($0, plain)) }.max() ?? 0)
        let nameCells = max(12, min(names.map(TerminalCells.width).max() ?? 0, width - numberCells - 2))
        var out = style.bold(TerminalCells.padded(header, nameCells) + "  " + values) + "\n"
        for (name, s) in zip(names, shifts) {
            out += TerminalCells.padded(TerminalCells.fit(name, nameCells), nameCells) + "  " + numbers(s, style) + "\n"
        }
        return out
    }
}
