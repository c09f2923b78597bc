/// The names the service graph refers to by number: services, peers and databases (`text`), and the dimension
/// values of a side (`dimensions`, one tuple per side; a tuple of absent values is ``ServiceGraphInterned/none``).
///
/// Every edge in the store and every series key holds one reference to each name it has; a span side holds one
/// from ``intern(_:memo:)`` until it is folded into an edge or dropped. The virtual nodes' `user` and `unknown`
/// are held for good. Not thread-safe; the connector holds it under its lock.
struct ServiceGraphNames: Sendable {
    var text = ServiceGraphInterned<String>()
    var dimensions = ServiceGraphInterned<[String?]>()
    /// `user`: the client of a root server span whose caller is not instrumented.
    let user: Int32
    /// `unknown`: the server of a client span without a peer attribute.
    let unknown: Int32

    init() {
        user = text.intern("user")
        unknown = text.intern("unknown")
    }

    /// The last service name interned within one request, and its number: the spans of a resource share it, so a
    /// request hashes its service name once, not once per span. It holds a reference of its own, given back by
    /// ``end(_:)``.
    struct Memo {
        var service: String?
        var number: Int32 = -1
    }

    /// `side` with its names as numbers, one reference to each.
    mutating func intern(_ side: ServiceGraphSpanSide, memo: inout Memo) -> ServiceGraphInternedSide {
        let service: Int32
        if memo.service == side.service {
            service = memo.number
            text.retain(service)
        } else {
            service = text.intern(side.service)
            text.release(memo.number)
            text.retain(service)
            memo = Memo(service: side.service, number: service)
        }
        return ServiceGraphInternedSide(
            key: side.key, side: side.side, messaging: side.messaging, service: service, seconds: side.seconds,
            failed: side.failed, peer: side.peer.map { text.intern($0) } ?? -1,
            database: side.database.map { text.intern($0) } ?? -1,
            dimensions: side.dimensions.contains { $0 != nil } ? dimensions.intern(side.dimensions) : -1)
    }

    /// Gives back the memo's reference.
    mutating func end(_ memo: Memo) { text.release(memo.number) }

    mutating func release(_ s: ServiceGraphInternedSide) {
        text.release(s.service)
        text.release(s.peer)
        text.release(s.database)
        dimensions.release(s.dimensions)
    }

    mutating func retain(_ e: ServiceGraphEdge) {
        text.retain(e.client)
        text.retain(e.server)
        text.retain(e.peer)
        dimensions.retain(e.clientDimensions)
        dimensions.retain(e.serverDimensions)
    }

    mutating func release(_ e: ServiceGraphEdge) {
        text.release(e.client)
        text.release(e.server)
        text.release(e.peer)
        dimensions.release(e.clientDimensions)
        dimensions.release(e.serverDimensions)
    }

    mutating func retain(_ k: ServiceGraphSeries.Key) {
        text.retain(k.client)
        text.retain(k.server)
        dimensions.retain(k.clientDimensions)
        dimensions.retain(k.serverDimensions)
    }

    mutating func release(_ k: ServiceGraphSeries.Key) {
        text.release(k.client)
        text.release(k.server)
        dimensions.release(k.clientDimensions)
        dimensions.release(k.serverDimensions)
    }
}
