import CollectorCore
import CollectorService
import CollectorTesting
import Foundation
import Logging
import OTLP
import Testing

@testable import Exporters

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A fresh directory under the temporary directory, removed by `cleanUp()`.
struct ScratchDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("otelsink-file-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }
    func names() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }
    func cleanUp() { try? FileManager.default.removeItem(atPath: path) }
}

/// A wall clock tests set by hand.
final class ManualWallClock: Sendable {
    private let current: LockedValue<Date>
    init(_ date: Date) { current = LockedValue(date) }
    var now: Date { current.withLock { $0 } }
    func advance(seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}

/// 2026-12-03T05:12:41.123Z.
let rotationEpoch = Date(timeIntervalSince1970: 1_796_274_761.123)

func fileContents(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

/// The lines of a `json` file; the file must end with a newline.
func jsonLines(_ path: String) throws -> [[UInt8]] {
    let bytes = try fileContents(path)
    #expect(bytes.last == UInt8(ascii: "\n"), "\(path) does not end with a newline")
    return bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast().map(Array.init)
}

/// The records of a `proto` file: each a 4-byte big-endian length then that many bytes.
func protoRecords(_ path: String) throws -> [[UInt8]] {
    let bytes = try fileContents(path)
    var records: [[UInt8]] = []
    var offset = 0
    while offset < bytes.count {
        try #require(offset + 4 <= bytes.count, "a truncated length prefix at \(offset) in \(path)")
        let length = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
        offset += 4
        try #require(offset + length <= bytes.count, "a truncated record at \(offset) in \(path)")
        records.append(Array(bytes[offset..<offset + length]))
        offset += length
    }
    return records
}

func logsRequest(_ body: String, service: String = "svc") -> ExportLogsRequest {
    var record = Opentelemetry_Proto_Logs_V1_LogRecord()
    record.timeUnixNano = 1_700_000_000_000_000_000
    record.severityNumber = .warn
    record.severityText = body
    record.body = .string(body)
    record.traceID = SpanFactory.randomID(16)
    record.spanID = SpanFactory.randomID(8)
    record.attributes = FullFieldRequests.everyValueKind(body)
    var rl = ResourceLogs()
    var serviceName = KeyValue()
    serviceName.key = "service.name"
    serviceName.value = .string(service)
    rl.resource.attributes = [serviceName]
    var sl = Opentelemetry_Proto_Logs_V1_ScopeLogs()
    sl.logRecords = [record]
    rl.scopeLogs = [sl]
    var request = ExportLogsRequest()
    request.resourceLogs = [rl]
    return request
}

/// Random metrics with only temporalities the OTLP schema defines: OTLPJSON's decoder rejects unknown enum numbers,
/// which RandomMetricsRequests also draws.
func metricsWithKnownEnums(_ g: inout SplitMix64) -> ExportMetricsRequest {
    var request = RandomMetricsRequests.request(&g)
    let known = Opentelemetry_Proto_Metrics_V1_AggregationTemporality.cumulative
    for r in request.resourceMetrics.indices {
        for s in request.resourceMetrics[r].scopeMetrics.indices {
            for m in request.resourceMetrics[r].scopeMetrics[s].metrics.indices {
                switch request.resourceMetrics[r].scopeMetrics[s].metrics[m].data {
                case .sum(var sum)?:
                    if sum.aggregationTemporality.rawValue > 2 { sum.aggregationTemporality = known }
                    request.resourceMetrics[r].scopeMetrics[s].metrics[m].data = .sum(sum)
                case .histogram(var histogram)?:
                    if histogram.aggregationTemporality.rawValue > 2 { histogram.aggregationTemporality = known }
                    request.resourceMetrics[r].scopeMetrics[s].metrics[m].data = .histogram(histogram)
                case .exponentialHistogram(var histogram)?:
                    if histogram.aggregationTemporality.rawValue > 2 { histogram.aggregationTemporality = known }
                    request.resourceMetrics[r].scopeMetrics[s].metrics[m].data = .exponentialHistogram(histogram)
                default: break
                }
            }
        }
    }
    return request
}

/// Strings JSON must escape or carry exactly: quotes, backslashes, controls, line separators, non-BMP characters.
let awkwardText = "q\"uo\\te\u{0}\u{1}\u{1B}[2J\n\r\t\u{7F}\u{85}\u{2028}\u{2029}\u{202E}</script>é漢🦄"

@Suite struct FileExporterConfigTests {
    let factory = FileExporterFactory()

    func read(_ yaml: String) throws -> (config: FileExporterConfig, problems: [String]) {
        let (config, problems) = readComponentConfig(factory, yaml: yaml)
        return (try #require(config as? FileExporterConfig), problems)
    }

    @Test func defaults() throws {
        let (config, problems) = try read("path: /var/data/out.json")
        #expect(problems.isEmpty)
        #expect(config == FileExporterConfig(path: "/var/data/out.json"))
        #expect(config.format == .json && config.rotation == nil && config.flushInterval == .seconds(1))
        let (withRotation, rotationProblems) = try read("path: out.json\nrotation:")
        #expect(rotationProblems.isEmpty)
        #expect(withRotation.rotation == FileExporterConfig.Rotation(maxMegabytes: 100, maxDays: 0, maxBackups: 100, localTime: false))
    }

    @Test func everyKey() throws {
        let (config, problems) = try read(
            """
            path: ./out.pb
            format: proto
            compression: none
            append: true
            flush_interval: 250ms
            rotation:
              max_megabytes: 5
              max_days: 3
              max_backups: 7
              localtime: true
            """)
        #expect(problems.isEmpty)
        #expect(
            config
                == FileExporterConfig(
                    path: "./out.pb", format: .proto,
                    rotation: .init(maxMegabytes: 5, maxDays: 3, maxBackups: 7, localTime: true),
                    flushInterval: .milliseconds(250)))
    }

    @Test func missingPathIsReportedByName() throws {
        #expect(try read("format: json").problems == ["exporters::file::path: required: the file to write to"])
        #expect(try read("path: \"\"").problems == ["exporters::file::path: must not be empty"])
    }

    @Test func zstdIsRejectedAsNotSupported() throws {
        let problems = try read("path: out.json\ncompression: zstd").problems
        #expect(problems.count == 1)
        let problem = try #require(problems.first)
        #expect(problem.hasPrefix("exporters::file::compression: "))
        #expect(problem.contains("zstd is not supported"))
        #expect(
            try read("path: out.json\ncompression: gzip").problems
                == ["exporters::file::compression: expected none (zstd is not supported either), got \"gzip\""])
    }

    @Test func badValuesAndUnknownKeysAreReportedWithTheirPaths() throws {
        #expect(try read("path: out.json\nformat: yaml").problems == ["exporters::file::format: expected json or proto, got \"yaml\""])
        #expect(try read("path: out.json\npaht: x").problems == ["exporters::file::paht: unknown key"])
        #expect(try read("path: out.json\nrotation:\n  max_size: 3").problems == ["exporters::file::rotation::max_size: unknown key"])
        let bad = try read(
            """
            path: out.json
            flush_interval: soon
            rotation:
              max_megabytes: 0
              max_backups: -1
              localtime: sometimes
            append: false
            group_by:
              enabled: true
            """
        ).problems
        #expect(bad.count == 6, "\(bad)")
        for key in ["flush_interval", "rotation::max_megabytes", "rotation::max_backups", "rotation::localtime", "append", "group_by"] {
            #expect(bad.contains { $0.hasPrefix("exporters::file::\(key): ") }, "\(key) in \(bad)")
        }
    }

    @Test func theBuiltinRegistryHasIt() throws {
        let config = try CollectorConfig.load(
            yaml: """
                receivers:
                  otlp:
                    protocols:
                      grpc:
                        endpoint: 127.0.0.1:0
                exporters:
                  file:
                    path: /tmp/otelsink-file-test/out.json
                service:
                  pipelines:
                    traces: {receivers: [otlp], exporters: [file]}
                    metrics: {receivers: [otlp], exporters: [file]}
                    logs: {receivers: [otlp], exporters: [file]}
                """, environment: [:], registry: .builtin)
        #expect(config.pipelines.count == 3)
    }
}

@Suite struct FileExporterTests {
    let logger = Logger(label: "file-exporter-test")

    func exporter(
        _ path: String, _ format: FileExporterConfig.Format = .json, rotation: FileExporterConfig.Rotation? = nil,
        maxFileBytes: Int? = nil, clock: ManualWallClock? = nil
    ) -> FileExporter {
        FileExporter(
            config: FileExporterConfig(path: path, format: format, rotation: rotation), logger: logger,
            now: { clock?.now ?? Date() }, maxFileBytes: maxFileBytes)
    }

    func traces(_ name: String = "GET /checkout") -> ExportTraceRequest {
        var request = FullFieldRequests.request(trace: SpanFactory.randomID(16), other: SpanFactory.randomID(16), base: 1_700_000_000_000_000_000)
        request.resourceSpans[0].scopeSpans[0].spans[0].name = name
        return request
    }

    @Test func jsonWritesOneLinePerRequestThatDecodesToWhatWasSent() async throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let seed = TestSeed.next()
        var g = SplitMix64(seed: seed)
        let file = exporter(dir.file("data.json"))
        let sentTraces = [traces(awkwardText), traces()]
        let sentMetrics = metricsWithKnownEnums(&g)
        let sentLogs = logsRequest(awkwardText)
        try await file.consume(sentTraces[0])
        try await file.consume(sentMetrics)
        try await file.consume(sentLogs)
        try await file.consume(try EncodedTraces(encoding: sentTraces[1]))
        file.shutDown()

        let lines = try jsonLines(dir.file("data.json"))
        try #require(lines.count == 4)
        #expect(try OTLPJSON.decode(ExportTraceRequest.self, from: lines[0]) == sentTraces[0])
        #expect(try OTLPJSON.decode(ExportMetricsRequest.self, from: lines[1]) == sentMetrics, "seed \(seed)")
        #expect(try OTLPJSON.decode(ExportLogsRequest.self, from: lines[2]) == sentLogs)
        #expect(try OTLPJSON.decode(ExportTraceRequest.self, from: lines[3]) == sentTraces[1])
        // OTLP JSON: lowerCamelCase keys, IDs in lowercase hex.
        let first = String(decoding: lines[0], as: UTF8.self)
        let traceID = sentTraces[0].resourceSpans[0].scopeSpans[0].spans[0].traceID.map { String(format: "%02x", $0) }.joined()
        #expect(first.hasPrefix("{\"resourceSpans\":"))
        #expect(first.contains("\"traceId\":\"\(traceID)\""))
        // Valid JSON for any string, by an independent parser.
        for line in lines { #expect((try? JSONSerialization.jsonObject(with: Data(line))) != nil) }
    }

    @Test func protoWritesLengthPrefixedRequests() async throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let seed = TestSeed.next()
        var g = SplitMix64(seed: seed)
        let file = exporter(dir.file("data.pb"), .proto)
        let sentTraces = traces(awkwardText)
        let wireTraces = try EncodedTraces(encoding: traces())
        let sentMetrics = RandomMetricsRequests.request(&g)
        let wireMetrics = try #require(try EncodedMetrics(encoding: RandomMetricsRequests.request(&g)))
        let sentLogs = logsRequest(awkwardText)
        let wireLogs = try EncodedLogs(encoding: logsRequest("second"))
        try await file.consume(sentTraces)
        try await file.consume(wireTraces)
        try await file.consume(sentMetrics)
        try await file.consume(wireMetrics)
        try await file.consume(sentLogs)
        try await file.consume(wireLogs)
        file.shutDown()

        let records = try protoRecords(dir.file("data.pb"))
        try #require(records.count == 6)
        #expect(try ExportTraceRequest(serializedBytes: records[0]) == sentTraces)
        #expect(records[1] == wireTraces.bytes)
        #expect(try ExportMetricsRequest(serializedBytes: records[2]) == sentMetrics, "seed \(seed)")
        #expect(records[3] == wireMetrics.bytes, "seed \(seed)")
        #expect(try ExportLogsRequest(serializedBytes: records[4]) == sentLogs)
        #expect(records[5] == wireLogs.bytes)
    }

    @Test func appendsToAnExistingFile() async throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let path = dir.file("data.json")
        let sent = [traces("first"), traces("second")]
        let before = exporter(path)
        try await before.consume(sent[0])
        before.shutDown()
        let after = exporter(path)
        try await after.consume(sent[1])
        after.shutDown()
        let lines = try jsonLines(path)
        #expect(try lines.map { try OTLPJSON.decode(ExportTraceRequest.self, from: $0) } == sent)
    }

    @Test func rotatesBySizeWithTimestampedBackups() async throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let clock = ManualWallClock(rotationEpoch)
        let request = traces()
        let recordSize = try OTLPJSON.encode(request).count + 1
        // Two records fit in a file, a third does not.
        let file = exporter(dir.file("data.json"), rotation: .init(maxBackups: 0), maxFileBytes: recordSize * 5 / 2, clock: clock)
        for _ in 0..<6 {
            try await file.consume(request)
            clock.advance(seconds: 1)
        }
        file.shutDown()
        // Rotations before the 3rd (at 05:12:43.123) and the 5th export (05:12:45.123).
        #expect(try dir.names() == ["data-2026-12-03T05-12-43.123.json", "data-2026-12-03T05-12-45.123.json", "data.json"])
        for name in try dir.names() {
            let lines = try jsonLines(dir.file(name))
            #expect(lines.count == 2, "\(name)")
            for line in lines { #expect(try OTLPJSON.decode(ExportTraceRequest.self, from: line) == request) }
        }
    }

    @Test func maxBackupsKeepsTheNewest() async throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let clock = ManualWallClock(rotationEpoch)
        let request = traces()
        let recordSize = try OTLPJSON.encode(request).count + 1
        let file = exporter(dir.file("data.json"), rotation: .init(maxBackups: 2), maxFileBytes: recordSize, clock: clock)
        for _ in 0..<10 {
            try await file.consume(request)
            clock.advance(seconds: 60)
        }
        file.shutDown()
        // 9 rotations, at 05:13:41.123 … 05:21:41.123; the last two backups stay.
        #expect(try dir.names() == ["data-2026-12-03T05-20-41.123.json", "data-2026-12-03T05-21-41.123.json", "data.json"])
    }

    @Test func rotationsInTheSameMillisecondGetDistinctNames() async throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let clock = ManualWallClock(rotationEpoch)
        let file = exporter(dir.file("data.pb"), .proto, rotation: .init(maxBackups: 0), maxFileBytes: 1, clock: clock)
        let sent = (0..<5).map { traces("span \($0)") }
        for request in sent { try await file.consume(request) }
        file.shutDown()
        let names = try dir.names()
        #expect(
            names == [
                "data-2026-12-03T05-12-41.123.pb", "data-2026-12-03T05-12-41.124.pb", "data-2026-12-03T05-12-41.125.pb",
                "data-2026-12-03T05-12-41.126.pb", "data.pb",
            ])
        let records = try names.flatMap { try protoRecords(dir.file($0)) }
        #expect(try records.map { try ExportTraceRequest(serializedBytes: $0) } == sent)
    }

    @Test func maxDaysRemovesBackupsByTheTimeInTheirName() async throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        // Not backups of data.json: kept whatever their age.
        for name in ["data-2020-01-01T00-00-00.000.log", "data-notatimestamp.json", "other-2020-01-01T00-00-00.000.json"] {
            #expect(FileManager.default.createFile(atPath: dir.file(name), contents: Data("x".utf8)))
        }
        #expect(FileManager.default.createFile(atPath: dir.file("data-2020-01-01T00-00-00.000.json"), contents: Data("old".utf8)))
        let clock = ManualWallClock(rotationEpoch)
        let file = exporter(dir.file("data.json"), rotation: .init(maxDays: 1, maxBackups: 0), maxFileBytes: 1, clock: clock)
        try await file.consume(traces())
        clock.advance(seconds: 1)
        try await file.consume(traces())  // rotation at 05:12:42.123: the 2020 backup goes
        #expect(try dir.names().contains("data-2026-12-03T05-12-42.123.json"))
        #expect(!(try dir.names().contains("data-2020-01-01T00-00-00.000.json")))
        clock.advance(seconds: 86_400 + 1)
        try await file.consume(traces())  // a day and a second later: the 05:12:42 backup is more than a day old
        file.shutDown()
        #expect(
            try dir.names() == [
                "data-2020-01-01T00-00-00.000.log", "data-2026-12-04T05-12-43.123.json", "data-notatimestamp.json", "data.json",
                "other-2020-01-01T00-00-00.000.json",
            ])
    }

    @Test func aRecordLargerThanTheLimitIsWrittenWholeToAFreshFile() async throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let clock = ManualWallClock(rotationEpoch)
        let small = traces("small")
        var large = SpanFactory.request(traces: 20, spansPerTrace: 20)
        large.resourceSpans[0].scopeSpans[0].spans[0].name = String(repeating: "x", count: 10_000)
        let limit = try OTLPJSON.encode(small).count + 100
        #expect(try OTLPJSON.encode(large).count > limit * 2)
        let file = exporter(dir.file("data.json"), rotation: .init(maxBackups: 0), maxFileBytes: limit, clock: clock)
        try await file.consume(small)
        clock.advance(seconds: 1)
        try await file.consume(large)
        clock.advance(seconds: 1)
        try await file.consume(small)
        file.shutDown()
        let names = try dir.names()
        #expect(names == ["data-2026-12-03T05-12-42.123.json", "data-2026-12-03T05-12-43.123.json", "data.json"])
        let decoded = try names.map { try jsonLines(dir.file($0)).map { try OTLPJSON.decode(ExportTraceRequest.self, from: $0) } }
        #expect(decoded == [[small], [large], [small]])
    }

    @Test func anExistingFileCountsTowardsTheLimit() async throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let path = dir.file("data.json")
        let request = traces()
        let recordSize = try OTLPJSON.encode(request).count + 1
        let before = exporter(path)
        try await before.consume(request)
        before.shutDown()
        let file = exporter(path, rotation: .init(), maxFileBytes: recordSize + recordSize / 2, clock: ManualWallClock(rotationEpoch))
        try await file.consume(request)
        file.shutDown()
        #expect(try dir.names() == ["data-2026-12-03T05-12-41.123.json", "data.json"])
    }

    @Test(arguments: [FileExporterConfig.Format.json, .proto])
    func concurrentExportsNeverInterleave(_ format: FileExporterConfig.Format) async throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let seed = TestSeed.next()
        // Rotation at 64 KiB with real time: records race with rotations too.
        let file = exporter(dir.file("data.out"), format, rotation: .init(maxBackups: 0), maxFileBytes: 65_536)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    var g = SplitMix64(seed: seed &+ UInt64(task))
                    for export in 0..<50 {
                        let request = SpanFactory.request(service: "task-\(task)-\(export)", traces: 1 + g.below(3), spansPerTrace: 1 + g.below(20))
                        try await file.consume(request)
                    }
                }
            }
            try await group.waitForAll()
        }
        file.shutDown()
        var services: [String] = []
        for name in try dir.names() {
            let requests: [ExportTraceRequest] =
                switch format {
                case .json: try jsonLines(dir.file(name)).map { try OTLPJSON.decode(ExportTraceRequest.self, from: $0) }
                case .proto: try protoRecords(dir.file(name)).map { try ExportTraceRequest(serializedBytes: $0) }
                }
            services += requests.compactMap { $0.resourceSpans.first?.resource.attributes.stringValue("service.name") }
        }
        let expected = (0..<8).flatMap { task in (0..<50).map { "task-\(task)-\($0)" } }
        #expect(services.sorted() == expected.sorted(), "seed \(seed)")
        #expect(try dir.names().count > 1, "seed \(seed): no rotation happened")
    }

    @Test func aWriteFailureFailsTheExportRetryablyNamingThePath() async throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let path = dir.file("missing/data.json")
        let file = exporter(path)
        await #expect {
            try await file.consume(traces())
        } throws: { error in
            guard let failure = error as? PipelineError, case .retryable = failure.kind else { return false }
            return failure.message.contains(path)
        }
        // Once the directory exists, the next export opens the file.
        try FileManager.default.createDirectory(atPath: dir.file("missing"), withIntermediateDirectories: false)
        let request = traces()
        try await file.consume(request)
        file.shutDown()
        #expect(try jsonLines(path).map { try OTLPJSON.decode(ExportTraceRequest.self, from: $0) } == [request])
    }

    @Test func aReadOnlyDirectoryFailsTheExport() async throws {
        // root writes regardless of permissions.
        guard geteuid() != 0 else { return }
        let dir = try ScratchDirectory()
        defer {
            _ = chmod(dir.path, 0o755)
            dir.cleanUp()
        }
        #expect(chmod(dir.path, 0o555) == 0)
        let path = dir.file("data.json")
        await #expect {
            try await exporter(path).consume(traces())
        } throws: { error in
            guard let failure = error as? PipelineError, case .retryable = failure.kind else { return false }
            return failure.message.contains(path)
        }
    }

    #if os(Linux)
        @Test func aFullDiskFailsTheExport() async throws {
            let file = exporter("/dev/full")
            await #expect {
                try await file.consume(traces())
            } throws: { error in
                guard let failure = error as? PipelineError, case .retryable = failure.kind else { return false }
                return failure.message.hasPrefix("cannot write to /dev/full: ")
            }
            file.shutDown()
        }
    #endif

    @Test func runSyncsUntilShutdownThenClosesTheFile() async throws {
        let dir = try ScratchDirectory()
        defer { dir.cleanUp() }
        let path = dir.file("data.json")
        let file = FileExporter(config: FileExporterConfig(path: path, flushInterval: .milliseconds(10)), logger: logger)
        let running = RunningService(file)
        try await file.consume(traces())
        try await Task.sleep(for: .milliseconds(50))
        try await running.stop()
        #expect(try jsonLines(path).count == 1)
        await #expect {
            try await file.consume(traces())
        } throws: { error in
            guard let failure = error as? PipelineError, case .retryable = failure.kind else { return false }
            return failure.message.contains("shut down")
        }
    }

    @Test func backupTimestampsRoundTrip() throws {
        #expect(BackupNames.timestamp(RotatingFile.millis(rotationEpoch), localTime: false) == "2026-12-03T05-12-41.123")
        #expect(BackupNames.timestamp(5, localTime: false) == "1970-01-01T00-00-00.005")
        let seed = TestSeed.next()
        var g = SplitMix64(seed: seed)
        for _ in 0..<1000 {
            let millis = Int64(g.below(4_000_000_000_000))
            let text = BackupNames.timestamp(millis, localTime: false)
            #expect(BackupNames.parse(Array(text.utf8), localTime: false) == millis, "seed \(seed): \(text)")
        }
        // Local time parses back too (an hour repeated at a DST change aside).
        let local = BackupNames.timestamp(RotatingFile.millis(rotationEpoch), localTime: true)
        #expect(BackupNames.parse(Array(local.utf8), localTime: true) == RotatingFile.millis(rotationEpoch))
        for bad in ["2026-13-03T05-12-41.123", "2026-12-03 05-12-41.123", "2026-12-03T05-12-41.12x", "2026-12-03T05-12-41.1234"] {
            #expect(BackupNames.parse(Array(bad.utf8), localTime: false) == nil, "\(bad)")
        }
        let names = BackupNames(path: "/var/log/otel/data.tar.json")
        #expect(names.path(for: 5, localTime: false) == "/var/log/otel/data.tar-1970-01-01T00-00-00.005.json")
        #expect(BackupNames(path: "data").path(for: 5, localTime: false) == "./data-1970-01-01T00-00-00.005")
        #expect(BackupNames(path: "/.hidden").path(for: 5, localTime: false) == "/.hidden-1970-01-01T00-00-00.005")
    }
}
