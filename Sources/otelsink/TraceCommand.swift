import ArgumentParser
import CollectorCore
import Foundation
import OTLP
import QueryAPI
import SQLiteStore

struct TraceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Show one stored trace as a waterfall (or as OTLP JSON / Jaeger JSON).")

    @Argument(help: "The trace ID: 32 hex characters (16 are accepted and zero-padded, as Jaeger does).")
    var traceID: String

    @OptionGroup var source: SourceOptions

    @Flag(help: "Print the trace as OTLP JSON.")
    var json = false

    @Flag(help: "Print the trace in the Jaeger JSON model (as /api/traces/{id} has it in data[0]).")
    var jaeger = false

    @Flag(help: "Show each span's attributes and events under it.")
    var attributes = false

    @Flag(help: "Show the trace's log records under their spans (at most 10,000).")
    var logs = false

    @Flag(
        help:
            "Mark the critical path (the spans that determined the trace's duration) and summarise it by service and operation; with --json, print {\"trace\": <OTLP JSON>, \"criticalPath\": {…}}."
    )
    var criticalPath = false

    @Option(help: "Colours: auto (when writing to a terminal), always, never.")
    var color: ColorMode = .auto

    @OptionGroup var output: OutputWidth

    @Option(help: "Show spans down to this depth (the root is 0); deeper ones are counted in a note.")
    var depth: Int?

    @Option(help: "Show at most this many rows; the rest are counted in a note.")
    var maxSpans: Int?

    @Flag(
        inversion: .prefixedNo,
        help:
            "Fold runs of 3 or more similar sibling spans (same service and name, no children) into one row (× N). Default: on for traces of more than 300 spans."
    )
    var fold: Bool?

    func run() async throws {
        do {
            try await lookUp()
        } catch {
            CLIError.exit(error)
        }
    }

    private func lookUp() async throws {
        guard let id = Self.parseTraceID(traceID) else {
            let shown = traceID.prefix(64)
            if traceID.count == 32 || traceID.count == 16, traceID.allSatisfy({ $0 == "0" }) {
                throw CLIError.input("invalid trace ID \"\(shown)\": an all-zero trace ID is never valid")
            }
            throw CLIError.input("invalid trace ID \"\(shown)\": expected 32 hex characters")
        }
        if json && jaeger { throw CLIError.input("--json and --jaeger cannot be used together") }
        if let depth, depth < 0 { throw CLIError.input("--depth must be 0 (the roots only) or more, got \(depth)") }
        if let maxSpans, maxSpans < 1 { throw CLIError.input("--max-spans must be at least 1, got \(maxSpans)") }
        if criticalPath && jaeger { throw CLIError.input("--critical-path and --jaeger cannot be used together") }
        let source = try self.source.open()
        guard let (trace, anomalies) = try await source.traceWithAnomalies(id: id) else {
            throw CLIError.notFound("trace \(traceID.lowercased()) not found in \(source.name)")
        }
        let path = criticalPath ? CriticalPath(trace) : nil
        if json && criticalPath {
            var out = Data("{\"trace\":".utf8) + Data(try OTLPJSON.encode(trace)) + Data(",\"criticalPath\":".utf8)
            out += Data((path?.json(traceID: id) ?? .null).serialized()) + Data("}\n".utf8)
            FileHandle.standardOutput.write(out)
        } else if json {
            FileHandle.standardOutput.write(Data(try OTLPJSON.encode(trace)) + Data("\n".utf8))
        } else if jaeger {
            FileHandle.standardOutput.write(Data(JaegerTrace.json(trace, anomalies: [id: anomalies]).serialized()) + Data("\n".utf8))
        } else {
            var waterfall = TraceWaterfall(color: color.enabled, attributes: attributes)
            waterfall.width = try output.resolve()
            waterfall.criticalPath = path
            waterfall.anomalies = anomalies
            waterfall.maxDepth = depth
            waterfall.maxSpans = maxSpans
            waterfall.foldSimilarSiblings = fold
            if logs {
                var search = LogSearch()
                search.traceID = id
                search.newestFirst = false
                search.limit = 10_000
                waterfall.logs = try await source.logs(search).records
            }
            let text = waterfall.render(trace)
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }

    static func parseTraceID(_ text: String) -> Data? {
        guard text.count == 32 || text.count == 16 else { return nil }
        return QueryValues.traceID(text)
    }
}

struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find traces: a trace matches when one of its spans matches every criterion. Newest first.")

    @Option(help: "The service (required).")
    var service: String

    @Option(help: "The operation (span name).")
    var operation: String?

    @Option(name: .customLong("tag"), help: "key=value on a span, its events or its resource (repeatable; all must match).")
    var tags: [String] = []

    @Option(help: "Minimum span duration (e.g. 200ms, 1.5s, 1m).")
    var minDuration: String?

    @Option(help: "Maximum span duration.")
    var maxDuration: String?

    @Flag(
        help:
            "Only traces where a span of the service (matching the other criteria) was flagged as unusually slow for its operation (the same as --tag otelsink.anomaly=true)."
    )
    var anomalous = false

    @Option(help: "Look this far back from now (e.g. 15m, 1h, 2d is 48h). Default 48h.")
    var since: String?

    @Option(help: "Start of the time range: RFC 3339 (2024-05-01T12:00:00Z).")
    var start: String?

    @Option(help: "End of the time range: RFC 3339. Default now.")
    var end: String?

    @Option(help: "At most this many traces (the server caps it at its max_limit).")
    var limit: Int = 20

    @Flag(help: "Print the result as JSON (one object per trace).")
    var json = false

    @OptionGroup var source: SourceOptions

    @OptionGroup var output: OutputWidth

    @OptionGroup var colors: ColorOption

    func run() async throws {
        do {
            try await find()
        } catch {
            CLIError.exit(error)
        }
    }

    private func find() async throws {
        let query = try makeQuery(now: Int64(Date().timeIntervalSince1970 * 1e9))
        let source = try self.source.open()
        let (traces, complete) = try await source.search(query)
        let summaries = traces.map(TraceSummary.init)
        if json {
            FileHandle.standardOutput.write(Data(TraceTable.json(summaries).serialized()) + Data("\n".utf8))
        } else if !summaries.isEmpty {
            FileHandle.standardOutput.write(Data(TraceTable.render(summaries, width: try output.resolve(), style: colors.style).utf8))
        }
        if !complete {
            FileHandle.standardError.write(Data("otelsink: the search stopped at its time budget; there may be more matches\n".utf8))
        }
        // Nothing found is exit code 1, as for every lookup command (the JSON, `[]`, is still printed).
        if summaries.isEmpty { throw CLIError.notFound("no traces found") }
    }

    func makeQuery(now: Int64) throws -> TraceSearchQuery {
        func duration(_ text: String?, _ flag: String) throws -> Int64? {
            guard let text else { return nil }
            guard let d = CLIDuration.nanos(text) else {
                throw CLIError.input(
                    "invalid duration \"\(text.prefix(64))\" for \(flag): expected a number with a unit, e.g. 200ms, 1.5s, 2m, 1h30m, 7d (units ns, us, ms, s, m, h, d)"
                )
            }
            return d
        }
        func time(_ text: String?, _ flag: String) throws -> Int64? {
            guard let text else { return nil }
            guard let t = QueryValues.rfc3339(text) else {
                throw CLIError.input("invalid time \"\(text.prefix(64))\" for \(flag): expected RFC 3339, e.g. 2024-05-01T12:00:00Z")
            }
            return t
        }
        if since != nil, start != nil || end != nil {
            throw CLIError.input("--since cannot be combined with --start/--end")
        }
        guard limit > 0 else { throw CLIError.input("--limit must be at least 1, got \(limit)") }
        var filters: [TagFilter] = []
        for t in tags {
            do { filters.append(try QueryValues.tagPair(t, separators: ["="], parameter: "--tag")) } catch {
                throw CLIError.input("invalid --tag \"\(t.prefix(64))\": expected key=value")
            }
        }
        if anomalous && !filters.contains(SpanAnomaly.tag) { filters.append(SpanAnomaly.tag) }
        let minD = try duration(minDuration, "--min-duration")
        let maxD = try duration(maxDuration, "--max-duration")
        if let lo = minD, let hi = maxD, hi < lo { throw CLIError.input("--max-duration is less than --min-duration") }
        let endNanos = try time(end, "--end") ?? now
        let lookback = try duration(since, "--since") ?? 48 * 3_600_000_000_000
        let startNanos = try time(start, "--start") ?? (endNanos - lookback)
        if startNanos > endNanos { throw CLIError.input("--start is after --end") }
        return TraceSearchQuery(
            service: service, operation: operation, tags: filters, minDuration: minD, maxDuration: maxD,
            startMin: startNanos, startMax: endNanos, limit: limit, timeBudget: .seconds(10))
    }
}

struct ServicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "services", abstract: "List the services that sent spans (and their operations).")

    @Flag(help: "List each service's operations (span name and kind) under it.")
    var operations = false

    @OptionGroup var source: SourceOptions

    @OptionGroup var colors: ColorOption

    func run() async throws {
        do {
            let source = try self.source.open()
            let style = colors.style
            var out = ""
            for s in try await source.services() {
                out += style.bold(TerminalSafeText.escape(s)) + "\n"
                if operations {
                    for op in try await source.operations(service: s) {
                        out += "  " + TerminalSafeText.escape(op.name) + (SpanKindName.name(op.kind).map { "  (\($0))" } ?? "") + "\n"
                    }
                }
            }
            FileHandle.standardOutput.write(Data(out.utf8))
        } catch {
            CLIError.exit(error)
        }
    }
}

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show what a database holds: spans, log records, partitions, size.")

    @Option(help: "The SQLite database (opened read-only).")
    var db: String = "./otelsink-data/traces.db"

    @Flag(help: "Print only the number of stored spans.")
    var spans = false

    @Flag(help: "Print only the number of stored log records.")
    var logRecords = false

    @OptionGroup var colors: ColorOption

    func run() async throws {
        let reader: TraceReader
        do { reader = try TraceReader(path: db) } catch {
            CLIError.exit(CLIError.storage("cannot open \(db): \(error)"))
        }
        if logRecords {
            print(try LogReader(reader).recordCount())
            return
        }
        let count = try reader.spanCount()
        if spans {
            print(count)
            return
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: db)[.size] as? Int) ?? 0
        let walSize = (try? FileManager.default.attributesOfItem(atPath: db + "-wal")[.size] as? Int) ?? 0
        let label = colors.style.bold
        print("\(label("spans:")) \(count)")
        print("\(label("log records:")) \(try LogReader(reader).recordCount())")
        print("\(label("partitions:")) \(try reader.partitions().count)")
        print("\(label("services:")) \(try reader.services().map(TerminalSafeText.escape).joined(separator: ", "))")
        print("\(label("file bytes:")) \(size)")
        let free = try reader.freeSpace()
        let freeing = free.retiredTables > 0 ? " (and \(free.retiredTables) tables of dropped partitions still being emptied)" : ""
        print("\(label("free bytes:")) \(free.freeBytes)\(freeing)")
        // The WAL file keeps its size when SQLite reuses it: this is how large it has been since the server started.
        print("\(label("WAL file bytes:")) \(walSize)")
    }
}
