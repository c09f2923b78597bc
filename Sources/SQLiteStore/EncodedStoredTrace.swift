import CollectorCore
import Foundation
import GRDB
import OTLP

/// One trace read back with its spans left as protobuf, for writers that turn spans into another format without
/// decoding them into `Span` values (``TraceReader/encodedTraces(ids:limits:)``; the query API's Jaeger JSON).
///
/// Each span is a whole `Span` message: the fields its row keeps in columns, then its stored body (decompressed),
/// so that `Span(serializedBytes:)` of it is the span ``TraceReader/traces(ids:limits:)`` gives — a field the body
/// holds comes later and wins, as ``StoredSpan/restoreColumns(_:traceID:spanID:parentSpanID:name:kind:start:)`` lets
/// it. Spans are sorted by start time; resources and scopes are listed once each, in the order spans name them.
public struct EncodedStoredTrace: Sendable {
    public struct Span: Sendable {
        /// Indexes into ``EncodedStoredTrace/resources`` and ``EncodedStoredTrace/scopes``.
        public var resource: Int, scope: Int
        public var bytes: Data

        public init(resource: Int, scope: Int, bytes: Data) {
            self.resource = resource
            self.scope = scope
            self.bytes = bytes
        }
    }

    public var traceID: Data
    /// The earliest span's start (its row's, clamped to `Int64`).
    public var startNanos: Int64
    public var resources: [Resource]
    public var scopes: [InstrumentationScope]
    public var spans: [Span]

    public init(traceID: Data, startNanos: Int64, resources: [Resource], scopes: [InstrumentationScope], spans: [Span]) {
        self.traceID = traceID
        self.startNanos = startNanos
        self.resources = resources
        self.scopes = scopes
        self.spans = spans
    }
}

extension TraceReader {
    /// Builds one trace's ``EncodedStoredTrace`` from its span rows.
    func encode(_ db: Database, _ spanRows: [StoredSpan]) throws -> EncodedStoredTrace {
        let rows = spanRows.sorted(by: StoredSpan.traceOrder)
        var resources: [Resource] = []
        var resourceIndex: [Int64: Int] = [:]
        var scopes: [InstrumentationScope] = []
        var scopeIndex: [Int64: Int] = [:]
        var places: [(resource: Int, scope: Int)] = []
        places.reserveCapacity(rows.count)
        /// The index of `id` in `list`, loading it the first time.
        func place<T>(_ id: Int64, _ index: inout [Int64: Int], _ list: inout [T], _ load: () throws -> T) rethrows -> Int {
            if let known = index[id] { return known }
            list.append(try load())
            index[id] = list.count - 1
            return list.count - 1
        }
        for row in rows {
            let r = try place(row.resource, &resourceIndex, &resources) { try loadResource(db, row.resource).resource }
            let s = try place(row.scope, &scopeIndex, &scopes) { try loadScope(db, row.scope).scope }
            places.append((r, s))
        }
        let bytes = try mapBodies(db, rows) { row, bodies in try row.protobuf(bodies) }
        return EncodedStoredTrace(
            traceID: rows.first?.traceID ?? Data(), startNanos: rows.first?.start ?? 0, resources: resources, scopes: scopes,
            spans: zip(places, bytes).map { EncodedStoredTrace.Span(resource: $0.0.resource, scope: $0.0.scope, bytes: $0.1) })
    }
}

extension StoredSpan {
    /// The whole span as protobuf: the columns' fields, then the stored body (see ``EncodedStoredTrace``).
    func protobuf(_ bodies: StoredBodies) throws -> Data {
        if complete { return body }
        let body = try bodies.protobuf(body)
        var out = Data(capacity: body.count + 64 + name.utf8.count)
        func varint(_ value: UInt64) {
            var v = value
            while v >= 0x80 {
                out.append(UInt8(truncatingIfNeeded: v) | 0x80)
                v >>= 7
            }
            out.append(UInt8(v))
        }
        // Every field number here is below 16: its tag is one byte.
        func lengthDelimited(_ field: UInt8, _ bytes: some Collection<UInt8>) {
            guard !bytes.isEmpty else { return }
            out.append(field << 3 | 2)
            varint(UInt64(bytes.count))
            out.append(contentsOf: bytes)
        }
        lengthDelimited(1, traceID)
        lengthDelimited(2, spanID)
        lengthDelimited(4, parentSpanID)
        lengthDelimited(5, name.utf8)
        if kind != 0 {
            out.append(6 << 3)
            varint(UInt64(bitPattern: Int64(kind)))
        }
        if start > 0 {
            out.append(7 << 3 | 1)
            withUnsafeBytes(of: UInt64(start).littleEndian) { out.append(contentsOf: $0) }
        }
        out.append(body)
        return out
    }
}
