import CollectorCore
import CollectorService
import CollectorTesting
import Foundation
import HummingbirdBcrypt
import Testing

@testable import Extensions

@Suite("Listener security settings: tls, auth, bounds")
struct ListenerSecurityConfigTests {
    func yaml(grpcExtra: String = "", extensions: String = "", serviceExtensions: String = "") -> String {
        """
        \(extensions)
        receivers:
          otlp:
            protocols:
              grpc:
                endpoint: 127.0.0.1:0
        \(grpcExtra.split(separator: "\n").map { "        " + $0 }.joined(separator: "\n"))
        exporters:
          debug:
        service:
          \(serviceExtensions)
          pipelines:
            traces:
              receivers: [otlp]
              exporters: [debug]
        """
    }

    @Test func anAuthenticatorThatIsUndefinedOfAnotherTypeOrNotRunningIsReported() {
        let path = "receivers::otlp::protocols::grpc::auth::authenticator"
        #expect(
            loadProblemTexts(yaml(grpcExtra: "auth: {authenticator: bearertokenauth}")) == [
                "\(path): references extension \"bearertokenauth\", which is not defined under extensions"
            ])
        let notListed = yaml(grpcExtra: "auth: {authenticator: bearertokenauth}", extensions: "extensions:\n  bearertokenauth:\n    token: t")
        #expect(
            loadProblemTexts(notListed) == [
                "\(path): extension \"bearertokenauth\" must also be listed under service::extensions"
            ])
        let wrongType = yaml(
            grpcExtra: "auth: {authenticator: query}", extensions: "extensions:\n  query:\n    endpoint: 127.0.0.1:0",
            serviceExtensions: "extensions: [query]")
        #expect(
            loadProblemTexts(wrongType).contains(
                "\(path): extension \"query\" is of type query, which is not an authenticator (use bearertokenauth or basicauth)"))
        let good = yaml(
            grpcExtra: "auth: {authenticator: bearertokenauth}", extensions: "extensions:\n  bearertokenauth:\n    token: t",
            serviceExtensions: "extensions: [bearertokenauth]")
        #expect(loadProblemTexts(good) == [])
    }

    @Test func bearerTokenSettingsNeedExactlyOneSource() {
        let none = yaml(extensions: "extensions:\n  bearertokenauth:\n    scheme: Bearer", serviceExtensions: "extensions: [bearertokenauth]")
        #expect(loadProblemTexts(none) == ["extensions::bearertokenauth: set one of token, tokens or filename"])
        let both = yaml(
            extensions: "extensions:\n  bearertokenauth:\n    token: a\n    tokens: [b]", serviceExtensions: "extensions: [bearertokenauth]")
        #expect(loadProblemTexts(both) == ["extensions::bearertokenauth: set only one of token, tokens or filename"])
    }

    @Test func tlsFilesVersionsAndCipherSuitesAreChecked() {
        let tls = """
            tls:
              cert_file: /nonexistent/cert.pem
              key_file: /nonexistent/key.pem
              min_version: "1.4"
              cipher_suites: [TLS_NULL_WITH_NULL_NULL]
            """
        let problems = Set(loadProblemTexts(yaml(grpcExtra: tls)))
        let p = "receivers::otlp::protocols::grpc::tls"
        #expect(problems.contains("\(p)::cert_file: cannot read /nonexistent/cert.pem"))
        #expect(problems.contains("\(p)::key_file: cannot read /nonexistent/key.pem"))
        #expect(problems.contains("\(p)::min_version: expected one of 1.0, 1.1, 1.2, 1.3; got \"1.4\""))
        #expect(problems.contains { $0.hasPrefix("\(p)::cipher_suites: unknown or unsupported cipher suite \"TLS_NULL_WITH_NULL_NULL\"") })
        #expect(
            loadProblemTexts(yaml(grpcExtra: "tls: {}")).sorted() == [
                "\(p)::cert_file: is required when tls is set (the server's certificate, PEM)",
                "\(p)::key_file: is required when tls is set (the server's private key, PEM)",
            ])
    }
}

@Suite("bearertokenauth")
struct BearerTokenAuthenticatorTests {
    func authenticator(_ configure: (inout BearerTokenAuthConfig) -> Void) -> BearerTokenAuthenticator {
        var c = BearerTokenAuthConfig()
        configure(&c)
        return BearerTokenAuthenticator(config: c, context: ComponentContext(id: ComponentID(type: "bearertokenauth"), logger: .init(label: "test")))
    }

    @Test func onlyTheSchemeFollowedByAConfiguredTokenIsAccepted() {
        let auth = authenticator { $0.tokens = ["s3cret", "other"] }
        #expect(auth.headerName == "authorization")
        #expect(auth.check("Bearer s3cret") == true)
        #expect(auth.check("Bearer other") == true)
        #expect(auth.check("Bearer s3cre") == false)
        #expect(auth.check("Bearer s3cret ") == false)
        #expect(auth.check("s3cret") == false)
        #expect(auth.check("Basic s3cret") == false)
        #expect(auth.check(nil) == false)
        #expect(auth.check("") == false)
    }

    @Test func aTokenFileIsReadAgainWhenItChanges() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("otelsink-token-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data("first\n".utf8).write(to: file)
        let auth = authenticator {
            $0.filename = file.path
            $0.scheme = ""
        }
        #expect(auth.check("first") == true)
        #expect(auth.reloadTokenFile() == false)
        try Data("second\n".utf8).write(to: file)
        #expect(auth.reloadTokenFile() == true)
        #expect(auth.check("first") == false)
        #expect(auth.check("second") == true)
    }

    @Test func constantTimeEqualityAgreesWithEquality() {
        let seed: UInt64 = 20_261_202
        var rng = SplitMix64(seed: seed)
        for _ in 0..<500 {
            let a = (0..<Int.random(in: 0...6, using: &rng)).map { _ in UInt8.random(in: 0...2, using: &rng) }
            let b = (0..<Int.random(in: 0...6, using: &rng)).map { _ in UInt8.random(in: 0...2, using: &rng) }
            #expect(ConstantTime.equal(a, b) == (a == b), "\(a) vs \(b) (seed \(seed))")
        }
    }
}

@Suite("basicauth")
struct BasicAuthenticatorTests {
    func header(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    func authenticator(_ htpasswd: String) -> BasicAuthenticator {
        var config = BasicAuthConfig()
        BasicAuthConfig.parse(htpasswd, into: &config.entries) { line, message in Issue.record("line \(line): \(message)") }
        return BasicAuthenticator(config: config)
    }

    @Test func bcryptEntriesAreVerifiedOnceThenRememberedAndHtpasswdsTwoYPrefixIsAccepted() async {
        let hash = Bcrypt.hash("s3cret", cost: 4)  // $2b$04$…
        let apacheStyle = "$2y$" + hash.dropFirst(4)
        let auth = authenticator("alice:\(hash)\nbob:\(apacheStyle)\n")
        let alice = header("alice", "s3cret")
        #expect(auth.check(alice) == nil)  // needs bcrypt
        #expect(await auth.authenticate(alice))
        #expect(auth.check(alice) == true)  // remembered
        #expect(await auth.authenticate(header("bob", "s3cret")))
        #expect(await !auth.authenticate(header("alice", "wrong")))
        #expect(await !auth.authenticate(header("carol", "s3cret")))
        #expect(await !auth.authenticate("Bearer s3cret"))
        #expect(await !auth.authenticate("Basic !!!notbase64"))
        #expect(await !auth.authenticate(nil))
    }

    @Test func plainEntriesCompareTheWholePassword() {
        let auth = authenticator("svc:hunter2")
        #expect(auth.check(header("svc", "hunter2")) == true)
        #expect(auth.check(header("svc", "hunter")) == false)
        #expect(auth.check(header("svc", "hunter2x")) == false)
    }

    @Test func unsupportedHashSchemesAndMalformedLinesAreReported() {
        var entries: [String: String] = [:]
        var problems: [String] = []
        BasicAuthConfig.parse("a:$apr1$abc$def\nb:{SHA}xyz\nnocolon\nc:$2y$10$short\n# comment\n\nd:ok", into: &entries) {
            problems.append("\($0): \($1)")
        }
        #expect(
            problems == [
                "1: user a: unsupported hash scheme; use bcrypt (htpasswd -B)",
                "2: user b: unsupported hash scheme; use bcrypt (htpasswd -B)",
                "3: expected user:hash",
                "4: user c: malformed bcrypt hash",
            ])
        #expect(entries == ["d": "ok"])
    }
}
