import ArgumentParser
import Foundation
import OTLP
import QueryAPI

/// `otelsink diff A B`: what differs between two stored traces (``TraceDiff``).
struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract:
            "Compare two stored traces (typically a slow and a normal request): spans only in one, and matched spans whose duration, status or attributes differ, largest difference first."
    )

    @Argument(help: "Trace A (32 hex characters; 16 are zero-padded).")
    var traceA: String

    @Argument(help: "Trace B.")
    var traceB: String

    @OptionGroup var source: SourceOptions

    @Flag(help: "Print the diff as JSON (the structure GET /api/v3/traces/{a}/diff/{b} answers in \"result\").")
    var json = false

    @Option(help: "At most this many spans in each list (changed, only in A, only in B); --json lists all.")
    var limit = 20

    @OptionGroup var output: OutputWidth

    @OptionGroup var colors: ColorOption

    func run() async throws {
        do {
            guard limit > 0 else { throw CLIError.input("--limit must be at least 1, got \(limit)") }
            var traces: [ExportTraceRequest] = []
            let source = try self.source.open()
            for text in [traceA, traceB] {
                guard let id = TraceCommand.parseTraceID(text) else {
                    throw CLIError.input("invalid trace ID \"\(text.prefix(64))\": expected 32 hex characters")
                }
                guard let trace = try await source.trace(id: id) else {
                    throw CLIError.notFound("trace \(text.lowercased()) not found in \(source.name)")
                }
                traces.append(trace)
            }
            let diff = TraceDiff(traces[0], traces[1])
            let out =
                json ? Data(diff.json()) + Data("\n".utf8) : Data(diff.text(limit: limit, width: try output.resolve(), style: colors.style).utf8)
            FileHandle.standardOutput.write(out)
        } catch {
            CLIError.exit(error)
        }
    }
}
