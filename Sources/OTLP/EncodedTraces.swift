/// A trace export request kept in its protobuf wire form, with an index of what storage needs.
///
/// Decoding a request into swift-protobuf's message graph costs an allocation per message and per attribute,
/// and storing it re-encodes every span. A pipeline that only stores spans needs neither: this type checks the
/// bytes once (structure, UTF-8 of every string, nesting depth — what swift-protobuf's decoder checks) and
/// records, per span, the byte range of its encoding and the fields the store indexes. The span bytes are then
/// stored as they arrived. Consumers that edit data call ``decoded()``.
///
/// Indexing is strict about what it takes as given: a singular field it extracts appearing twice, a known field
/// with an unexpected wire type, groups, or anything malformed make ``init(indexing:)`` return nil, and the caller
/// decodes with swift-protobuf instead (which accepts or rejects the request with its own error).
public struct EncodedTraces: Sendable {
    /// The request as received.
    public let bytes: [UInt8]
    public private(set) var resources: [ResourceEntry] = []
    public private(set) var scopes: [ScopeEntry] = []
    public private(set) var spans: [SpanEntry] = []
    /// Spans whose trace or span ID is malformed (wrong length or all zeros): a receiver must drop them and report
    /// them in `partial_success`, which needs the decoded request.
    public private(set) var spansWithInvalidIDs = 0

    public var spanCount: Int { spans.count }

    /// Memory this value holds: the request bytes, the index and the resource and scope keys.
    public var byteCount: Int {
        bytes.count + spans.count * MemoryLayout<SpanEntry>.stride
            + resources.reduce(0) { $0 + $1.key.count + MemoryLayout<ResourceEntry>.stride }
            + scopes.reduce(0) { $0 + $1.key.count + MemoryLayout<ScopeEntry>.stride }
    }

    /// One `ResourceSpans`.
    public struct ResourceEntry: Sendable {
        /// The `ResourceSpans` without its scope spans (the resource and schema URL), as protobuf.
        public var key: [UInt8]
        /// The value of the resource's `service.name` attribute, when it is a string.
        public var serviceName: Range<Int>?
        /// Its scopes, as indexes into ``EncodedTraces/scopes``.
        public var scopes: Range<Int>
    }

    /// One `ScopeSpans`.
    public struct ScopeEntry: Sendable {
        /// The `ScopeSpans` without its spans (the scope and schema URL), as protobuf.
        public var key: [UInt8]
        /// The scope's name.
        public var name: Range<Int>
        /// Its spans, as indexes into ``EncodedTraces/spans``.
        public var spans: Range<Int>
    }

    /// One `Span`: where its encoding lies and the fields storage indexes, as ranges into ``EncodedTraces/bytes``.
    public struct SpanEntry: Sendable {
        /// The whole `Span` message.
        public var body: Range<Int>
        public var traceID: Range<Int>
        public var spanID: Range<Int>
        public var parentSpanID: Range<Int>
        public var name: Range<Int>
        /// `SpanKind` as its number (unknown numbers kept, as swift-protobuf keeps them).
        public var kind: Int32
        /// `Status.StatusCode` as its number.
        public var statusCode: Int32
        public var start: UInt64
        public var end: UInt64
    }

    /// Indexes `bytes`, an `ExportTraceServiceRequest`; nil when they must be decoded by swift-protobuf instead.
    public init?(indexing bytes: [UInt8]) {
        self.bytes = bytes
        var indexer = Indexer()
        let ok: Bool = bytes.withUnsafeBytes { buffer in
            do {
                try indexer.request(buffer)
                return true
            } catch {
                return false
            }
        }
        guard ok else { return nil }
        resources = indexer.resources
        scopes = indexer.scopes
        spans = indexer.spans
        spansWithInvalidIDs = indexer.invalidIDs
    }

    /// Encodes `request` and indexes the result.
    public init(encoding request: ExportTraceRequest) throws {
        guard let indexed = EncodedTraces(indexing: try request.serializedBytes()) else {
            throw ExportTraceRequest.EncodingError.unindexable
        }
        self = indexed
    }

    /// The request as swift-protobuf messages, for consumers that read or edit them.
    public func decoded() throws -> ExportTraceRequest {
        try ExportTraceRequest(serializedBytes: bytes)
    }

    /// Appends the fields of the message in `buffer[range]` to `out`, as they are, except those whose number's bit
    /// is set in `omitting` (bit n for field n, n < 32). Returns false, having appended nothing, when the bytes are
    /// not well-formed fields (never for a range this index recorded).
    public static func appendFields(
        _ buffer: UnsafeRawBufferPointer, _ range: Range<Int>, omitting: UInt32, to out: inout [UInt8]
    ) -> Bool {
        let mark = out.count
        var r = ProtobufWireReader(buffer, range)
        var kept = range.lowerBound  // start of the run of kept fields not yet appended
        do {
            while !r.isAtEnd {
                let fieldStart = r.position
                let f = try r.field()
                try r.skip(f.type)
                if f.number < 32 && omitting & (1 << UInt32(f.number)) != 0 {
                    out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[kept..<fieldStart]))
                    kept = r.position
                }
            }
        } catch {
            out.removeSubrange(mark..<out.count)
            return false
        }
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[kept..<range.upperBound]))
        return true
    }

    /// The UTF-8 text in `range` (a range this index recorded).
    public func string(_ range: Range<Int>) -> String {
        bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[range]), as: UTF8.self) }
    }

    /// Whether the span's IDs follow the OTLP rules (trace ID 16 bytes, span ID 8, neither all zeros; parent
    /// span ID empty or 8 bytes).
    public func hasValidIDs(_ span: SpanEntry) -> Bool {
        bytes.withUnsafeBytes { Self.hasValidIDs(span, $0) }
    }

    public static func hasValidIDs(_ span: SpanEntry, _ buffer: UnsafeRawBufferPointer) -> Bool {
        guard span.traceID.count == 16, span.spanID.count == 8, span.parentSpanID.isEmpty || span.parentSpanID.count == 8 else {
            return false
        }
        let t0 = buffer.loadUnaligned(fromByteOffset: span.traceID.lowerBound, as: UInt64.self)
        let t1 = buffer.loadUnaligned(fromByteOffset: span.traceID.lowerBound + 8, as: UInt64.self)
        let s = buffer.loadUnaligned(fromByteOffset: span.spanID.lowerBound, as: UInt64.self)
        return (t0 | t1) != 0 && s != 0
    }
}

extension ExportTraceRequest {
    enum EncodingError: Error, CustomStringConvertible {
        case unindexable
        var description: String { "the encoded request could not be indexed" }
    }
}

/// The walk behind ``EncodedTraces/init(indexing:)``: one pass over the request, validating every nested message
/// the OTLP trace schema defines, skipping (but checking the framing of) unknown fields.
private struct Indexer {
    typealias Reader = ProtobufWireReader
    typealias Unreadable = ProtobufWireReader.Unreadable

    var resources: [EncodedTraces.ResourceEntry] = []
    var scopes: [EncodedTraces.ScopeEntry] = []
    var spans: [EncodedTraces.SpanEntry] = []
    var invalidIDs = 0

    mutating func request(_ buffer: UnsafeRawBufferPointer) throws(Unreadable) {
        var r = Reader(buffer, 0..<buffer.count)
        while !r.isAtEnd {
            let f = try r.field()
            guard f.number == 1 else {
                try r.skip(f.type)
                continue
            }
            guard f.type == .lengthDelimited else { throw Unreadable() }
            try resourceSpans(buffer, try r.lengthDelimited())
        }
    }

    private mutating func resourceSpans(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) {
        var r = Reader(buffer, range)
        var key: [UInt8] = []
        var service: Range<Int>?
        let firstScope = scopes.count
        while !r.isAtEnd {
            let fieldStart = r.position
            let f = try r.field()
            switch f.number {
            case 1:
                guard f.type == .lengthDelimited else { throw Unreadable() }
                let found = try OTLPCommonWire.resource(buffer, try r.lengthDelimited())
                if service == nil { service = found }
            case 2:
                guard f.type == .lengthDelimited else { throw Unreadable() }
                try scopeSpans(buffer, try r.lengthDelimited())
                continue
            case 3:
                guard f.type == .lengthDelimited else { throw Unreadable() }
                _ = try r.string()
            default:
                try r.skip(f.type)
            }
            key.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[fieldStart..<r.position]))
        }
        resources.append(.init(key: key, serviceName: service, scopes: firstScope..<scopes.count))
    }

    private mutating func scopeSpans(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) {
        var r = Reader(buffer, range)
        var key: [UInt8] = []
        var name = range.lowerBound..<range.lowerBound
        let firstSpan = spans.count
        while !r.isAtEnd {
            let fieldStart = r.position
            let f = try r.field()
            switch f.number {
            case 1:
                guard f.type == .lengthDelimited else { throw Unreadable() }
                if let n = try OTLPCommonWire.instrumentationScope(buffer, try r.lengthDelimited()) { name = n }
            case 2:
                guard f.type == .lengthDelimited else { throw Unreadable() }
                let span = try Self.span(buffer, try r.lengthDelimited())
                if !EncodedTraces.hasValidIDs(span, buffer) { invalidIDs += 1 }
                spans.append(span)
                continue
            case 3:
                guard f.type == .lengthDelimited else { throw Unreadable() }
                _ = try r.string()
            default:
                try r.skip(f.type)
            }
            key.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[fieldStart..<r.position]))
        }
        scopes.append(.init(key: key, name: name, spans: firstSpan..<spans.count))
    }

    private static func span(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) -> EncodedTraces.SpanEntry {
        let none = range.lowerBound..<range.lowerBound
        var span = EncodedTraces.SpanEntry(
            body: range, traceID: none, spanID: none, parentSpanID: none, name: none,
            kind: 0, statusCode: 0, start: 0, end: 0)
        // Bit n set once field n was seen: the fields extracted here must appear at most once.
        var seen: UInt32 = 0
        try Reader.forEachField(buffer, range) { number, type, r throws(Unreadable) in
            if number <= 16 {
                let bit = UInt32(1) << UInt32(number)
                if seen & bit != 0, number <= 8 || number == 15 { throw Unreadable() }
                seen |= bit
            }
            switch (number, type) {
            case (1, .lengthDelimited): span.traceID = try r.lengthDelimited()
            case (2, .lengthDelimited): span.spanID = try r.lengthDelimited()
            case (3, .lengthDelimited): _ = try r.string()
            case (4, .lengthDelimited): span.parentSpanID = try r.lengthDelimited()
            case (5, .lengthDelimited): span.name = try r.string()
            case (6, .varint): span.kind = Int32(truncatingIfNeeded: try r.varint())
            case (7, .fixed64): span.start = try r.fixed64()
            case (8, .fixed64): span.end = try r.fixed64()
            case (9, .lengthDelimited): try OTLPCommonWire.keyValue(buffer, try r.lengthDelimited(), depth: 5)
            case (10, .varint), (12, .varint), (14, .varint): _ = try r.varint()
            case (11, .lengthDelimited): try event(buffer, try r.lengthDelimited())
            case (13, .lengthDelimited): try link(buffer, try r.lengthDelimited())
            case (15, .lengthDelimited): span.statusCode = try status(buffer, try r.lengthDelimited())
            case (16, .fixed32): _ = try r.fixed32()
            case (1...16, _): throw Unreadable()
            default: return false
            }
            return true
        }
        return span
    }

    /// `Status`: returns its code.
    private static func status(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) -> Int32 {
        var code: Int32 = 0
        var seenCode = false
        try Reader.forEachField(buffer, range) { number, type, r throws(Unreadable) in
            switch (number, type) {
            case (2, .lengthDelimited): _ = try r.string()
            case (3, .varint):
                if seenCode { throw Unreadable() }
                seenCode = true
                code = Int32(truncatingIfNeeded: try r.varint())
            case (2...3, _): throw Unreadable()
            default: return false
            }
            return true
        }
        return code
    }

    private static func event(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) {
        try Reader.forEachField(buffer, range) { number, type, r throws(Unreadable) in
            switch (number, type) {
            case (1, .fixed64): _ = try r.fixed64()
            case (2, .lengthDelimited): _ = try r.string()
            case (3, .lengthDelimited): try OTLPCommonWire.keyValue(buffer, try r.lengthDelimited(), depth: 6)
            case (4, .varint): _ = try r.varint()
            case (1...4, _): throw Unreadable()
            default: return false
            }
            return true
        }
    }

    private static func link(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) {
        try Reader.forEachField(buffer, range) { number, type, r throws(Unreadable) in
            switch (number, type) {
            case (1, .lengthDelimited), (2, .lengthDelimited): _ = try r.lengthDelimited()
            case (3, .lengthDelimited): _ = try r.string()
            case (4, .lengthDelimited): try OTLPCommonWire.keyValue(buffer, try r.lengthDelimited(), depth: 6)
            case (5, .varint): _ = try r.varint()
            case (6, .fixed32): _ = try r.fixed32()
            case (1...6, _): throw Unreadable()
            default: return false
            }
            return true
        }
    }
}
