/// A storage extension (`file_storage`): durable places where components keep what must survive a restart. Today
/// that is the exporters' persistent sending queues (`sending_queue: {storage: ID}`).
public protocol StorageExtension: Extension {
    /// Opens (creating when absent) the durable queue `name` of component `owner`. What it held before a restart
    /// is still there. Throws a message naming the file when it cannot be opened.
    func openQueue(owner: ComponentID, kind: ComponentKind, name: String) throws -> any DurableQueueStore
}

/// A factory whose extensions are ``StorageExtension``s: what `sending_queue.storage` may name. Storage
/// extensions are built before exporters and stop after them.
public protocol StorageExtensionFactory: ExtensionFactory {}

/// One request held by a ``DurableQueueStore``, without its bytes (read them with ``DurableQueueStore/bytes(of:)``).
public struct StoredRequest: Sendable, Equatable {
    public var id: Int64
    public var signal: Signal
    public var items: Int
    public var byteCount: Int

    public init(id: Int64, signal: Signal, items: Int, byteCount: Int) {
        self.id = id
        self.signal = signal
        self.items = items
        self.byteCount = byteCount
    }
}

/// A queue of encoded requests on disk; the work happens off the caller's thread. ``append(signal:items:bytes:)`` returns only once the request is
/// committed: after it, a crash of the process does not lose it. Ids grow with each append.
public protocol DurableQueueStore: Sendable {
    /// Everything held, oldest first.
    func stored() throws -> [StoredRequest]
    func append(signal: Signal, items: Int, bytes: [UInt8]) async throws -> StoredRequest
    /// The request's bytes; nil when it is gone.
    func bytes(of id: Int64) async throws -> [UInt8]?
    func remove(_ id: Int64) async throws
}

extension ConfigReader {
    /// Reads a storage extension's ID (`sending_queue.storage`); the reference is checked against the extensions
    /// once the whole config is read.
    public func storageReference(_ key: String = "storage") -> ComponentID? {
        guard let name = optionalString(key) else { return nil }
        guard let id = try? ComponentID(parsing: name) else {
            report(key, "invalid component id \"\(name)\"")
            return nil
        }
        problems.addExtensionReference(path: pathString(key), id: name, role: .storage)
        return id
    }
}
