/// Adds credentials to the requests an exporter sends upstream: the client side of otelcol's auth extensions
/// (`bearertokenauth`, `basicauth` with `client_auth`), referenced from an exporter's `auth: {authenticator: ID}`.
public protocol ClientAuthenticator: Sendable {
    /// The headers to send with the next request (lower-case names). Throws when no credentials are configured.
    func requestHeaders() throws -> [(name: String, value: String)]
}

/// A factory whose extensions are ``ClientAuthenticator``s: what an exporter's `auth.authenticator` may name.
public protocol ClientAuthenticatorFactory: ExtensionFactory {}
