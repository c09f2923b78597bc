extension ConfigNode {
    /// What a redacted secret prints as.
    public static let redactedText = "[REDACTED]"

    /// This config with every secret replaced by `[REDACTED]`, for printing (`print-config`, logs); never for
    /// running. Secrets are the values of keys named, case-insensitively and with `-` read as `_`:
    /// - `token`, `tokens`, `password`, `passphrase`, `secret`, `client_secret`, `api_key`, `apikey`, `authorization`,
    ///   `bearer_token`, `htpasswd`, `inline` (basic auth's inline htpasswd);
    /// - `key_file`, `key_pem`, `cert_file`, `ca_file`, `client_ca_file` (TLS material);
    /// - anything ending in `_token`, `_tokens`, `_password`, `_secret`, `_api_key`, `_key_file` or `_key_pem`;
    /// - every value under `headers` (header names, and `key`, `name`, `action` and `from_context` entries, stay).
    ///
    /// A bare `key` stays: in otelsink's config it names an attribute (attributes and resource actions,
    /// tail_sampling policies). Whole lists and mappings under a secret key are redacted value by value, so the
    /// shape still shows.
    public func redactingSecrets() -> ConfigNode { redacting(values: false) }

    /// With `values`, every scalar is redacted except the header-naming fields of a `headers` entry.
    private func redacting(values: Bool) -> ConfigNode {
        switch self {
        case .null:
            return .null
        case .scalar:
            return values ? .scalar(Self.redactedText) : self
        case .sequence(let items):
            return .sequence(items.map { $0.redacting(values: values) })
        case .mapping(let entries):
            return .mapping(
                entries.map { key, value in
                    let name = key.lowercased().replacingOccurrences(of: "-", with: "_")
                    if Self.isSecretKey(name) { return (key, value.redacting(values: true)) }
                    if name == "headers" { return (key, value.redacting(values: true)) }
                    if values, Self.headerEntryFields.contains(name) { return (key, value) }
                    return (key, value.redacting(values: values))
                })
        }
    }

    private static let secretKeys: Set<String> = [
        "token", "tokens", "password", "passphrase", "secret", "client_secret", "api_key", "apikey", "authorization",
        "bearer_token", "htpasswd", "inline", "key_file", "key_pem", "cert_file", "ca_file", "client_ca_file",
    ]
    private static let secretSuffixes = ["_token", "_tokens", "_password", "_secret", "_api_key", "_key_file", "_key_pem"]
    /// The fields of a `headers` list entry (otelcol's headers_setter) that name a header rather than hold its value.
    private static let headerEntryFields: Set<String> = ["key", "name", "action", "from_context"]

    private static func isSecretKey(_ name: String) -> Bool {
        secretKeys.contains(name) || secretSuffixes.contains { name.hasSuffix($0) }
    }
}
