import Synchronization

/// Checks the credentials of a request to a listener: the server side of otelcol's auth extensions
/// (`bearertokenauth`, `basicauth`), referenced from a listener's `auth: {authenticator: ID}`.
///
/// Implementations compare secrets in constant time and never log credentials.
public protocol ServerAuthenticator: Sendable {
    /// The lower-case name of the request header that carries the credentials (`authorization`).
    var headerName: String { get }
    /// The `WWW-Authenticate` value sent with a 401 (`Bearer realm="otelsink"`).
    var challenge: String { get }
    /// Decides when it can without slow work (a token comparison, a cached verification); nil when
    /// ``verify(_:)`` must decide. `credentials` is the header's value, nil when the header is absent.
    func check(_ credentials: String?) -> Bool?
    /// Decides with slow work (a bcrypt hash), off the event loop. Called only when ``check(_:)`` returned nil.
    func verify(_ credentials: String) async -> Bool
}

extension ServerAuthenticator {
    public func verify(_ credentials: String) async -> Bool { check(credentials) ?? false }

    /// Both steps: ``check(_:)``, then ``verify(_:)`` when needed.
    public func authenticate(_ credentials: String?) async -> Bool {
        if let decided = check(credentials) { return decided }
        guard let credentials else { return false }
        return await verify(credentials)
    }
}

/// A factory whose extensions are ``ServerAuthenticator``s: what `auth.authenticator` may name.
public protocol ServerAuthenticatorFactory: ExtensionFactory {}

extension ConfigReader {
    /// Reads `auth: {authenticator: ID}`; the reference is checked against the extensions once the whole config
    /// is read: a listener's must be a server authenticator, an exporter's (`role: .clientAuthenticator`) a client one.
    public func authenticatorReference(_ key: String = "auth", role: ExtensionRole = .authenticator) -> ComponentID? {
        guard contains(key) else { return nil }
        let auth = child(key)
        guard let name = auth.optionalString("authenticator") else {
            auth.report("authenticator", "is required: the ID of an authenticator extension (bearertokenauth, basicauth)")
            return nil
        }
        guard let id = try? ComponentID(parsing: name) else {
            auth.report("authenticator", "invalid component id \"\(name)\"")
            return nil
        }
        problems.addExtensionReference(path: auth.pathString("authenticator"), id: name, role: role)
        return id
    }
}

/// Comparison of secrets whose time does not depend on where they first differ.
public enum ConstantTime {
    /// Whether `a` and `b` are equal; the time taken depends only on the longer length.
    public static func equal(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        let x = Array(a)
        let y = Array(b)
        var diff: UInt8 = x.count == y.count ? 0 : 1
        for i in 0..<max(x.count, y.count) {
            diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return diff == 0
    }
}
