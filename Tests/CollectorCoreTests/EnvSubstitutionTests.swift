import CollectorCore
import Testing

@Suite("Environment substitution")
struct EnvSubstitutionTests {
    let env = ["HOST": "db.internal", "PORT": "5432", "EMPTY": "", "_UNDER_1": "u"]

    func sub(_ text: String) -> Result<String, ConfigProblem> {
        EnvSubstitution.substitute(text, environment: env)
    }

    @Test func envPrefixed() {
        #expect(sub("${env:HOST}") == .success("db.internal"))
        #expect(sub("${env:HOST}:${env:PORT}") == .success("db.internal:5432"))
        #expect(sub("x-${env:_UNDER_1}-y") == .success("x-u-y"))
    }

    @Test func envWithDefault() {
        #expect(sub("${env:MISSING:-fallback}") == .success("fallback"))
        #expect(sub("${env:HOST:-fallback}") == .success("db.internal"))
        // Set but empty with a default: the default wins (shell `:-` semantics).
        #expect(sub("${env:EMPTY:-fallback}") == .success("fallback"))
        // A default may itself contain colons.
        #expect(sub("${env:MISSING:-localhost:4317}") == .success("localhost:4317"))
        #expect(sub("${env:MISSING:-}") == .success(""))
    }

    @Test func bareVariable() {
        #expect(sub("${HOST}") == .success("db.internal"))
        #expect(sub("${PORT}0") == .success("54320"))
    }

    @Test func dollarDollarIsALiteralDollar() {
        #expect(sub("$$") == .success("$"))
        #expect(sub("cost: $$5") == .success("cost: $5"))
        #expect(sub("$${env:HOST}") == .success("${env:HOST}"))
        #expect(sub("$$$${HOST}") == .success("$${HOST}"))
        // A lone `$` not followed by `{` or `$` stays as written.
        #expect(sub("a$b") == .success("a$b"))
        #expect(sub("end$") == .success("end$"))
    }

    @Test func unsetVariableBecomesEmpty() {
        #expect(sub("${env:NOPE}") == .success(""))
        #expect(sub("a${NOPE}b") == .success("ab"))
        #expect(sub("${EMPTY}") == .success(""))
    }

    @Test func textWithoutReferencesIsUntouched() {
        #expect(sub("plain value: {braces} 100%") == .success("plain value: {braces} 100%"))
    }

    @Test func unterminatedReferenceIsAProblem() throws {
        guard case .failure(let p) = sub("${env:HOST") else {
            Issue.record("expected a failure")
            return
        }
        #expect(p.message.contains("unterminated"))
        #expect(p.message.contains("${env:HOST"))
    }

    @Test(arguments: ["${env:1ABC}", "${env:}", "${}", "${env:A-B}", "${env:A B}", "${env:A.B}"])
    func invalidNamesAreProblems(_ text: String) {
        guard case .failure(let p) = sub(text) else {
            Issue.record("expected a failure for \(text)")
            return
        }
        #expect(p.message.contains("invalid environment variable name"), "\(p.message)")
    }

    @Test func otherProvidersAreRejected() {
        guard case .failure(let p) = sub("${file:/etc/passwd}") else {
            Issue.record("expected a failure")
            return
        }
        #expect(p.message.contains("unsupported config provider \"file\""))
    }

    @Test func problemsCarryTheirPathWhenLoading() {
        let yaml = """
            exporters:
              sqlite:
                path: ${env:DATA
              debug:
                verbosity: ${env:9bad}
            """
        let (_, problems) = ConfigLoader.parse(yaml: yaml, environment: [:])
        #expect(problems.count == 2)
        #expect(problems.map(\.path) == ["exporters::sqlite::path", "exporters::debug::verbosity"])
        #expect(problems[0].message.contains("unterminated"))
        #expect(problems[1].message.contains("invalid environment variable name \"9bad\""))
    }

    @Test func substitutionAppliesInsideListsAndNestedMappings() {
        let yaml = """
            a:
              b:
                - ${env:HOST}
                - x${PORT}
              c: ${env:MISSING:-d}
            """
        let (node, problems) = ConfigLoader.parse(yaml: yaml, environment: env)
        #expect(problems.isEmpty)
        #expect(
            node
                == .mapping([
                    (
                        "a",
                        .mapping([
                            ("b", .sequence([.scalar("db.internal"), .scalar("x5432")])),
                            ("c", .scalar("d")),
                        ])
                    )
                ]))
    }
}
