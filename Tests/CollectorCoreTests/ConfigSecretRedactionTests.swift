import CollectorCore
import CollectorService
import Testing

@Suite struct ConfigSecretRedactionTests {
    func parsed(_ yaml: String) -> ConfigNode {
        let (node, problems) = ConfigLoader.parse(yaml: yaml, environment: ["SECRET": "s3cr3t"])
        #expect(problems.isEmpty, "\(problems)")
        return node
    }

    @Test func secretKeysAreRedactedWhateverTheirCaseAndShape() {
        let node = parsed(
            """
            extensions:
              bearertokenauth:
                token: ${env:SECRET}
                Tokens: [a, b]
              basicauth:
                htpasswd:
                  file: /etc/htpasswd
                  inline: "user:pass"
                client_auth:
                  Password: hunter2
                  client-secret: x
            exporters:
              otlphttp:
                endpoint: https://example.com
                api_key: k1
                Authorization: Bearer k2
                my_bearer_token: k3
                tls:
                  cert_file: /c.pem
                  key_file: /k.pem
                  ca_file: /ca.pem
                  client_ca_file: /cca.pem
                  key_pem: PEM
                  insecure: false
            """)
        let redacted = node.redactingSecrets()
        let text = redacted.yaml()
        for secret in ["s3cr3t", "user:pass", "hunter2", "k1", "k2", "k3", "/c.pem", "/k.pem", "/ca.pem", "/cca.pem", "PEM", " a\n", " b\n"] {
            #expect(!text.contains(secret), "\(secret) in:\n\(text)")
        }
        #expect(redacted["extensions"]?["bearertokenauth"]?["token"] == .scalar("[REDACTED]"))
        #expect(redacted["extensions"]?["bearertokenauth"]?["Tokens"] == .sequence([.scalar("[REDACTED]"), .scalar("[REDACTED]")]))
        #expect(redacted["extensions"]?["basicauth"]?["client_auth"]?["client-secret"] == .scalar("[REDACTED]"))
        // What is not a secret stays.
        #expect(redacted["exporters"]?["otlphttp"]?["endpoint"] == .scalar("https://example.com"))
        #expect(redacted["exporters"]?["otlphttp"]?["tls"]?["insecure"] == .scalar("false"))
    }

    @Test func headerValuesAreRedactedButTheirNamesStay() {
        let node = parsed(
            """
            exporters:
              otlphttp:
                headers:
                  X-Api-Key: k1
                  X-Tenant: t1
            extensions:
              headers_setter:
                headers:
                  - key: X-Scope-OrgID
                    action: upsert
                    value: k2
                    default_value: k3
                    from_context: tenant
            """)
        let redacted = node.redactingSecrets()
        #expect(
            redacted["exporters"]?["otlphttp"]?["headers"]
                == .mapping([
                    ("X-Api-Key", .scalar("[REDACTED]")), ("X-Tenant", .scalar("[REDACTED]")),
                ]))
        #expect(
            redacted["extensions"]?["headers_setter"]?["headers"]
                == .sequence([
                    .mapping([
                        ("key", .scalar("X-Scope-OrgID")), ("action", .scalar("upsert")), ("value", .scalar("[REDACTED]")),
                        ("default_value", .scalar("[REDACTED]")), ("from_context", .scalar("tenant")),
                    ])
                ]))
    }

    @Test func attributeKeysAndOrdinarySettingsAreKept() throws {
        let config = try loadConfig(
            """
            receivers:
              otlp:
                protocols:
                  http:
                    endpoint: 127.0.0.1:0
            processors:
              attributes:
                actions:
                  - key: user.password
                    action: delete
            exporters:
              debug:
                verbosity: normal
            service:
              pipelines:
                traces:
                  receivers: [otlp]
                  processors: [attributes]
                  exporters: [debug]
            """)
        // Nothing in otelsink's own components is a secret: redaction leaves their effective config as it is.
        #expect(config.effective.redactingSecrets() == config.effective)
        #expect(try loadConfig(defaultConfigYAML).effective.redactingSecrets() == loadConfig(defaultConfigYAML).effective)
    }
}
