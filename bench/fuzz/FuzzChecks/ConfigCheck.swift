import CollectorCore
import CollectorService

extension FuzzChecks {
    /// The config loader: any text is either a config or a list of problems, each with a path and a message.
    public static func config(_ input: [UInt8]) {
        let text = String(decoding: input, as: UTF8.self)
        do {
            _ = try CollectorConfig.load(yaml: text, environment: ["HOME": "/tmp"], registry: .builtin)
        } catch {
            guard !error.problems.isEmpty else { fail("a config error without problems", input) }
        }
    }
}
