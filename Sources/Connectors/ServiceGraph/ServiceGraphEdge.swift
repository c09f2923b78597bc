/// What kind of request an edge of the service graph is: the `connection_type` label, with otelcol's values.
public enum ServiceGraphConnectionType: UInt8, Sendable, Hashable {
    /// A client span paired with a server span (the label is empty).
    case unset
    /// A producer span paired with a consumer span.
    case messagingSystem
    /// A client span with a database name attribute: the database is the server.
    case database
    /// An edge completed when it expired, with a made-up peer (`user`, or a server named from a peer attribute).
    case virtualNode

    /// The label value.
    public var label: String {
        switch self {
        case .unset: ""
        case .messagingSystem: "messaging_system"
        case .database: "database"
        case .virtualNode: "virtual_node"
        }
    }
}

/// Which side of a request a span records, and so which side of an edge it fills.
enum ServiceGraphSide: Sendable {
    /// CLIENT or PRODUCER: the edge is keyed by the span's own ID.
    case client
    /// SERVER or CONSUMER: the edge is keyed by the span's parent ID (the client span's ID).
    case server
}

/// Where the two spans of one request meet: the trace ID and the client span's ID (the server span's parent). A
/// server span without a parent (a root) has span ID 0 here, as otelcol keys it by the empty parent.
struct ServiceGraphEdgeKey: Hashable, Sendable {
    var traceHigh: UInt64
    var traceLow: UInt64
    var span: UInt64

    /// Whether the server span that made this key had no parent: its caller is not instrumented (a `user`).
    var isRootServer: Bool { span == 0 }
}

/// What one span contributes to its edge, read from it before the store is locked.
struct ServiceGraphSpanSide: Sendable {
    var key: ServiceGraphEdgeKey
    var side: ServiceGraphSide
    /// PRODUCER or CONSUMER.
    var messaging: Bool
    var service: String
    var seconds: Double
    var failed: Bool
    /// Client spans: the value of the first present `virtual_node_peer_attributes` span attribute.
    var peer: String?
    /// Client spans: the value of the first present `database_name_attributes` attribute.
    var database: String?
    /// One value per configured dimension (nil where neither the resource nor the span has it); empty when none
    /// are configured.
    var dimensions: [String?]
}

/// A span side with its names as numbers of ``ServiceGraphNames`` (``ServiceGraphInterned/none`` for absent
/// ones), holding one reference to each.
struct ServiceGraphInternedSide: Sendable {
    var key: ServiceGraphEdgeKey
    var side: ServiceGraphSide
    var messaging: Bool
    var service: Int32
    var seconds: Double
    var failed: Bool
    var peer: Int32
    var database: Int32
    var dimensions: Int32
}

/// The `virtual_node` label of a series (with `virtual_node_extra_label`): which side was made up, if any.
enum ServiceGraphVirtualNode: UInt8, Sendable, Hashable {
    case none, client, server

    var label: String {
        switch self {
        case .none: ""
        case .client: "client"
        case .server: "server"
        }
    }
}

/// One request between two services as far as it is known: one side or both. Names are numbers of
/// ``ServiceGraphNames`` (``ServiceGraphInterned/none`` while unknown): an edge is a few plain words.
struct ServiceGraphEdge: Sendable {
    var key: ServiceGraphEdgeKey
    var clientSeconds: Double = 0
    var serverSeconds: Double = 0
    var client: Int32 = -1
    var server: Int32 = -1
    var peer: Int32 = -1
    var clientDimensions: Int32 = -1
    var serverDimensions: Int32 = -1
    var connectionType: ServiceGraphConnectionType = .unset
    var failed = false
    var virtualNode: ServiceGraphVirtualNode = .none

    init(key: ServiceGraphEdgeKey) { self.key = key }

    /// Both sides are known: the request can be recorded.
    var isComplete: Bool { client >= 0 && server >= 0 }

    /// Folds one span into the edge, as otelcol does: the later span's kind decides the connection type, a failed
    /// side fails the edge, and a client span with a database name completes it with the database as server.
    /// Reference counts are the caller's: see ``ServiceGraphNames``.
    mutating func fold(_ s: ServiceGraphInternedSide) {
        connectionType = s.messaging ? .messagingSystem : .unset
        failed = failed || s.failed
        switch s.side {
        case .client:
            client = s.service
            clientSeconds = s.seconds
            clientDimensions = s.dimensions
            if s.peer >= 0 { peer = s.peer }
            if s.database >= 0 {
                connectionType = .database
                server = s.database
                serverSeconds = s.seconds
            }
        case .server:
            server = s.service
            serverSeconds = s.seconds
            serverDimensions = s.dimensions
        }
    }
}
