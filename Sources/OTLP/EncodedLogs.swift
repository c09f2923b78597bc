/// A logs export request in its protobuf wire form, with an index of what storage needs (see ``EncodedTraces``,
/// whose rules this follows: the bytes are checked once as swift-protobuf's decoder would, and anything unusual —
/// a singular field twice, an unexpected wire type, groups — makes ``init(indexing:)`` return nil).
public struct EncodedLogs: Sendable {
    /// The request as received.
    public let bytes: [UInt8]
    public private(set) var resources: [EncodedTraces.ResourceEntry] = []
    /// Scopes, whose ``EncodedTraces/ScopeEntry/spans`` range indexes ``records``.
    public private(set) var scopes: [EncodedTraces.ScopeEntry] = []
    public private(set) var records: [RecordEntry] = []
    /// Records whose trace ID is neither empty nor 16 bytes, or whose span ID is neither empty nor 8 bytes: a
    /// receiver drops and reports them, which needs the decoded request.
    public private(set) var recordsWithInvalidIDs = 0

    public var recordCount: Int { records.count }

    /// Memory this value holds: the request bytes, the index and the resource and scope keys.
    public var byteCount: Int {
        bytes.count + records.count * MemoryLayout<RecordEntry>.stride
            + resources.reduce(0) { $0 + $1.key.count + MemoryLayout<EncodedTraces.ResourceEntry>.stride }
            + scopes.reduce(0) { $0 + $1.key.count + MemoryLayout<EncodedTraces.ScopeEntry>.stride }
    }

    /// One `LogRecord`: where its encoding lies and the fields storage indexes, as ranges into ``EncodedLogs/bytes``.
    public struct RecordEntry: Sendable {
        /// The whole `LogRecord` message.
        public var body: Range<Int>
        public var time: UInt64
        public var observedTime: UInt64
        /// `SeverityNumber` as its number (unknown numbers kept).
        public var severityNumber: Int32
        public var severityText: Range<Int>
        /// The `body` field's `AnyValue` message; empty when the record has no body.
        public var value: Range<Int>
        /// The text when the body is exactly one `string_value` field (nothing else in its `AnyValue`).
        public var stringValue: Range<Int>?
        /// Empty when absent; any other length is kept as it came (storage decides what to do with it).
        public var traceID: Range<Int>
        public var spanID: Range<Int>

        /// The time the record is filed under: its event time, or the observed time when that is unset (0).
        public var effectiveTime: UInt64 { time != 0 ? time : observedTime }
    }

    /// `LogRecord` field numbers, for storage that keeps some fields in columns.
    public enum Field {
        public static let severityNumber: UInt32 = 2
        public static let severityText: UInt32 = 3
        public static let body: UInt32 = 5
        public static let traceID: UInt32 = 9
        public static let spanID: UInt32 = 10
    }

    /// Indexes `bytes`, an `ExportLogsServiceRequest`; nil when they must be decoded by swift-protobuf instead.
    public init?(indexing bytes: [UInt8]) {
        self.bytes = bytes
        var indexer = LogsIndexer()
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
        records = indexer.records
        recordsWithInvalidIDs = indexer.records.reduce(0) { n, r in
            n + ((r.traceID.isEmpty || r.traceID.count == 16) && (r.spanID.isEmpty || r.spanID.count == 8) ? 0 : 1)
        }
    }

    /// Encodes `request` and indexes the result.
    public init(encoding request: ExportLogsRequest) throws {
        guard let indexed = EncodedLogs(indexing: try request.serializedBytes()) else {
            throw ExportTraceRequest.EncodingError.unindexable
        }
        self = indexed
    }

    /// The request as swift-protobuf messages.
    public func decoded() throws -> ExportLogsRequest {
        try ExportLogsRequest(serializedBytes: bytes)
    }

    /// The UTF-8 text in `range` (a range this index recorded).
    public func string(_ range: Range<Int>) -> String {
        bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[range]), as: UTF8.self) }
    }
}

/// The walk behind ``EncodedLogs/init(indexing:)``: one pass over the request, validating every nested message
/// the OTLP logs schema defines, skipping (but checking the framing of) unknown fields.
private struct LogsIndexer {
    typealias Reader = ProtobufWireReader
    typealias Unreadable = ProtobufWireReader.Unreadable

    var resources: [EncodedTraces.ResourceEntry] = []
    var scopes: [EncodedTraces.ScopeEntry] = []
    var records: [EncodedLogs.RecordEntry] = []

    mutating func request(_ buffer: UnsafeRawBufferPointer) throws(Unreadable) {
        var r = Reader(buffer, 0..<buffer.count)
        while !r.isAtEnd {
            let f = try r.field()
            guard f.number == 1 else {
                try r.skip(f.type)
                continue
            }
            guard f.type == .lengthDelimited else { throw Unreadable() }
            try resourceLogs(buffer, try r.lengthDelimited())
        }
    }

    private mutating func resourceLogs(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) {
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
                try scopeLogs(buffer, try r.lengthDelimited())
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

    private mutating func scopeLogs(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) {
        var r = Reader(buffer, range)
        var key: [UInt8] = []
        var name = range.lowerBound..<range.lowerBound
        let first = records.count
        while !r.isAtEnd {
            let fieldStart = r.position
            let f = try r.field()
            switch f.number {
            case 1:
                guard f.type == .lengthDelimited else { throw Unreadable() }
                if let n = try OTLPCommonWire.instrumentationScope(buffer, try r.lengthDelimited()) { name = n }
            case 2:
                guard f.type == .lengthDelimited else { throw Unreadable() }
                records.append(try Self.record(buffer, try r.lengthDelimited()))
                continue
            case 3:
                guard f.type == .lengthDelimited else { throw Unreadable() }
                _ = try r.string()
            default:
                try r.skip(f.type)
            }
            key.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[fieldStart..<r.position]))
        }
        scopes.append(.init(key: key, name: name, spans: first..<records.count))
    }

    private static func record(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) -> EncodedLogs.RecordEntry {
        let none = range.lowerBound..<range.lowerBound
        var record = EncodedLogs.RecordEntry(
            body: range, time: 0, observedTime: 0, severityNumber: 0, severityText: none, value: none,
            stringValue: nil, traceID: none, spanID: none)
        // Bit n set once field n was seen: singular fields must appear at most once.
        var seen: UInt32 = 0
        try Reader.forEachField(buffer, range) { number, type, r throws(Unreadable) in
            if (1...12).contains(number) {
                let bit = UInt32(1) << UInt32(number)
                if seen & bit != 0, number != 6 { throw Unreadable() }
                seen |= bit
            }
            switch (number, type) {
            case (1, .fixed64): record.time = try r.fixed64()
            case (2, .varint): record.severityNumber = Int32(truncatingIfNeeded: try r.varint())
            case (3, .lengthDelimited): record.severityText = try r.string()
            case (5, .lengthDelimited):
                let value = try r.lengthDelimited()
                record.value = value
                if let text = try OTLPCommonWire.anyValue(buffer, value, depth: 4),
                    text.upperBound == value.upperBound,
                    text.lowerBound - value.lowerBound == 1 + ProtobufWireReader.varintSize(UInt64(text.count))
                {
                    record.stringValue = text
                }
            case (6, .lengthDelimited): try OTLPCommonWire.keyValue(buffer, try r.lengthDelimited(), depth: 4)
            case (7, .varint): _ = try r.varint()
            case (8, .fixed32): _ = try r.fixed32()
            case (9, .lengthDelimited): record.traceID = try r.lengthDelimited()
            case (10, .lengthDelimited): record.spanID = try r.lengthDelimited()
            case (11, .fixed64): record.observedTime = try r.fixed64()
            case (12, .lengthDelimited): _ = try r.string()
            case (1...12, _): throw Unreadable()
            default: return false
            }
            return true
        }
        return record
    }
}
