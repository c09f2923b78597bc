import Synchronization

/// What a referenced extension must be: checked at validate time against the extension's factory.
public enum ExtensionRole: Sendable {
    /// `auth: {authenticator: ID}` on a listener.
    case authenticator
    /// `sending_queue: {storage: ID}` on an exporter.
    case storage
    /// `auth: {authenticator: ID}` on an exporter.
    case clientAuthenticator

    public func accepts(_ factory: any ComponentFactory) -> Bool {
        switch self {
        case .authenticator: factory is any ServerAuthenticatorFactory
        case .storage: factory is any StorageExtensionFactory
        case .clientAuthenticator: factory is any ClientAuthenticatorFactory
        }
    }

    /// How a problem names the role: "… which is not \(expected)".
    public var expected: String {
        switch self {
        case .authenticator: "an authenticator (use bearertokenauth or basicauth)"
        case .storage: "a storage extension (use file_storage)"
        case .clientAuthenticator: "a client authenticator (use bearertokenauth, or basicauth with client_auth)"
        }
    }
}

/// The extensions of a running collector that other components refer to by ID: filled as extensions are built
/// (storage before the exporters that use it), read by the components that name one.
public final class ExtensionDirectory: Sendable {
    private let entries = Mutex<[ComponentID: any Extension]>([:])

    public init() {}

    public func register(_ extension: any Extension, as id: ComponentID) {
        entries.withLock { $0[id] = `extension` }
    }

    private func lookup<T>(_ id: ComponentID, as type: T.Type, role: ExtensionRole) throws -> T {
        guard let found = entries.withLock({ $0[id] }) else {
            throw PipelineError.permanent("extension \"\(id)\" is not running; list it under service.extensions")
        }
        guard let typed = found as? T else { throw PipelineError.permanent("extension \"\(id)\" is not \(role.expected)") }
        return typed
    }

    /// The authenticator `id` names; throws (naming it) when there is none, which config validation prevents.
    public func authenticator(_ id: ComponentID) throws -> any ServerAuthenticator {
        try lookup(id, as: (any ServerAuthenticator).self, role: .authenticator)
    }

    /// The client authenticator `id` names; throws (naming it) when it is not running (yet).
    public func clientAuthenticator(_ id: ComponentID) throws -> any ClientAuthenticator {
        try lookup(id, as: (any ClientAuthenticator).self, role: .clientAuthenticator)
    }

    /// The storage extension `id` names; throws (naming it) when there is none, which config validation prevents.
    public func storage(_ id: ComponentID) throws -> any StorageExtension {
        try lookup(id, as: (any StorageExtension).self, role: .storage)
    }
}
