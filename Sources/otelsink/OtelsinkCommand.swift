import ArgumentParser
import CollectorCore
import CollectorService
import Foundation
import Logging

@main
struct OtelsinkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "otelsink",
        abstract: "An OpenTelemetry-compatible collector: OTLP in, traces stored in SQLite.",
        subcommands: [
            Serve.self, Validate.self, Components.self, PrintConfig.self, TraceCommand.self, DiffCommand.self, SearchCommand.self,
            BaselinesCommand.self, LogsCommand.self, ServicesCommand.self, Stats.self, BackupCommand.self,
        ],
        defaultSubcommand: Serve.self
    )
}

/// `--config FILE`, shared by the commands that read a config.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Config file in the OpenTelemetry Collector's shape (default: the embedded default pipeline).")
    var config: String?

    func yaml() throws -> String {
        guard let path = config else { return defaultConfigYAML }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        if let size, size > ConfigLoader.maxBytes {
            fail("config file \(path) is \(size) bytes; the limit is \(ConfigLoader.maxBytes)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            fail("cannot read config file \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            fail("config file \(path) is not UTF-8 text")
        }
        return text
    }

    private func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("otelsink: \(message)\n".utf8))
        OtelsinkCommand.exit(withError: ExitCode(1))
    }

    /// Loads and validates; on problems prints them all and exits 1.
    func load() throws -> CollectorConfig {
        do {
            return try CollectorConfig.load(yaml: try yaml(), environment: ProcessInfo.processInfo.environment, registry: .builtin)
        } catch let errors as ConfigErrors {
            let source = config ?? "embedded default config"
            FileHandle.standardError.write(Data("\(source): \(errors)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the collector (the default command).")
    @OptionGroup var options: ConfigOption

    func run() async throws {
        let config = try options.load()
        let level = config.logLevel
        let json = config.logEncoding == .json
        LoggingSystem.bootstrap { label in
            if json {
                var h = JSONLogHandler(label: label)
                h.logLevel = level
                return h
            }
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "otelsink")
        DescriptorLimit.raise()
        FreedMemory.returnLargeBlocksPromptly()
        let collector: Collector
        do {
            collector = try Collector(config: config, logger: logger)
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode(1)
        }
        logger.info("otelsink starting", metadata: ["pipelines": "\(config.pipelines.keys.sorted().map(\.description))"])
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await StartupCode.releaseWhenServing(collector.status, logger: logger) }
                defer { group.cancelAll() }
                try await collector.run(logger: logger)
            }
        } catch {
            logger.critical("stopped: \(error)")
            throw ExitCode(1)
        }
        logger.info("otelsink stopped")
    }
}

struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a config and report every problem with its path.")
    @OptionGroup var options: ConfigOption

    func run() async throws {
        let config = try options.load()
        print("\(options.config ?? "embedded default config"): valid (\(config.pipelines.count) pipeline(s))")
    }
}

struct Components: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the receivers, processors, exporters, connectors and extensions otelsink has.")

    func run() async throws {
        let registry = ComponentRegistry.builtin
        for kind in [ComponentKind.receiver, .processor, .exporter, .connector, .extension] {
            print("\(kind.section):")
            let types = registry.types(of: kind)
            if types.isEmpty { print("  (none yet)") }
            for type in types {
                guard let f = registry.factory(kind: kind, type: type) else { continue }
                var signals = f.signals.sorted().map(\.rawValue).joined(separator: ", ")
                if kind == .extension { signals = f is any ServerAuthenticatorFactory ? "authenticator" : "service" }
                if let c = f as? any ConnectorFactory {
                    signals =
                        c.exporterSignals.sorted().map(\.rawValue).joined(separator: ", ") + " → "
                        + c.receiverSignals.sorted().map(\.rawValue).joined(separator: ", ")
                }
                print("  \(type.padding(toLength: max(10, type.count), withPad: " ", startingAt: 0)) [\(signals)] \(f.summary)")
            }
        }
    }
}

struct PrintConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "print-config",
        abstract: "Print the effective config: environment substituted, defaults filled in, secrets redacted.")
    @OptionGroup var options: ConfigOption

    @Flag(help: "Print secrets (tokens, passwords, header values, TLS files) instead of [REDACTED].")
    var showSecrets = false

    func run() async throws {
        let effective = try options.load().effective
        print((showSecrets ? effective : effective.redactingSecrets()).yaml(), terminator: "")
    }
}
