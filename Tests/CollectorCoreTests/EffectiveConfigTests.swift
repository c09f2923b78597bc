import CollectorCore
import CollectorService
import Testing

@Suite("Effective config (print-config)")
struct EffectiveConfigTests {
    let yaml = """
        receivers:
          otlp:
            protocols:
              grpc:
                endpoint: ${env:GRPC_ENDPOINT}
        exporters:
          sqlite:
            path: ${env:DATA_DIR:-/var/lib/otelsink}/traces.db
          debug:
            verbosity: normal
        service:
          pipelines:
            traces:
              receivers: [otlp]
              exporters: [sqlite]
            logs:
              receivers: [otlp]
              exporters: [debug]
        """
    let environment = ["GRPC_ENDPOINT": "127.0.0.1:0"]

    @Test func defaultsAreFilledInAndEnvironmentSubstituted() throws {
        let config = try loadConfig(yaml, environment: environment)
        let effective = config.effective
        #expect(
            effective["exporters"]?["sqlite"]
                == .mapping([
                    ("path", .scalar("/var/lib/otelsink/traces.db")),
                    ("retention", .scalar("72h")),
                    ("max_size_mib", .scalar("8192")),
                    ("partition", .scalar("1h")),
                    ("queue_size", .scalar("50000")),
                    ("synchronous", .scalar("normal")),
                    ("compression", .scalar("zstd")),
                    (
                        "anomalies",
                        .mapping([
                            ("enabled", .scalar("true")),
                            ("factor", .scalar("2.0")),
                            ("min_samples", .scalar("200")),
                            ("baseline_half_life", .scalar("24h")),
                            ("recent_half_life", .scalar("1h")),
                            ("max_operations", .scalar("10000")),
                        ])
                    ),
                ]))
        #expect(effective["exporters"]?["debug"] == .mapping([("verbosity", .scalar("normal"))]))
        #expect(
            effective["receivers"]?["otlp"]
                == .mapping([
                    (
                        "protocols",
                        .mapping([
                            (
                                "grpc",
                                .mapping([
                                    ("endpoint", .scalar("127.0.0.1:0")),
                                    ("max_recv_msg_size_mib", .scalar("4")),
                                    ("max_concurrent_streams", .scalar("100")),
                                    ("max_in_flight_bytes", .scalar("67108864")),
                                    ("max_connections", .scalar("4096")),
                                    ("read_header_timeout", .scalar("10s")),
                                    (
                                        "keepalive",
                                        .mapping([
                                            (
                                                "server_parameters",
                                                .mapping([
                                                    ("max_connection_idle", .scalar("5m")), ("time", .scalar("2h")), ("timeout", .scalar("20s")),
                                                ])
                                            ),
                                            (
                                                "enforcement_policy",
                                                .mapping([("min_time", .scalar("5m")), ("permit_without_stream", .scalar("false"))])
                                            ),
                                        ])
                                    ),
                                ])
                            )
                        ])
                    )
                ]))
        #expect(
            effective["service"]?["pipelines"]?["traces"]
                == .mapping([
                    ("receivers", .sequence([.scalar("otlp")])),
                    ("processors", .sequence([])),
                    ("exporters", .sequence([.scalar("sqlite")])),
                ]))
        #expect(effective["service"]?["telemetry"]?["logs"]?["level"] == .scalar("info"))
        // Sections the user did not write are not invented.
        #expect(effective["processors"] == nil)
        #expect(effective["extensions"] == nil)
    }

    @Test func explicitValuesWinOverDefaults() throws {
        let custom = yaml.replacingOccurrences(
            of: "path: ${env:DATA_DIR:-/var/lib/otelsink}/traces.db",
            with: "path: /x/t.db\n    retention: 24h\n    partition: 30m\n    synchronous: full\n    max_size_mib: 0")
        let config = try loadConfig(custom, environment: environment)
        let sqlite = try #require(config.effective["exporters"]?["sqlite"])
        #expect(sqlite["path"] == .scalar("/x/t.db"))
        #expect(sqlite["retention"] == .scalar("24h"))
        #expect(sqlite["partition"] == .scalar("30m"))
        #expect(sqlite["synchronous"] == .scalar("full"))
        #expect(sqlite["max_size_mib"] == .scalar("0"))
    }

    @Test func effectiveYAMLReparsesToTheSameTreeAndLoadsAgain() throws {
        let config = try loadConfig(yaml, environment: environment)
        let text = config.effective.yaml()
        let (node, problems) = ConfigLoader.parse(yaml: text, environment: [:])
        #expect(problems.isEmpty, "\(problems)")
        #expect(node == config.effective, "yaml():\n\(text)")

        let again = try loadConfig(text)
        #expect(again.effective == config.effective)
        #expect(again.pipelines.count == config.pipelines.count)
        #expect(again.effective.yaml() == text)
    }

    @Test func defaultConfigEffectiveYAMLRoundTrips() throws {
        let config = try loadConfig(defaultConfigYAML)
        let text = config.effective.yaml()
        let (node, problems) = ConfigLoader.parse(yaml: text, environment: [:])
        #expect(problems.isEmpty)
        #expect(node == config.effective, "yaml():\n\(text)")
        let again = try loadConfig(text)
        #expect(again.effective == config.effective)
    }

    @Test func valuesNeedingQuotesRoundTrip() throws {
        let tricky = yaml.replacingOccurrences(
            of: "path: ${env:DATA_DIR:-/var/lib/otelsink}/traces.db",
            with: #"path: "/tmp/my data/\"q\" #1: it's\ttabbed.db""#)
        let config = try loadConfig(tricky, environment: environment)
        #expect(config.effective["exporters"]?["sqlite"]?["path"] == .scalar("/tmp/my data/\"q\" #1: it's\ttabbed.db"))
        let text = config.effective.yaml()
        let (node, problems) = ConfigLoader.parse(yaml: text, environment: [:])
        #expect(problems.isEmpty)
        #expect(node == config.effective, "yaml():\n\(text)")
    }

    /// A string value that reads as YAML null when unquoted (`null`, `Null`, `NULL`) must be quoted by `yaml()`.
    @Test(arguments: ["null", "Null", "NULL"])
    func nullLookingStringsRoundTrip(_ value: String) throws {
        let tricky = yaml.replacingOccurrences(
            of: "path: ${env:DATA_DIR:-/var/lib/otelsink}/traces.db", with: "path: \"\(value)\"")
        let config = try loadConfig(tricky, environment: environment)
        #expect(config.effective["exporters"]?["sqlite"]?["path"] == .scalar(value))
        let text = config.effective.yaml()
        let (node, _) = ConfigLoader.parse(yaml: text, environment: [:])
        #expect(node["exporters"]?["sqlite"]?["path"] == .scalar(value), "yaml() wrote:\n\(text)")
    }

    /// A literal `$` (written `$$`) must survive print-config: the printed YAML is read again with substitution.
    @Test func literalDollarSurvivesRoundTrip() throws {
        let tricky = yaml.replacingOccurrences(
            of: "path: ${env:DATA_DIR:-/var/lib/otelsink}/traces.db", with: "path: /data/$${env:GRPC_ENDPOINT}/t.db")
        let config = try loadConfig(tricky, environment: environment)
        #expect(config.effective["exporters"]?["sqlite"]?["path"] == .scalar("/data/${env:GRPC_ENDPOINT}/t.db"))
        let text = config.effective.yaml()
        let (node, _) = ConfigLoader.parse(yaml: text, environment: environment)
        #expect(node["exporters"]?["sqlite"]?["path"] == .scalar("/data/${env:GRPC_ENDPOINT}/t.db"), "yaml() wrote:\n\(text)")
    }

    @Test func yamlRendersBlockStyle() {
        let node = ConfigNode.mapping([
            ("a", .scalar("1")),
            ("b", .mapping([("c", .sequence([.scalar("x"), .scalar("y z")])), ("d", .null), ("e", .mapping([]))])),
            ("f", .sequence([])),
            ("g", .sequence([.mapping([("h", .scalar("1")), ("i", .scalar("2"))])])),
        ])
        let text = node.yaml()
        #expect(
            text == """
                a: 1
                b:
                  c:
                    - x
                    - "y z"
                  d:
                  e: {}
                f: []
                g:
                  - h: 1
                    i: 2

                """)
        let (reparsed, problems) = ConfigLoader.parse(yaml: text, environment: [:])
        #expect(problems.isEmpty)
        #expect(reparsed == node)
    }
}
