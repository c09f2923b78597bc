import CollectorCore
import Dispatch
import Foundation
import HummingbirdBcrypt
import Logging
import ServiceLifecycle
import Synchronization

/// Settings of the `basicauth` extension (server side), with otelcol-contrib's keys: `htpasswd.file` and
/// `htpasswd.inline` (both may be set; an inline entry wins over the file's for the same user).
///
/// Entries are `user:hash` with a bcrypt hash (`htpasswd -B`: `$2y$`, `$2b$`, `$2a$`), or `user:password` in plain
/// text, as otelcol's README writes them from environment variables. Other hash schemes (MD5 `$apr1$`, `{SHA}`,
/// crypt) are refused at validation.
public struct BasicAuthConfig: ComponentConfig, Equatable {
    public var file: String?
    public var inline: String?
    /// Users and their bcrypt hash or plain password, once read.
    var entries: [String: String] = [:]
    /// `client_auth`: the credentials sent when an exporter uses this extension.
    public var clientUsername: String?
    public var clientPassword: String?

    public init() {}

    public init(reading r: ConfigReader) {
        if r.contains("client_auth") {
            let c = r.child("client_auth")
            clientUsername = c.optionalString("username")
            clientPassword = c.optionalString("password")
            if clientUsername?.isEmpty ?? true { c.report("username", "is required") }
            if clientUsername?.contains(":") == true { c.report("username", "must not contain \":\"") }
            if clientPassword == nil { c.report("password", "is required") }
        }
        guard r.contains("htpasswd") || clientUsername == nil else { return }
        let h = r.child("htpasswd")
        file = h.optionalString("file")
        inline = h.optionalString("inline")
        if file == nil && inline == nil { h.report(nil, "set htpasswd.file or htpasswd.inline (or client_auth, for exporters)") }
        if let file {
            if let text = try? String(contentsOfFile: file, encoding: .utf8) {
                Self.parse(text, into: &entries) { h.report("file", "\(file) line \($0): \($1)") }
            } else {
                h.report("file", "cannot read \(file)")
            }
        }
        if let inline {
            Self.parse(inline, into: &entries) { h.report("inline", "line \($0): \($1)") }
        }
    }

    static func parse(_ text: String, into entries: inout [String: String], report: (Int, String) -> Void) {
        for (i, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else {
                report(i + 1, "expected user:hash")
                continue
            }
            let user = String(line[..<colon])
            let secret = String(line[line.index(after: colon)...])
            if secret.hasPrefix("$2") {
                guard secret.count == 60 else {
                    report(i + 1, "user \(user): malformed bcrypt hash")
                    continue
                }
            } else if secret.hasPrefix("$") || secret.hasPrefix("{") {
                report(i + 1, "user \(user): unsupported hash scheme; use bcrypt (htpasswd -B)")
                continue
            }
            entries[user] = secret
        }
    }
}

/// The `basicauth` extension (server side): `Authorization: Basic base64(user:password)` checked against an
/// htpasswd list. A bcrypt check takes tens of milliseconds, so it runs on one dedicated queue, at most 64 waiting
/// (beyond that a request is refused rather than queued), and a header that passed is remembered (256 entries), so
/// a client's next requests are decided at once.
public final class BasicAuthenticator: Extension, ServerAuthenticator, ClientAuthenticator {
    let config: BasicAuthConfig
    private let verified = Mutex<Set<String>>([])
    private let waiting = Atomic<Int>(0)
    private static let queue = DispatchQueue(label: "otelsink.basicauth.bcrypt")
    static let maxWaiting = 64
    static let maxRemembered = 256

    public init(config: BasicAuthConfig) { self.config = config }

    public var headerName: String { "authorization" }
    public var challenge: String { "Basic realm=\"otelsink\", charset=\"UTF-8\"" }

    /// As a client authenticator: `authorization: Basic base64(username:password)` from `client_auth`.
    public func requestHeaders() throws -> [(name: String, value: String)] {
        guard let user = config.clientUsername, let password = config.clientPassword else {
            throw PipelineError.permanent("this basicauth extension has no client_auth (username, password) to send")
        }
        return [("authorization", "Basic " + Data("\(user):\(password)".utf8).base64EncodedString())]
    }

    /// `user` and `password` from a `Basic` header; nil when malformed.
    static func decode(_ header: String) -> (user: String, password: String)? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    public func check(_ credentials: String?) -> Bool? {
        guard let credentials, let (user, password) = Self.decode(credentials), let secret = config.entries[user] else { return false }
        if !secret.hasPrefix("$2") { return ConstantTime.equal(Array(password.utf8), Array(secret.utf8)) }
        if verified.withLock({ $0.contains(credentials) }) { return true }
        return nil
    }

    public func verify(_ credentials: String) async -> Bool {
        guard let (user, password) = Self.decode(credentials), let secret = config.entries[user], secret.hasPrefix("$2") else { return false }
        guard waiting.add(1, ordering: .relaxed).newValue <= Self.maxWaiting else {
            waiting.subtract(1, ordering: .relaxed)
            return false
        }
        // The C bcrypt knows the `2a` and `2b` variants; `2y` (htpasswd's) is the same algorithm as `2b`.
        let hash = secret.hasPrefix("$2y$") ? "$2b$" + secret.dropFirst(4) : secret
        let ok = await withCheckedContinuation { continuation in
            Self.queue.async { continuation.resume(returning: Bcrypt.verify(password, hash: hash)) }
        }
        waiting.subtract(1, ordering: .relaxed)
        if ok {
            verified.withLock { set in
                if set.count >= Self.maxRemembered { set.removeAll() }
                set.insert(credentials)
            }
        }
        return ok
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
        }
    }
}

/// Registers the `basicauth` extension.
public struct BasicAuthFactory: ServerAuthenticatorFactory, ClientAuthenticatorFactory {
    public init() {}
    public var type: String { "basicauth" }
    public var kind: ComponentKind { .extension }
    public var signals: Set<Signal> { [] }
    public var summary: String { "authenticates requests by HTTP Basic credentials from an htpasswd list (bcrypt)" }

    public func readConfig(_ reader: ConfigReader) -> any ComponentConfig { BasicAuthConfig(reading: reader) }

    public func makeExtension(config: any ComponentConfig, host: ExtensionHost, context: ComponentContext) throws -> any Extension {
        BasicAuthenticator(config: try config.as(BasicAuthConfig.self, for: "basicauth"))
    }
}
