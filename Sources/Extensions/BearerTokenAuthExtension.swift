import CollectorCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Settings of the `bearertokenauth` extension, with otelcol-contrib's keys: `scheme` (`Bearer`), `header`
/// (`Authorization`), and the accepted token(s) from `token`, `tokens` or `filename` (one of them).
public struct BearerTokenAuthConfig: ComponentConfig, Equatable {
    public var header = "Authorization"
    public var scheme = "Bearer"
    public var tokens: [String] = []
    /// A file holding the token (each non-empty line is one); read again when it changes.
    public var filename: String?

    public init() {}

    public init(reading r: ConfigReader) {
        header = r.string("header", default: header)
        if header.isEmpty || header.contains(where: { $0 == ":" || $0 == " " }) {
            r.report("header", "expected an HTTP header name, got \"\(header)\"")
        }
        scheme = r.string("scheme", default: scheme)
        let token = r.optionalString("token")
        let list = r.contains("tokens") ? r.stringList("tokens") : nil
        filename = r.optionalString("filename")
        let given = [token != nil, list != nil, filename != nil].filter { $0 }.count
        if given == 0 { r.report(nil, "set one of token, tokens or filename") }
        if given > 1 { r.report(nil, "set only one of token, tokens or filename") }
        if let token {
            if token.isEmpty { r.report("token", "must not be empty") }
            tokens = [token]
        }
        if let list {
            if list.isEmpty || list.contains(where: \.isEmpty) { r.report("tokens", "must list non-empty tokens") }
            tokens = list
        }
        if let filename, !FileManager.default.isReadableFile(atPath: filename) {
            r.report("filename", "cannot read \(filename)")
        }
    }
}

/// The `bearertokenauth` extension (server side): a request is accepted when its header holds
/// `<scheme> <token>` for one of the configured tokens, compared in constant time. With `filename`, the file is
/// read again every second and a change takes effect for the next request.
public final class BearerTokenAuthenticator: Extension, ServerAuthenticator, ClientAuthenticator {
    let config: BearerTokenAuthConfig
    let context: ComponentContext
    /// Accepted header values (`Bearer s3cret`), as bytes.
    private let accepted: Mutex<[[UInt8]]>
    private let fileContents = Mutex<Data?>(nil)

    public init(config: BearerTokenAuthConfig, context: ComponentContext) {
        self.config = config
        self.context = context
        accepted = Mutex(config.tokens.map { Self.headerValue(scheme: config.scheme, token: $0) })
        if config.filename != nil { _ = reloadTokenFile() }
    }

    public var headerName: String { config.header.lowercased() }
    public var challenge: String { config.scheme.isEmpty ? "Bearer realm=\"otelsink\"" : "\(config.scheme) realm=\"otelsink\"" }

    public func check(_ credentials: String?) -> Bool? {
        guard let credentials else { return false }
        let given = Array(credentials.utf8)
        // Every candidate is compared, so the time does not tell which (if any) matched.
        var match = false
        for token in accepted.withLock({ $0 }) { match = ConstantTime.equal(given, token) || match }
        return match
    }

    /// As a client authenticator: `<header>: <scheme> <token>`, with the first token (from the file as last read).
    public func requestHeaders() throws -> [(name: String, value: String)] {
        guard let first = accepted.withLock({ $0.first }) else {
            throw PipelineError.retryable("bearertokenauth has no token to send")
        }
        return [(headerName, String(decoding: first, as: UTF8.self))]
    }

    static func headerValue(scheme: String, token: String) -> [UInt8] {
        Array((scheme.isEmpty ? token : "\(scheme) \(token)").utf8)
    }

    /// Reads the token file; returns true when its content changed and was applied.
    @discardableResult
    func reloadTokenFile() -> Bool {
        guard let filename = config.filename else { return false }
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: filename)) else {
            context.logger.warning("cannot read the token file; keeping the tokens read before", metadata: ["filename": "\(filename)"])
            return false
        }
        let changed = fileContents.withLock { old -> Bool in
            guard old != data else { return false }
            old = data
            return true
        }
        guard changed else { return false }
        let tokens = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        if tokens.isEmpty {
            context.logger.warning("the token file holds no token; every request will be refused", metadata: ["filename": "\(filename)"])
        }
        accepted.withLock { $0 = tokens.map { Self.headerValue(scheme: config.scheme, token: $0) } }
        return true
    }

    /// Until shutdown: with `filename`, reads the file every second and applies a changed token.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                if Task.isCancelled { break }
                if self.config.filename != nil, self.reloadTokenFile() {
                    self.context.logger.info("token file changed; new tokens in use", metadata: ["filename": "\(self.config.filename ?? "")"])
                }
            }
        }
    }
}

/// Registers the `bearertokenauth` extension.
public struct BearerTokenAuthFactory: ServerAuthenticatorFactory, ClientAuthenticatorFactory {
    public init() {}
    public var type: String { "bearertokenauth" }
    public var kind: ComponentKind { .extension }
    public var signals: Set<Signal> { [] }
    public var summary: String { "authenticates requests by bearer token (token, tokens or a watched file)" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { BearerTokenAuthConfig(reading: reader) }

    public func makeExtension(config: any ComponentConfig, host: ExtensionHost, context: ComponentContext) throws -> any Extension {
        BearerTokenAuthenticator(config: try config.as(BearerTokenAuthConfig.self, for: "bearertokenauth"), context: context)
    }
}
