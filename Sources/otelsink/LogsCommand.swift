import ArgumentParser
import CollectorCore
import Foundation
import OTLP
import QueryAPI
import SQLiteStore

/// `otelsink logs`: stored log records, filtered, printed one per line (or as OTLP JSON); `--follow` keeps
/// printing new ones as they arrive.
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Show stored log records: the newest --limit that match, oldest first; --follow for new ones.")

    @Option(help: "Only this service's records.")
    var service: String?

    @Option(help: "Only records of this trace (32 hex characters).")
    var trace: String?

    @Option(help: "Only records of this span (16 hex characters).")
    var span: String?

    @Option(help: "Minimum severity: trace, debug, info, warn, error, fatal, or a severity number (1-24).")
    var severity: String?

    @Option(help: "Only records whose body contains this text (case-sensitive; repeatable, all must match).")
    var grep: [String] = []

    @Option(help: "Only records whose body matches this regular expression.")
    var regex: String?

    @Option(help: "Start: how far back from now (15m, 1h, 2d is 48h) or an RFC 3339 time. Default: everything kept.")
    var since: String?

    @Option(help: "End: how far back from now or an RFC 3339 time. Default: now and later.")
    var until: String?

    @Option(help: "At most this many records (the newest that match).")
    var limit: Int = 100

    @Flag(help: "Keep printing new matching records as they arrive, until interrupted.")
    var follow = false

    @Flag(help: "Print OTLP JSON (one ExportLogsServiceRequest; with --follow, one per line per batch).")
    var json = false

    @Option(help: "Colours: auto (when writing to a terminal), always, never.")
    var color: ColorMode = .auto

    @OptionGroup var source: SourceOptions

    func run() async throws {
        do {
            let search = try makeSearch(now: Int64(Date().timeIntervalSince1970 * 1e9))
            let source = try self.source.open()
            try await show(search, from: source)
        } catch {
            CLIError.exit(error)
        }
    }

    private func show(_ search: LogSearch, from source: TraceSource) async throws {
        let (records, complete, cursor) = try await source.logs(search)
        let format = LogLineFormat(color: color.enabled)
        print(records, format)
        if !complete {
            FileHandle.standardError.write(Data("otelsink: the search stopped at its time budget; there may be more matches\n".utf8))
        }
        guard follow else {
            // Nothing found is exit code 1, as for every lookup command (the JSON, `{}`, is still printed).
            if records.isEmpty { throw CLIError.notFound("no log records found") }
            return
        }
        // Follow by arrival, not by record time: a record stamped earlier (a batching SDK, a clock behind) or later
        // (a clock ahead) still shows once, when it is stored.
        var next = search
        next.limit = 1000
        next.after = cursor
        while !Task.isCancelled {
            let (fresh, _, advanced) = try await source.logs(next)
            next.after = advanced
            if fresh.isEmpty {
                try await Task.sleep(for: .seconds(1))
            } else {
                print(fresh, format)
            }
        }
    }

    private func print(_ records: [FlatLogRecord], _ format: LogLineFormat) {
        if json {
            // Always a JSON document, `{}` when nothing matched, except while following.
            if records.isEmpty && follow { return }
            let request = FlatLogRecord.request(records)
            let bytes = (try? OTLPJSON.encode(request)) ?? []
            FileHandle.standardOutput.write(Data(bytes) + Data("\n".utf8))
        } else if !records.isEmpty {
            let text = records.map { format.render($0) + "\n" }.joined()
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }

    func makeSearch(now: Int64) throws -> LogSearch {
        var s = LogSearch()
        s.service = service
        if let trace {
            guard let id = TraceCommand.parseTraceID(trace) else {
                throw CLIError.input("invalid --trace \"\(trace.prefix(64))\": expected 32 hex characters")
            }
            s.traceID = id
        }
        if let span {
            guard span.count == 16, let id = QueryValues.spanID(span) else {
                throw CLIError.input("invalid --span \"\(span.prefix(64))\": expected 16 hex characters, not all zero")
            }
            s.spanID = id
        }
        if let severity {
            guard let n = LogStreamLabels.minimumSeverity(severity) else {
                throw CLIError.input(
                    "invalid --severity \"\(severity.prefix(64))\": expected trace, debug, info, warn, error, fatal or a number from 1 to 24")
            }
            s.minSeverity = n
        }
        s.contains = grep.filter { !$0.isEmpty }
        if let regex {
            do { _ = try LogSearch.compile(regex, parameter: "--regex") } catch {
                throw CLIError.input("invalid --regex \"\(regex.prefix(64))\": \(error.message)")
            }
            s.pattern = regex
        }
        func time(_ text: String?, _ flag: String) throws -> Int64? {
            guard let text else { return nil }
            if let d = CLIDuration.nanos(text) { return now - d }
            if let t = QueryValues.rfc3339(text) { return t }
            throw CLIError.input(
                "invalid \(flag) \"\(text.prefix(64))\": expected a duration back from now (15m, 1h, 2d) or an RFC 3339 time (2024-05-01T12:00:00Z)")
        }
        s.start = try time(since, "--since") ?? 0
        s.end = try time(until, "--until") ?? .max
        if s.start > s.end { throw CLIError.input("--since is after --until") }
        guard limit > 0 else { throw CLIError.input("--limit must be at least 1, got \(limit)") }
        s.limit = limit
        return s
    }

    /// `2d` as hours (Go durations have no day unit).

}
