import CollectorCore
import CollectorService
import Foundation
import Testing

@Suite("CollectorConfig.load")
struct ConfigLoadTests {
    // MARK: Shipped configs

    @Test func embeddedDefaultConfigLoads() throws {
        let config = try loadConfig(defaultConfigYAML)
        #expect(Set(config.pipelines.keys) == [PipelineID(signal: .traces), PipelineID(signal: .metrics), PipelineID(signal: .logs)])
        #expect(config.pipelines[PipelineID(signal: .traces)]?.exporters == [ComponentID(type: "sqlite")])
        #expect(config.pipelines[PipelineID(signal: .metrics)]?.exporters == [ComponentID(type: "debug")])
        #expect(config.pipelines[PipelineID(signal: .logs)]?.exporters == [ComponentID(type: "sqlite")])
        for p in config.pipelines.values { #expect(p.receivers == [ComponentID(type: "otlp")]) }
        #expect(Set(config.receivers.keys) == [ComponentID(type: "otlp")])
        #expect(Set(config.exporters.keys) == [ComponentID(type: "sqlite"), ComponentID(type: "debug")])
        #expect(config.logLevel == .info)
    }

    @Test func embeddedDefaultConfigIsByteIdenticalToPipelinesDefaultYAML() throws {
        let file = try Data(contentsOf: repositoryRoot.appendingPathComponent("pipelines/default.yaml"))
        #expect(!file.isEmpty)
        let embedded = Data(defaultConfigYAML.utf8)
        let firstDifference =
            zip(embedded, file).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            ?? (embedded.count == file.count ? nil : min(embedded.count, file.count))
        #expect(
            embedded == file,
            """
            defaultConfigYAML (\(embedded.count) bytes) differs from pipelines/default.yaml (\(file.count) bytes) \
            first at byte \(firstDifference.map(String.init) ?? "-"); regenerate with scripts/embed-default-config.sh
            """)
    }

    @Test func everyShippedPipelineLoads() throws {
        let dir = repositoryRoot.appendingPathComponent("pipelines")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
            .sorted()
        #expect(files.contains("default.yaml"))
        // secure.yaml reads certificates, a token file and an htpasswd file from $OTELSINK_SECRETS: validation
        // checks that they can be read, so give it a folder that has them.
        let secrets = FileManager.default.temporaryDirectory.appendingPathComponent("otelsink-secrets-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: secrets, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: secrets) }
        for (file, content) in [("server.pem", "-"), ("server-key.pem", "-"), ("ingest-token", "t"), ("htpasswd", "grafana:plain")] {
            try Data(content.utf8).write(to: secrets.appendingPathComponent(file))
        }
        for name in files {
            let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            let problems = loadProblemTexts(text, environment: ["OTELSINK_SECRETS": secrets.path])
            #expect(problems.isEmpty, "pipelines/\(name): \(problems)")
        }
    }

    @Test func baseConfigLoads() throws {
        let config = try loadConfig(validBaseYAML)
        #expect(config.pipelines.count == 2)
    }

    // MARK: Problems, all at once

    @Test func everyProblemIsReportedAtOnceWithItsPath() {
        let yaml = """
            receivers:
              otlp:
                protocols:
                  grpc:
                    endpoint: nope
                    max_recv_msg_size_mib: 0
              kafka: {}
            exporters:
              sqlite:
                retentoin: 24h
                retention: soon
                max_size_mib: abc
              debug:
              debug/unused:
            service:
              pipelines:
                traces:
                  receivers: [otlp]
                  exporters: [sqlite, missing]
                metrics:
                  receivers: [otlp]
                  exporters: [sqlite]
                logs:
                  receivers: [otlp]
                foo:
                  receivers: [otlp]
                  exporters: [debug]
            """
        let problems = loadProblemTexts(yaml)
        let expected: [String] = [
            #"receivers::otlp::protocols::grpc::endpoint: expected host:port with an IP address or localhost (e.g. "localhost:4317", "0.0.0.0:4317"), got "nope""#,
            "receivers::otlp::protocols::grpc::max_recv_msg_size_mib: must be between 1 and 1024, got 0",
            #"receivers::kafka: unknown receiver type "kafka" (known types: otlp)"#,
            #"exporters::sqlite::retention: expected a duration like "72h", got "soon""#,
            #"exporters::sqlite::max_size_mib: expected an integer, got "abc""#,
            "exporters::sqlite::retentoin: unknown key",
            #"service::pipelines::traces::exporters::1: references exporter "missing", which is not defined under exporters"#,
            #"service::pipelines::metrics::exporters::0: exporter "sqlite" does not support metrics (it supports: traces, logs)"#,
            "service::pipelines::logs::exporters: a logs pipeline needs at least one exporter",
            #"service::pipelines::foo: unknown signal "foo": pipelines are named traces, metrics or logs, optionally followed by /name"#,
            "exporters::debug: defined but not used in any pipeline",
            "exporters::debug/unused: defined but not used in any pipeline",
        ]
        #expect(problems.count == expected.count, "\(problems)")
        #expect(Set(problems) == Set(expected), "missing: \(Set(expected).subtracting(problems)); unexpected: \(Set(problems).subtracting(expected))")
    }

    @Test func unknownKeyIsReported() {
        let yaml = validBaseYAML.replacingOccurrences(of: "path: /tmp/otelsink-config-test/traces.db", with: "path: /tmp/x.db\n    retentoin: 24h")
        #expect(loadProblemTexts(yaml) == ["exporters::sqlite::retentoin: unknown key"])
    }

    @Test func unknownTopLevelAndNestedKeysAreReported() {
        let yaml = validBaseYAML + "\n  telemetry:\n    logs:\n      level: debug\n      colour: red\nexporterz: {}\n"
        #expect(Set(loadProblemTexts(yaml)) == ["exporterz: unknown key", "service::telemetry::logs::colour: unknown key"])
    }

    @Test func badDurationIsReported() {
        let yaml = validBaseYAML.replacingOccurrences(of: "path: /tmp/otelsink-config-test/traces.db", with: "path: /tmp/x.db\n    retention: soon")
        #expect(loadProblemTexts(yaml) == [#"exporters::sqlite::retention: expected a duration like "72h", got "soon""#])
    }

    @Test func unknownComponentTypeIsReported() {
        let yaml = validBaseYAML.replacingOccurrences(of: "  debug:\n", with: "  debug:\n  kafka:\n    brokers: [a]\n")
        #expect(
            loadProblemTexts(yaml) == [
                #"exporters::kafka: unknown exporter type "kafka" (known types: debug, file, load_balancing, loadbalancing, nop, otlp, otlp_grpc, otlp_http, otlphttp, prometheus, sqlite)"#
            ])
    }

    @Test func aComponentOfAnUnknownTypeIsReportedOnceNotAgainWhereItIsUsed() {
        let yaml = """
            extensions:
              zpages:
            receivers:
              otlp:
                protocols: {grpc: {endpoint: 127.0.0.1:0}}
            processors:
              groupbytrace:
                wait_duration: 1s
            exporters:
              kafka:
                brokers: [a]
            service:
              extensions: [zpages]
              pipelines:
                traces: {receivers: [otlp], processors: [groupbytrace], exporters: [kafka]}
            """
        let problems = loadProblemTexts(yaml)
        #expect(problems.count == 3, "\(problems)")
        #expect(problems.allSatisfy { $0.contains("unknown") && $0.contains("type") }, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("processors::groupbytrace: unknown processor type") })
        #expect(problems.contains { $0.hasPrefix("exporters::kafka: unknown exporter type") })
        #expect(problems.contains { $0.hasPrefix("extensions::zpages: unknown extension type") })
        // A reference to something not defined at all is still reported.
        let undefined = yaml.replacingOccurrences(of: "exporters: [kafka]", with: "exporters: [kafka, zipkin]")
        #expect(
            loadProblemTexts(undefined).contains(
                #"service::pipelines::traces::exporters::1: references exporter "zipkin", which is not defined under exporters"#))
    }

    @Test func unknownExtensionTypesAndUnusedConnectorsAreReported() {
        let yaml = validBaseYAML + "\nextensions:\n  zpages:\nconnectors:\n  spanmetrics:\n"
        let problems = loadProblemTexts(yaml)
        #expect(
            Set(problems) == [
                #"extensions::zpages: unknown extension type "zpages" (known types: basicauth, bearertokenauth, file_storage, health_check, query)"#,
                "connectors::spanmetrics: connector is not used as an exporter in any pipeline (it must end one pipeline and start another)",
                "connectors::spanmetrics: connector is not used as a receiver in any pipeline (it must end one pipeline and start another)",
            ])
    }

    @Test func undefinedServiceExtensionIsReported() {
        let yaml = validBaseYAML.replacingOccurrences(of: "service:\n", with: "service:\n  extensions: [zpages]\n")
        #expect(loadProblemTexts(yaml) == [#"service::extensions::0: references extension "zpages", which is not defined under extensions"#])
    }

    @Test func undefinedReferenceInPipelineIsReported() {
        let yaml = validBaseYAML.replacingOccurrences(of: "exporters: [sqlite]", with: "exporters: [sqlite/archive]")
        let problems = loadProblemTexts(yaml)
        #expect(
            Set(problems) == [
                #"service::pipelines::traces::exporters::0: references exporter "sqlite/archive", which is not defined under exporters"#,
                "exporters::sqlite: defined but not used in any pipeline",
            ])
    }

    @Test func undefinedReceiverAndProcessorAreReported() {
        let yaml = validBaseYAML.replacingOccurrences(
            of: "receivers: [otlp]\n      exporters: [debug]", with: "receivers: [otlp, otlp/2]\n      processors: [batch]\n      exporters: [debug]")
        #expect(
            Set(loadProblemTexts(yaml)) == [
                #"service::pipelines::metrics::receivers::1: references receiver "otlp/2", which is not defined under receivers"#,
                #"service::pipelines::metrics::processors::0: references processor "batch", which is not defined under processors"#,
            ])
    }

    @Test func componentListedTwiceIsReported() {
        let yaml = validBaseYAML.replacingOccurrences(of: "exporters: [debug]", with: "exporters: [debug, debug]")
        #expect(loadProblemTexts(yaml) == [#"service::pipelines::metrics::exporters::1: "debug" is listed twice"#])
    }

    @Test func unusedComponentIsReported() {
        let yaml = validBaseYAML.replacingOccurrences(of: "  debug:\n", with: "  debug:\n  debug/spare:\n    verbosity: detailed\n")
        #expect(loadProblemTexts(yaml) == ["exporters::debug/spare: defined but not used in any pipeline"])
    }

    @Test func unusedReceiverIsReported() {
        let yaml = validBaseYAML.replacingOccurrences(
            of: "exporters:\n  sqlite:", with: "  otlp/idle:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:0\nexporters:\n  sqlite:")
        #expect(loadProblemTexts(yaml) == ["receivers::otlp/idle: defined but not used in any pipeline"])
    }

    @Test func componentNotSupportingTheSignalIsReported() {
        let yaml = validBaseYAML.replacingOccurrences(of: "exporters: [debug]", with: "exporters: [sqlite]")
        #expect(
            Set(loadProblemTexts(yaml)) == [
                #"service::pipelines::metrics::exporters::0: exporter "sqlite" does not support metrics (it supports: traces, logs)"#,
                "exporters::debug: defined but not used in any pipeline",
            ])
    }

    @Test func pipelineWithoutReceiversOrExportersIsReported() {
        let yaml = """
            receivers:
              otlp:
                protocols:
                  http:
            exporters:
              debug:
            service:
              pipelines:
                traces:
                  exporters: [debug]
                metrics:
                  receivers: [otlp]
                  exporters: []
                logs:
                  receivers: []
                  exporters: [debug]
            """
        #expect(
            Set(loadProblemTexts(yaml)) == [
                "service::pipelines::traces::receivers: a traces pipeline needs at least one receiver",
                "service::pipelines::metrics::exporters: must list at least one exporter",
                "service::pipelines::logs::receivers: must list at least one receiver",
            ])
    }

    @Test func noPipelinesIsReported() {
        let yaml = "receivers:\n  otlp:\n    protocols:\n      grpc:\nexporters:\n  debug:\n"
        let problems = loadProblemTexts(yaml)
        #expect(problems.contains("service::pipelines: no pipelines are defined; at least one is needed"))
        #expect(problems.contains("receivers::otlp: defined but not used in any pipeline"))
        #expect(problems.contains("exporters::debug: defined but not used in any pipeline"))
        #expect(problems.count == 3)
    }

    @Test func emptyDocumentIsReportedNotCrashed() {
        #expect(loadProblemTexts("") == ["service::pipelines: no pipelines are defined; at least one is needed"])
        #expect(loadProblemTexts("# only a comment\n") == ["service::pipelines: no pipelines are defined; at least one is needed"])
    }

    @Test(arguments: ["foo", "traces/", "Traces", "span"])
    func badPipelineNameIsReported(_ name: String) {
        let yaml = validBaseYAML + "\n    \(name):\n      receivers: [otlp]\n      exporters: [debug]\n"
        let problems = loadProblems(yaml)
        #expect(problems.count == 1, "\(problems)")
        #expect(problems.first?.path == "service::pipelines::\(name)")
    }

    @Test func namedPipelinesAndNamedComponentsWork() throws {
        let yaml = """
            receivers:
              otlp:
                protocols:
                  http:
                    endpoint: 127.0.0.1:0
              otlp/internal:
                protocols:
                  grpc:
                    endpoint: 127.0.0.1:0
            exporters:
              sqlite:
                path: /tmp/a/traces.db
              sqlite/archive:
                path: /tmp/b/traces.db
                retention: 720h
            service:
              pipelines:
                traces:
                  receivers: [otlp]
                  exporters: [sqlite]
                traces/2:
                  receivers: [otlp, otlp/internal]
                  exporters: [sqlite, sqlite/archive]
            """
        let config = try loadConfig(yaml)
        let archive = ComponentID(type: "sqlite", name: "archive")
        #expect(config.pipelines.count == 2)
        #expect(config.pipelines[PipelineID(signal: .traces, name: "2")]?.exporters == [ComponentID(type: "sqlite"), archive])
        #expect(
            config.pipelines[PipelineID(signal: .traces, name: "2")]?.receivers == [
                ComponentID(type: "otlp"), ComponentID(type: "otlp", name: "internal"),
            ])
        #expect(config.pipelines[PipelineID(signal: .traces)]?.exporters == [ComponentID(type: "sqlite")])
        #expect(config.exporters.count == 2)
        #expect(config.exporters[archive]?.factory.type == "sqlite")
        #expect(config.receivers.count == 2)
    }

    @Test(arguments: ["SQLite", "1sqlite", "sqlite/", "sqlite/a b", "sql-ite", "sqlite/a/b", "/archive"])
    func invalidComponentIDsAreReported(_ key: String) {
        let yaml = validBaseYAML.replacingOccurrences(of: "  debug:\n", with: "  debug:\n  \"\(key)\":\n")
        let problems = loadProblems(yaml)
        #expect(problems.count == 1, "\(problems)")
        #expect(problems.first?.path == "exporters::\(key)")
        #expect(problems.first?.message.hasPrefix("invalid component id \"\(key)\"") == true, "\(problems)")
    }

    @Test func invalidComponentIDInPipelineIsReported() {
        let yaml = validBaseYAML.replacingOccurrences(of: "exporters: [debug]", with: "exporters: [debug, \"Not Valid\"]")
        #expect(loadProblemTexts(yaml) == [#"service::pipelines::metrics::exporters::1: invalid component id "Not Valid""#])
    }

    @Test func componentIDParsing() throws {
        #expect(try ComponentID(parsing: "otlp") == ComponentID(type: "otlp"))
        #expect(try ComponentID(parsing: "sqlite/archive") == ComponentID(type: "sqlite", name: "archive"))
        #expect(try ComponentID(parsing: "a_1/x-y.z") == ComponentID(type: "a_1", name: "x-y.z"))
        #expect(ComponentID(type: "sqlite", name: "archive").description == "sqlite/archive")
        #expect(throws: ConfigProblem.self) { try ComponentID(parsing: "") }
        #expect(throws: ConfigProblem.self) { try ComponentID(parsing: "Otlp") }
        #expect(try PipelineID(parsing: "traces/2") == PipelineID(signal: .traces, name: "2"))
        #expect(try PipelineID(parsing: "logs") == PipelineID(signal: .logs))
        #expect(throws: ConfigProblem.self) { try PipelineID(parsing: "trace") }
    }

    @Test func badIntegersAndRangesAreReported() {
        let yaml = """
            receivers:
              otlp:
                protocols:
                  grpc:
                    endpoint: 127.0.0.1:0
                    max_recv_msg_size_mib: 0
                    max_concurrent_streams: lots
            exporters:
              sqlite:
                path: /tmp/x/traces.db
                max_size_mib: abc
                queue_size: 5
            service:
              pipelines:
                traces:
                  receivers: [otlp]
                  exporters: [sqlite]
            """
        #expect(
            Set(loadProblemTexts(yaml)) == [
                "receivers::otlp::protocols::grpc::max_recv_msg_size_mib: must be between 1 and 1024, got 0",
                #"receivers::otlp::protocols::grpc::max_concurrent_streams: expected an integer, got "lots""#,
                #"exporters::sqlite::max_size_mib: expected an integer, got "abc""#,
                "exporters::sqlite::queue_size: must be between 100 and 10000000, got 5",
            ])
    }

    @Test func integersMayUseUnderscores() throws {
        let yaml = validBaseYAML.replacingOccurrences(
            of: "path: /tmp/otelsink-config-test/traces.db", with: "path: /tmp/x.db\n    queue_size: 100_000")
        let config = try loadConfig(yaml)
        #expect(config.effective["exporters"]?["sqlite"]?["queue_size"] == .scalar("100000"))
    }

    @Test func inFlightBudgetSmallerThanTheBodyLimitIsReported() {
        let yaml = """
            receivers:
              otlp:
                protocols:
                  http:
                    endpoint: 127.0.0.1:0
                    max_request_body_size: 33554432
                    max_in_flight_bytes: 16777216
            exporters:
              debug:
            service:
              pipelines:
                traces:
                  receivers: [otlp]
                  exporters: [debug]
            """
        #expect(
            loadProblemTexts(yaml) == [
                "receivers::otlp::protocols::http::max_in_flight_bytes: must be at least max_request_body_size (33554432), got 16777216"
            ])
    }

    @Test func grpcInFlightBudgetSmallerThanTheMessageLimitIsReported() {
        let yaml = """
            receivers:
              otlp:
                protocols:
                  grpc:
                    endpoint: 127.0.0.1:0
                    max_recv_msg_size_mib: 8
                    max_in_flight_bytes: 4194304
            exporters:
              debug:
            service:
              pipelines:
                traces:
                  receivers: [otlp]
                  exporters: [debug]
            """
        #expect(
            loadProblemTexts(yaml) == [
                "receivers::otlp::protocols::grpc::max_in_flight_bytes: must be at least max_recv_msg_size_mib (8388608 bytes), got 4194304"
            ])
    }

    @Test(arguments: ["nope", "localhost", "localhost:99999", "localhost:http", "::1:4317", "[::1]4317", "collector.internal:4317"])
    func badEndpointIsReported(_ endpoint: String) {
        let yaml = validBaseYAML.replacingOccurrences(of: "endpoint: 127.0.0.1:0", with: "endpoint: \"\(endpoint)\"")
        #expect(
            loadProblemTexts(yaml) == [
                #"receivers::otlp::protocols::grpc::endpoint: expected host:port with an IP address or localhost (e.g. "localhost:4317", "0.0.0.0:4317"), got "\#(endpoint)""#
            ])
    }

    @Test(arguments: ["localhost:4317", ":4317", "0.0.0.0:0", "[::1]:4317"])
    func goodEndpointsLoad(_ endpoint: String) {
        let yaml = validBaseYAML.replacingOccurrences(of: "endpoint: 127.0.0.1:0", with: "endpoint: \"\(endpoint)\"")
        #expect(loadProblemTexts(yaml) == [])
    }

    @Test func sameEndpointForGRPCAndHTTPIsReported() {
        let yaml = validBaseYAML.replacingOccurrences(
            of: "endpoint: 127.0.0.1:0",
            with: "endpoint: localhost:4317\n      http:\n        endpoint: 127.0.0.1:4317")
        #expect(
            loadProblemTexts(yaml) == ["receivers::otlp::protocols::http::endpoint: grpc and http cannot listen on the same endpoint 127.0.0.1:4317"])
    }

    @Test func wrongShapesAreReported() {
        let yaml = """
            receivers: [otlp]
            exporters:
              debug: [a, b]
            service:
              pipelines:
                traces:
                  receivers: otlp
                  exporters: [debug]
            """
        let problems = loadProblemTexts(yaml)
        #expect(problems.contains("receivers: expected a mapping of component ids to settings, got a list"))
        #expect(problems.contains("exporters::debug: expected a mapping, got a list"))
        #expect(problems.contains("service::pipelines::traces::receivers: expected a list, got a scalar"))
    }

    @Test func telemetryMetricsAddressMustBeAListenAddress() {
        let yaml = validBaseYAML + "\n  telemetry:\n    metrics:\n      address: telemetry.internal:8888\n"
        #expect(
            loadProblemTexts(yaml) == [
                #"service::telemetry::metrics::address: expected host:port with an IP address or localhost (e.g. "localhost:8888"), got "telemetry.internal:8888""#
            ])
    }

    @Test func badLogLevelIsReported() {
        let yaml = validBaseYAML + "\n  telemetry:\n    logs:\n      level: verbose\n"
        #expect(loadProblemTexts(yaml) == [#"service::telemetry::logs::level: expected one of debug, info, warn, error; got "verbose""#])
    }

    @Test func telemetryReadersFormGivesTheAddress() throws {
        let readers =
            "\n  telemetry:\n    metrics:\n      readers:\n        - pull:\n            exporter:\n              prometheus:\n                host: 0.0.0.0\n                port: 18888\n"
        #expect(try loadConfig(validBaseYAML + readers).telemetryMetricsAddress == "0.0.0.0:18888")
        let ipv6 = readers.replacingOccurrences(of: "0.0.0.0", with: "::1")
        #expect(try loadConfig(validBaseYAML + ipv6).telemetryMetricsAddress == "[::1]:18888")
        let both = readers.replacingOccurrences(of: "      readers:", with: "      address: localhost:8888\n      readers:")
        #expect(loadProblemTexts(validBaseYAML + both) == ["service::telemetry::metrics::address: give either address or readers, not both"])
        let push =
            "\n  telemetry:\n    metrics:\n      readers:\n        - periodic:\n            exporter:\n              otlp:\n                endpoint: http://x:4318\n"
        #expect(
            loadProblemTexts(validBaseYAML + push).contains {
                $0.hasPrefix("service::telemetry::metrics::readers::0: only a pull reader with a prometheus exporter is supported")
            })
        let odd = readers.replacingOccurrences(of: "port: 18888", with: "port: 18888\n                without_units: true")
        #expect(
            loadProblemTexts(validBaseYAML + odd) == [
                "service::telemetry::metrics::readers::0::pull::exporter::prometheus::without_units: unknown key"
            ])
    }

    @Test func logEncodingIsConsoleOrJSON() throws {
        #expect(try loadConfig(validBaseYAML).logEncoding == .console)
        #expect(try loadConfig(validBaseYAML + "\n  telemetry:\n    logs:\n      encoding: json\n").logEncoding == .json)
        #expect(
            loadProblemTexts(validBaseYAML + "\n  telemetry:\n    logs:\n      encoding: logfmt\n")
                == [#"service::telemetry::logs::encoding: expected console or json; got "logfmt""#])
    }

    @Test func logLevelIsRead() throws {
        let config = try loadConfig(validBaseYAML + "\n  telemetry:\n    logs:\n      level: WARN\n")
        #expect(config.logLevel == .warning)
    }

    // MARK: Malformed YAML

    @Test func malformedYAMLIsAProblemNotACrash() {
        let problems = loadProblems("receivers:\n  otlp: [unclosed\nexporters: {")
        #expect(problems.count == 1)
        #expect(problems.first?.message.hasPrefix("not valid YAML") == true, "\(problems)")
    }

    @Test func tabIndentationIsAProblem() {
        let problems = loadProblems("receivers:\n\totlp:\n")
        #expect(problems.count == 1)
        #expect(problems.first?.message.hasPrefix("not valid YAML") == true, "\(problems)")
    }

    @Test func topLevelListIsAProblem() {
        let problems = loadProblemTexts("- receivers\n- exporters\n")
        #expect(problems.contains("expected a mapping, got a list"), "\(problems)")
        #expect(!problems.isEmpty)
    }

    @Test func topLevelScalarIsAProblem() {
        let problems = loadProblemTexts("just some text")
        #expect(problems.contains("expected a mapping, got a scalar"), "\(problems)")
    }

    @Test func duplicateKeysAreAProblem() {
        let yaml = validBaseYAML.replacingOccurrences(of: "  debug:\n", with: "  debug:\n  debug:\n    verbosity: detailed\n")
        let problems = loadProblems(yaml)
        #expect(problems.count == 1, "\(problems)")
        let text = problems.first?.description ?? ""
        #expect(text.contains("debug"))
        #expect(text.contains("duplicate") || text.contains("unique"), "\(text)")
    }

    @Test func nestingDeeperThan64LevelsIsAProblem() {
        var yaml = "receivers:\n"
        for level in 1...80 { yaml += String(repeating: "  ", count: level) + "k\(level):\n" }
        yaml += String(repeating: "  ", count: 81) + "leaf: 1\n"
        let (_, parseProblems) = ConfigLoader.parse(yaml: yaml, environment: [:])
        #expect(parseProblems.count == 1)
        #expect(parseProblems.first?.message == "nesting deeper than 64 levels")
        #expect(parseProblems.first?.path.hasPrefix("receivers::k1::k2::") == true)

        let problems = loadProblems(yaml)
        #expect(problems.contains { $0.message == "nesting deeper than 64 levels" })
    }

    @Test(arguments: [900, 20_000])
    func veryDeepFlowNestingIsAProblemNotACrash(_ depth: Int) {
        let yaml = "receivers: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "\n"
        let problems = loadProblems(yaml)
        #expect(!problems.isEmpty)
        let (_, parseProblems) = ConfigLoader.parse(yaml: yaml, environment: [:])
        #expect(parseProblems.count == 1, "\(parseProblems)")
        let message = parseProblems.first?.message ?? ""
        #expect(message == "nesting deeper than 64 levels" || message.hasPrefix("not valid YAML"), "\(message)")
    }

    @Test func oversizedConfigIsAProblem() {
        let yaml = validBaseYAML + "\n#" + String(repeating: "x", count: ConfigLoader.maxBytes)
        let problems = loadProblems(yaml)
        #expect(problems.count == 1)
        #expect(problems.first?.message.contains("limit is \(ConfigLoader.maxBytes)") == true, "\(problems.map(\.message))")
    }

    @Test func configAtTheSizeLimitIsRead() {
        var yaml = validBaseYAML + "\n#"
        yaml += String(repeating: "x", count: ConfigLoader.maxBytes - yaml.utf8.count)
        #expect(yaml.utf8.count == ConfigLoader.maxBytes)
        #expect(loadProblems(yaml).isEmpty)
    }

    @Test func yamlAliasesResolveToTheAnchoredValue() {
        let yaml = """
            receivers:
              otlp: &r
                protocols:
                  grpc:
                    endpoint: 127.0.0.1:0
              otlp/2: *r
            """
        let (node, problems) = ConfigLoader.parse(yaml: yaml, environment: [:])
        #expect(problems.isEmpty)
        #expect(node["receivers"]?["otlp/2"] == node["receivers"]?["otlp"])
        #expect(node["receivers"]?["otlp/2"]?["protocols"]?["grpc"]?["endpoint"] == .scalar("127.0.0.1:0"))
    }

    /// "Billion laughs": a few hundred bytes of nested aliases must not expand without limit.
    @Test func aliasExpansionIsBounded() {
        var yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1..<9 {
            let refs = Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ")
            yaml += "a\(i): &a\(i) [\(refs)]\n"
        }
        let (_, problems) = ConfigLoader.parse(yaml: yaml, environment: [:])
        #expect(problems.count == 1)
        #expect(problems.first?.message.contains("more than \(ConfigLoader.maxNodes) values") == true, "\(problems)")
    }

    @Test func nullLikeScalarsReadAsAbsent() {
        let (node, problems) = ConfigLoader.parse(yaml: "a: ~\nb: null\nc:\nd: \"null\"\ne: ''\n", environment: [:])
        #expect(problems.isEmpty)
        #expect(node == .mapping([("a", .null), ("b", .null), ("c", .null), ("d", .scalar("null")), ("e", .scalar(""))]))
    }

    // MARK: Environment in configs

    @Test func environmentIsSubstitutedBeforeValidation() throws {
        let yaml = validBaseYAML.replacingOccurrences(of: "endpoint: 127.0.0.1:0", with: "endpoint: ${env:OTLP_GRPC:-127.0.0.1:0}")
            .replacingOccurrences(of: "path: /tmp/otelsink-config-test/traces.db", with: "path: ${DATA}/traces.db\n    retention: ${env:RETENTION}")
        let config = try loadConfig(yaml, environment: ["DATA": "/srv/otel", "RETENTION": "24h"])
        let sqlite = try #require(config.effective["exporters"]?["sqlite"])
        #expect(sqlite["path"] == .scalar("/srv/otel/traces.db"))
        #expect(sqlite["retention"] == .scalar("24h"))
        #expect(config.effective["receivers"]?["otlp"]?["protocols"]?["grpc"]?["endpoint"] == .scalar("127.0.0.1:0"))

        let problems = loadProblemTexts(yaml, environment: ["DATA": "/srv/otel", "RETENTION": "soon"])
        #expect(problems == [#"exporters::sqlite::retention: expected a duration like "72h", got "soon""#])
    }
}
