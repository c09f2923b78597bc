import CollectorCore
import CollectorService
import Foundation
import Testing

/// The repository root, found from this file's path (Tests/CollectorCoreTests/<file>).
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()
    .deletingLastPathComponent()
    .deletingLastPathComponent()

/// Loads `yaml` with the builtin registry and returns the problems (empty when it loaded).
func loadProblems(_ yaml: String, environment: [String: String] = [:], registry: ComponentRegistry = .builtin) -> [ConfigProblem] {
    do {
        _ = try CollectorConfig.load(yaml: yaml, environment: environment, registry: registry)
        return []
    } catch {
        return error.problems
    }
}

/// Problems rendered as `path: message`, as the CLI prints them.
func loadProblemTexts(_ yaml: String, environment: [String: String] = [:], registry: ComponentRegistry = .builtin) -> [String] {
    loadProblems(yaml, environment: environment, registry: registry).map(\.description)
}

/// Loads `yaml`, recording an issue (with every problem) when it does not load.
func loadConfig(
    _ yaml: String, environment: [String: String] = [:], registry: ComponentRegistry = .builtin,
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> CollectorConfig {
    do {
        return try CollectorConfig.load(yaml: yaml, environment: environment, registry: registry)
    } catch {
        Issue.record("config did not load: \(error)", sourceLocation: sourceLocation)
        throw error
    }
}

/// A minimal valid config: otlp on ephemeral ports, sqlite for traces and debug for metrics.
let validBaseYAML = """
    receivers:
      otlp:
        protocols:
          grpc:
            endpoint: 127.0.0.1:0
    exporters:
      sqlite:
        path: /tmp/otelsink-config-test/traces.db
      debug:
    service:
      pipelines:
        traces:
          receivers: [otlp]
          exporters: [sqlite]
        metrics:
          receivers: [otlp]
          exporters: [debug]
    """
