import CollectorCore
import SQLiteStore
import Testing

@Suite("SQLiteStoreConfig")
struct StoreConfigTests {
    /// Reads `yaml` (the exporter's settings) as the config loader would, under `exporters::sqlite`.
    func read(_ yaml: String) -> (config: SQLiteStoreConfig, problems: [String]) {
        let (node, parseProblems) = ConfigLoader.parse(yaml: yaml, environment: [:])
        #expect(parseProblems.isEmpty)
        let problems = ConfigProblems()
        let reader = ConfigReader(node, path: ["exporters", "sqlite"], problems: problems)
        let config = SQLiteStoreConfig(reading: reader)
        reader.finish()
        return (config, problems.all.map(\.description))
    }

    @Test func defaults() {
        let (config, problems) = read("")
        #expect(problems.isEmpty)
        #expect(config == SQLiteStoreConfig())
        #expect(config.path == "./otelsink-data/traces.db")
        #expect(config.retention == .seconds(72 * 3600))
        #expect(config.maxSizeMiB == 8192)
        #expect(config.partition == .seconds(3600))
        #expect(config.queueSize == 50_000)
        #expect(config.synchronous == .normal)
    }

    @Test func everySettingIsRead() {
        let (config, problems) = read(
            """
            path: /var/lib/otelsink/t.db
            retention: 24h
            max_size_mib: 0
            partition: 30m
            queue_size: 1000
            synchronous: full
            """)
        #expect(problems.isEmpty)
        #expect(config.path == "/var/lib/otelsink/t.db")
        #expect(config.retention == .seconds(86_400))
        #expect(config.maxSizeMiB == 0)
        #expect(config.partition == .seconds(1800))
        #expect(config.queueSize == 1000)
        #expect(config.synchronous == .full)
    }

    @Test func retentionBelowTheMinimumIsRejected() {
        let (config, problems) = read("retention: 10s")
        #expect(problems == [#"exporters::sqlite::retention: must be at least 1m, got "10s""#])
        #expect(config.retention == .seconds(72 * 3600))
    }

    @Test func partitionLongerThanRetentionIsRejected() {
        let (_, problems) = read("retention: 2h\npartition: 3h")
        #expect(problems == ["exporters::sqlite::partition: must not be longer than retention (2h)"])
    }

    @Test func partitionEqualToRetentionIsAccepted() {
        let (config, problems) = read("retention: 2h\npartition: 2h")
        #expect(problems.isEmpty)
        #expect(config.partition == .seconds(7200))
    }

    @Test func unknownSynchronousModeIsRejected() {
        let (config, problems) = read("synchronous: sometimes")
        #expect(problems == [#"exporters::sqlite::synchronous: expected normal or full, got "sometimes""#])
        #expect(config.synchronous == .normal)
    }

    @Test(arguments: [1, 3, 15])
    func tinySizeLimitIsRejected(_ mib: Int) {
        let (_, problems) = read("max_size_mib: \(mib)")
        #expect(problems == ["exporters::sqlite::max_size_mib: must be 0 (no limit) or at least 16, got \(mib)"])
    }

    @Test func sizeLimitOf16IsAccepted() {
        let (config, problems) = read("max_size_mib: 16")
        #expect(problems.isEmpty)
        #expect(config.maxSizeMiB == 16)
    }

    @Test func negativeSizeAndBadQueueAreRejected() {
        let (_, problems) = read("max_size_mib: -1\nqueue_size: 99")
        #expect(
            problems == [
                "exporters::sqlite::max_size_mib: must be between 0 and 1073741824, got -1",
                "exporters::sqlite::queue_size: must be between 100 and 10000000, got 99",
            ])
    }

    @Test func emptyPathAndUnknownKeysAreRejected() {
        let (_, problems) = read("path: \"\"\nretension: 1h")
        #expect(Set(problems) == ["exporters::sqlite::path: must not be empty", "exporters::sqlite::retension: unknown key"])
    }

    @Test func everyProblemIsReported() {
        let (_, problems) = read("retention: 10s\npartition: 10s\nsynchronous: sometimes\nmax_size_mib: 3")
        #expect(
            Set(problems) == [
                #"exporters::sqlite::retention: must be at least 1m, got "10s""#,
                #"exporters::sqlite::partition: must be at least 1m, got "10s""#,
                #"exporters::sqlite::synchronous: expected normal or full, got "sometimes""#,
                "exporters::sqlite::max_size_mib: must be 0 (no limit) or at least 16, got 3",
            ])
    }
}
