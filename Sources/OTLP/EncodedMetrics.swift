import Foundation
import SwiftProtobuf

/// A metrics export request kept in its protobuf wire form, checked and indexed down to its data points.
///
/// Decoding a request into swift-protobuf's message graph allocates for every data point, attribute and string;
/// the `prometheus` exporter needs little of that (a point's attributes only identify its series, and the same
/// attribute bytes arrive again with every export). This type checks the bytes once — what swift-protobuf's
/// decoder checks: structure, wire types, UTF-8 of every string, nesting depth — and records where each resource,
/// scope, metric and data point lies, with the scalar fields of number and histogram points. Consumers that read
/// or edit messages call ``decoded()``.
///
/// Indexing is strict about what it takes as given: a singular field it extracts appearing twice, a oneof set
/// twice, repeated scalars not packed, attributes interleaved with other fields, groups, or anything malformed
/// make ``init(indexing:)`` return nil, and the caller decodes with swift-protobuf instead (which accepts or
/// rejects the request with its own error).
public struct EncodedMetrics: Sendable {
    /// The request as received.
    public let bytes: [UInt8]
    public private(set) var resources: [ResourceEntry] = []
    public private(set) var scopes: [ScopeEntry] = []
    public private(set) var metrics: [MetricEntry] = []
    public private(set) var points: [PointEntry] = []

    /// Data points of every kind, as `ExportMetricsRequest.dataPointCount` counts them.
    public var dataPointCount: Int { points.count }

    /// One `ResourceMetrics`.
    public struct ResourceEntry: Sendable {
        /// The `Resource` message, when present.
        public var resource: Range<Int>?
        public var schemaURL: Range<Int>
        /// Its scopes, as indexes into ``EncodedMetrics/scopes``.
        public var scopes: Range<Int>
    }

    /// One `ScopeMetrics`.
    public struct ScopeEntry: Sendable {
        /// The `InstrumentationScope` message, when present.
        public var scope: Range<Int>?
        public var schemaURL: Range<Int>
        /// Its metrics, as indexes into ``EncodedMetrics/metrics``.
        public var metrics: Range<Int>
    }

    /// Which `data` a metric holds.
    public enum DataKind: Sendable {
        case none, gauge, sum, histogram, exponentialHistogram, summary
    }

    /// One `Metric`.
    public struct MetricEntry: Sendable {
        /// The whole `Metric` message.
        public var body: Range<Int>
        public var name: Range<Int>
        public var description: Range<Int>
        public var unit: Range<Int>
        public var kind: DataKind
        /// `AggregationTemporality` as its number (unknown numbers kept; 0 for gauges and summaries).
        public var temporality: Int32
        public var isMonotonic: Bool
        /// Its data points, as indexes into ``EncodedMetrics/points``.
        public var points: Range<Int>
    }

    /// One data point: where its encoding lies, and the scalar fields of number and histogram points.
    public struct PointEntry: Sendable {
        /// The whole data point message (a `NumberDataPoint`, `HistogramDataPoint`, ... as its metric says).
        public var body: Range<Int>
        /// The point's attribute fields, tags included: equal bytes mean equal attributes. Empty when it has none.
        public var attributes: Range<Int>
        public var start: UInt64 = 0
        public var time: UInt64 = 0
        public var flags: UInt32 = 0
        /// Number points: `as_double`, or `as_int` converted; 0 when neither is set.
        public var value: Double = 0
        /// Histogram points: `count`, `sum` (nil when absent), and the packed payloads of `bucket_counts` and
        /// `explicit_bounds`.
        public var count: UInt64 = 0
        public var sum: Double?
        public var bucketCounts: Range<Int>
        public var explicitBounds: Range<Int>
        public var hasExemplars = false

        init(body: Range<Int>) {
            self.body = body
            let none = body.lowerBound..<body.lowerBound
            attributes = none
            bucketCounts = none
            explicitBounds = none
        }
    }

    /// Indexes `bytes`, an `ExportMetricsServiceRequest`; nil when they must be decoded by swift-protobuf instead.
    public init?(indexing bytes: [UInt8]) {
        self.bytes = bytes
        var indexer = MetricsIndexer()
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
        metrics = indexer.metrics
        points = indexer.points
    }

    /// Encodes `request` and indexes the result (nil when the encoding cannot be indexed).
    public init?(encoding request: ExportMetricsRequest) throws {
        self.init(indexing: try request.serializedBytes())
    }

    /// The request as swift-protobuf messages, for consumers that read or edit them.
    public func decoded() throws -> ExportMetricsRequest {
        try ExportMetricsRequest(serializedBytes: bytes)
    }

    /// The message in `range` (a range this index recorded), decoded by swift-protobuf.
    public func message<M: SwiftProtobuf.Message>(_ range: Range<Int>, as type: M.Type = M.self) throws -> M {
        try bytes.withUnsafeBytes { try Self.decode(M.self, $0, range) }
    }

    /// The UTF-8 text in `range` (a range this index recorded).
    public func string(_ range: Range<Int>) -> String {
        bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[range]), as: UTF8.self) }
    }

    /// The bytes in `range`.
    public func slice(_ range: Range<Int>) -> [UInt8] { Array(bytes[range]) }

    /// A point's attributes, decoded by swift-protobuf.
    public func attributes(of point: PointEntry) throws -> [KeyValue] {
        var out: [KeyValue] = []
        try bytes.withUnsafeBytes { buffer in
            var r = ProtobufWireReader(buffer, point.attributes)
            while !r.isAtEnd {
                do {
                    let f = try r.field()
                    guard f.type == .lengthDelimited else { throw ProtobufWireReader.Unreadable() }
                    out.append(try Self.decode(KeyValue.self, buffer, try r.lengthDelimited()))
                } catch is ProtobufWireReader.Unreadable {
                    throw EncodingError.unreadableAttributes
                }
            }
        }
        return out
    }

    /// Decodes `buffer[range]` in place (the `Data` wraps the bytes without copying them; the decoder copies out
    /// what it keeps).
    private static func decode<M: SwiftProtobuf.Message>(_ type: M.Type, _ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws -> M {
        guard !range.isEmpty, let base = buffer.baseAddress else { return M() }
        let data = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base + range.lowerBound), count: range.count, deallocator: .none)
        return try M(serializedBytes: data)
    }

    enum EncodingError: Error, CustomStringConvertible {
        case unreadableAttributes
        var description: String { "a data point's attributes could not be read" }
    }

    /// Whether the bytes in two ranges are equal.
    public func bytesEqual(_ a: Range<Int>, _ b: Range<Int>) -> Bool {
        guard a.count == b.count else { return false }
        if a == b { return true }
        guard a.lowerBound >= 0, b.lowerBound >= 0, a.upperBound <= bytes.count, b.upperBound <= bytes.count else { return false }
        return bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return a.isEmpty }
            return memcmp(base + a.lowerBound, base + b.lowerBound, a.count) == 0
        }
    }

    /// A packed `repeated double` payload (a range this index recorded: its length is a multiple of 8).
    public func doubles(_ range: Range<Int>) -> [Double] {
        var out: [Double] = []
        // Reserved, then appended: the array initializers that take a count (`repeating:`,
        // `unsafeUninitializedCapacity:`) look the storage type up at run time, ~400 instructions a call here.
        out.reserveCapacity(range.count / 8)
        forEachFixed64(range) { out.append(Double(bitPattern: $0)) }
        return out
    }

    /// A packed `repeated fixed64` payload (a range this index recorded: its length is a multiple of 8).
    public func fixed64s(_ range: Range<Int>) -> [UInt64] {
        var out: [UInt64] = []
        out.reserveCapacity(range.count / 8)  // as in `doubles(_:)`
        forEachFixed64(range) { out.append($0) }
        return out
    }

    @inline(__always)
    private func forEachFixed64(_ range: Range<Int>, _ body: (UInt64) -> Void) {
        bytes.withUnsafeBytes { raw in
            for i in 0..<range.count / 8 {
                body(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: range.lowerBound + 8 * i, as: UInt64.self)))
            }
        }
    }
}

/// The walk behind ``EncodedMetrics/init(indexing:)``: one pass over the request, validating every nested message
/// the OTLP metrics schema defines, skipping (but checking the framing of) unknown fields.
private struct MetricsIndexer {
    typealias Reader = ProtobufWireReader
    typealias Unreadable = ProtobufWireReader.Unreadable

    var resources: [EncodedMetrics.ResourceEntry] = []
    var scopes: [EncodedMetrics.ScopeEntry] = []
    var metrics: [EncodedMetrics.MetricEntry] = []
    var points: [EncodedMetrics.PointEntry] = []

    mutating func request(_ buffer: UnsafeRawBufferPointer) throws(Unreadable) {
        try Reader.forEachField(buffer, 0..<buffer.count) { number, type, r throws(Unreadable) in
            guard number == 1 else { return false }
            guard type == .lengthDelimited else { throw Unreadable() }
            try resourceMetrics(buffer, try r.lengthDelimited())
            return true
        }
    }

    private mutating func resourceMetrics(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) {
        let firstScope = scopes.count
        let (resource, schemaURL) = try envelope(buffer, range, ofResource: true)
        resources.append(.init(resource: resource, schemaURL: schemaURL, scopes: firstScope..<scopes.count))
    }

    private mutating func scopeMetrics(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) {
        let firstMetric = metrics.count
        let (scope, schemaURL) = try envelope(buffer, range, ofResource: false)
        scopes.append(.init(scope: scope, schemaURL: schemaURL, metrics: firstMetric..<metrics.count))
    }

    /// `ResourceMetrics` or `ScopeMetrics`, which share their shape: 1 the `Resource` or `InstrumentationScope`,
    /// 2 the repeated `ScopeMetrics` or `Metric`, 3 the schema URL. Indexes the children; returns the other two.
    private mutating func envelope(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>, ofResource: Bool) throws(Unreadable) -> (
        Range<Int>?, Range<Int>
    ) {
        var head: Range<Int>?
        var schemaURL = range.lowerBound..<range.lowerBound
        var seen: UInt32 = 0
        try Reader.forEachField(buffer, range) { number, type, r throws(Unreadable) in
            try Self.once(number, &seen, singular: Singular.resourceOrScopeMetrics)
            switch (number, type) {
            case (1, .lengthDelimited):
                let body = try r.lengthDelimited()
                if ofResource { _ = try OTLPCommonWire.resource(buffer, body) } else { _ = try OTLPCommonWire.instrumentationScope(buffer, body) }
                head = body
            case (2, .lengthDelimited):
                if ofResource { try scopeMetrics(buffer, try r.lengthDelimited()) } else { try metric(buffer, try r.lengthDelimited()) }
            case (3, .lengthDelimited): schemaURL = try r.string()
            case (1...3, _): throw Unreadable()
            default: return false
            }
            return true
        }
        return (head, schemaURL)
    }

    private mutating func metric(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) {
        let none = range.lowerBound..<range.lowerBound
        var entry = EncodedMetrics.MetricEntry(
            body: range, name: none, description: none, unit: none, kind: .none, temporality: 0,
            isMonotonic: false, points: points.count..<points.count)
        var seen: UInt32 = 0
        try Reader.forEachField(buffer, range) { number, type, r throws(Unreadable) in
            try Self.once(number, &seen, singular: Singular.metric)
            switch (number, type) {
            case (1, .lengthDelimited): entry.name = try r.string()
            case (2, .lengthDelimited): entry.description = try r.string()
            case (3, .lengthDelimited): entry.unit = try r.string()
            case (5, .lengthDelimited), (7, .lengthDelimited), (9, .lengthDelimited), (10, .lengthDelimited), (11, .lengthDelimited):
                // The `data` oneof: set twice, swift-protobuf would merge or replace; leave that to it.
                guard entry.kind == .none else { throw Unreadable() }
                try data(number, buffer, try r.lengthDelimited(), into: &entry)
            case (12, .lengthDelimited): try OTLPCommonWire.keyValue(buffer, try r.lengthDelimited(), depth: 6)
            case (1...3, _), (5, _), (7, _), (9...12, _): throw Unreadable()
            default: return false
            }
            return true
        }
        entry.points = entry.points.lowerBound..<points.count
        metrics.append(entry)
    }

    /// `Gauge` (5), `Sum` (7), `Histogram` (9), `ExponentialHistogram` (10) or `Summary` (11).
    private mutating func data(_ field: UInt64, _ buffer: UnsafeRawBufferPointer, _ range: Range<Int>, into entry: inout EncodedMetrics.MetricEntry)
        throws(Unreadable)
    {
        switch field {
        case 5: entry.kind = .gauge
        case 7: entry.kind = .sum
        case 9: entry.kind = .histogram
        case 10: entry.kind = .exponentialHistogram
        default: entry.kind = .summary
        }
        let kind = entry.kind
        var seen: UInt32 = 0
        var temporality: Int32 = 0
        var monotonic = false
        try Reader.forEachField(buffer, range) { number, type, r throws(Unreadable) in
            switch (kind, number, type) {
            case (_, 1, .lengthDelimited):
                let body = try r.lengthDelimited()
                points.append(try Self.point(kind, buffer, body))
            case (.sum, 2, .varint), (.histogram, 2, .varint), (.exponentialHistogram, 2, .varint):
                try Self.once(number, &seen, singular: Singular.temporality)
                temporality = Int32(truncatingIfNeeded: try r.varint())
            case (.sum, 3, .varint):
                try Self.once(number, &seen, singular: Singular.isMonotonic)
                monotonic = try r.varint() != 0
            case (_, 1, _), (.sum, 2...3, _), (.histogram, 2, _), (.exponentialHistogram, 2, _): throw Unreadable()
            default: return false
            }
            return true
        }
        entry.temporality = temporality
        entry.isMonotonic = monotonic
    }

    /// A data point of a metric of `kind`: `NumberDataPoint` (gauge, sum), `HistogramDataPoint`,
    /// `ExponentialHistogramDataPoint` or `SummaryDataPoint`. Exponential histogram and summary points are only
    /// validated (their consumers decode them); the others also give their scalar fields.
    private static func point(_ kind: EncodedMetrics.DataKind, _ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable)
        -> EncodedMetrics.PointEntry
    {
        if let p = canonicalPoint(kind, buffer, range) { return p }
        // Where each kind keeps its attributes, its highest field number, and its singular fields.
        let (attributesField, lastField, singular): (UInt64, UInt64, UInt32) =
            switch kind {
            case .histogram: (9, 12, Singular.histogramPoint)
            case .exponentialHistogram: (1, 14, Singular.exponentialHistogramPoint)
            case .summary: (7, 8, Singular.summaryPoint)
            default: (7, 8, Singular.numberPoint)
            }
        var p = EncodedMetrics.PointEntry(body: range)
        var seen: UInt32 = 0
        var attributes = Attributes()
        try Reader.forEachField(buffer, range) { number, type, fieldStart, r throws(Unreadable) in
            if number == attributesField {
                guard type == .lengthDelimited else { throw Unreadable() }
                try OTLPCommonWire.keyValue(buffer, try r.lengthDelimited(), depth: 8)
                try attributes.add(fieldStart..<r.position)
                return true
            }
            attributes.interrupt()
            guard number <= lastField else { return false }  // unknown: skipped
            switch kind {
            case .gauge, .sum:
                // as_double (4) and as_int (6) are one oneof: set at most once between them.
                try once(number == 6 ? 4 : number, &seen, singular: singular)
                switch (number, type) {
                case (2, .fixed64): p.start = try r.fixed64()
                case (3, .fixed64): p.time = try r.fixed64()
                case (4, .fixed64): p.value = Double(bitPattern: try r.fixed64())
                case (6, .fixed64): p.value = Double(Int64(bitPattern: try r.fixed64()))
                case (5, .lengthDelimited):
                    try exemplar(buffer, try r.lengthDelimited())
                    p.hasExemplars = true
                case (8, .varint): p.flags = UInt32(truncatingIfNeeded: try r.varint())
                case (2...8, _): throw Unreadable()
                default: return false  // 1 is reserved
                }
            case .histogram:
                try once(number, &seen, singular: singular)
                switch (number, type) {
                case (2, .fixed64): p.start = try r.fixed64()
                case (3, .fixed64): p.time = try r.fixed64()
                case (4, .fixed64): p.count = try r.fixed64()
                case (5, .fixed64): p.sum = Double(bitPattern: try r.fixed64())
                case (6, .lengthDelimited): p.bucketCounts = try packedFixed64(&r)
                case (7, .lengthDelimited): p.explicitBounds = try packedFixed64(&r)
                case (8, .lengthDelimited):
                    try exemplar(buffer, try r.lengthDelimited())
                    p.hasExemplars = true
                case (10, .varint): p.flags = UInt32(truncatingIfNeeded: try r.varint())
                case (11, .fixed64), (12, .fixed64): _ = try r.fixed64()
                case (2...12, _): throw Unreadable()  // including unpacked bucket_counts / explicit_bounds
                default: return false
                }
            case .exponentialHistogram:
                try once(number, &seen, singular: singular)
                switch (number, type) {
                case (2, .fixed64): p.start = try r.fixed64()
                case (3, .fixed64): p.time = try r.fixed64()
                case (4, .fixed64): p.count = try r.fixed64()
                case (5, .fixed64): p.sum = Double(bitPattern: try r.fixed64())
                case (6, .varint): _ = try r.varint()
                case (7, .fixed64), (12, .fixed64), (13, .fixed64), (14, .fixed64): _ = try r.fixed64()
                case (8, .lengthDelimited), (9, .lengthDelimited): try buckets(buffer, try r.lengthDelimited())
                case (10, .varint): p.flags = UInt32(truncatingIfNeeded: try r.varint())
                case (11, .lengthDelimited):
                    try exemplar(buffer, try r.lengthDelimited())
                    p.hasExemplars = true
                default: throw Unreadable()
                }
            case .summary, .none:
                try once(number, &seen, singular: singular)
                switch (number, type) {
                case (2, .fixed64): p.start = try r.fixed64()
                case (3, .fixed64): p.time = try r.fixed64()
                case (4, .fixed64): p.count = try r.fixed64()
                case (5, .fixed64): p.sum = Double(bitPattern: try r.fixed64())
                case (6, .lengthDelimited):
                    try Reader.forEachField(buffer, try r.lengthDelimited()) { n, t, q throws(Unreadable) in
                        switch (n, t) {
                        case (1, .fixed64), (2, .fixed64): _ = try q.fixed64()
                        case (1...2, _): throw Unreadable()
                        default: return false
                        }
                        return true
                    }
                case (8, .varint): p.flags = UInt32(truncatingIfNeeded: try r.varint())
                case (2...8, _): throw Unreadable()
                default: return false
                }
            }
            return true
        }
        p.attributes = attributes.range ?? p.attributes
        return p
    }

    /// A number or histogram point as SDKs write it — its fields in field-number order, each at most once, no
    /// exemplars — read by comparing each next byte with the one tag that may come there. Gives what the field
    /// loop of ``point(_:_:_:)`` gives for such bytes, and nil for anything else (which that loop then reads).
    @inline(__always)
    private static func canonicalPoint(_ kind: EncodedMetrics.DataKind, _ buffer: UnsafeRawBufferPointer, _ range: Range<Int>)
        -> EncodedMetrics.PointEntry?
    {
        var p = EncodedMetrics.PointEntry(body: range)
        var r = Reader(buffer, range)
        // Every tag read here is one byte.
        /// A run of attribute fields with tag `tag`; false when one is not a valid `KeyValue`.
        func attributes(_ tag: UInt8) -> Bool {
            let start = r.position
            while r.skipTag(tag) {
                guard let kv = try? r.lengthDelimited(), (try? OTLPCommonWire.keyValue(buffer, kv, depth: 8)) != nil else { return false }
            }
            if r.position > start { p.attributes = start..<r.position }
            return true
        }
        /// The `flags` field, when next; false when it does not read.
        func flags(_ tag: UInt8) -> Bool {
            guard r.skipTag(tag) else { return true }
            guard let flags = try? r.varint() else { return false }
            p.flags = UInt32(truncatingIfNeeded: flags)
            return true
        }
        func packedFixed64(_ tag: UInt8) -> Range<Int>?? {
            guard r.skipTag(tag) else { return .some(nil) }
            guard let payload = try? r.lengthDelimited(), payload.count % 8 == 0 else { return nil }
            return payload
        }
        switch kind {
        case .gauge, .sum:
            if let v = r.fixed64(tagged: 0x11) { p.start = v }
            if let v = r.fixed64(tagged: 0x19) { p.time = v }
            if let v = r.fixed64(tagged: 0x21) {
                p.value = Double(bitPattern: v)
            } else if let v = r.fixed64(tagged: 0x31) {
                p.value = Double(Int64(bitPattern: v))
            }
            guard attributes(0x3A), flags(0x40) else { return nil }
        case .histogram:
            if let v = r.fixed64(tagged: 0x11) { p.start = v }
            if let v = r.fixed64(tagged: 0x19) { p.time = v }
            if let v = r.fixed64(tagged: 0x21) { p.count = v }
            if let v = r.fixed64(tagged: 0x29) { p.sum = Double(bitPattern: v) }
            guard let counts = packedFixed64(0x32), let bounds = packedFixed64(0x3A) else { return nil }
            if let counts { p.bucketCounts = counts }
            if let bounds { p.explicitBounds = bounds }
            guard attributes(0x4A), flags(0x50) else { return nil }
            _ = r.fixed64(tagged: 0x59)  // min
            _ = r.fixed64(tagged: 0x61)  // max
        default:
            return nil
        }
        return r.isAtEnd ? p : nil
    }

    /// `ExponentialHistogramDataPoint.Buckets`.
    private static func buckets(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) {
        var seen: UInt32 = 0
        try Reader.forEachField(buffer, range) { number, type, r throws(Unreadable) in
            try once(number, &seen, singular: Singular.buckets)
            switch (number, type) {
            case (1, .varint): _ = try r.varint()
            case (2, .lengthDelimited):
                // Packed varints.
                var inner = Reader(buffer, try r.lengthDelimited())
                while !inner.isAtEnd { _ = try inner.varint() }
            case (1...2, _): throw Unreadable()
            default: return false
            }
            return true
        }
    }

    /// `Exemplar`.
    private static func exemplar(_ buffer: UnsafeRawBufferPointer, _ range: Range<Int>) throws(Unreadable) {
        var seen: UInt32 = 0
        try Reader.forEachField(buffer, range) { number, type, r throws(Unreadable) in
            try once(number == 6 ? 3 : number, &seen, singular: Singular.exemplar)
            switch (number, type) {
            case (2, .fixed64), (3, .fixed64), (6, .fixed64): _ = try r.fixed64()
            case (4, .lengthDelimited), (5, .lengthDelimited): _ = try r.lengthDelimited()
            case (7, .lengthDelimited): try OTLPCommonWire.keyValue(buffer, try r.lengthDelimited(), depth: 9)
            case (2...7, _): throw Unreadable()
            default: return false
            }
            return true
        }
    }

    /// The payload of a packed `repeated fixed64` / `double` field: its length must be a multiple of 8.
    private static func packedFixed64(_ r: inout Reader) throws(Unreadable) -> Range<Int> {
        let payload = try r.lengthDelimited()
        guard payload.count % 8 == 0 else { throw Unreadable() }
        return payload
    }

    /// Throws when a field listed in `singular` (numbers below 32) is seen a second time.
    @inline(__always)
    private static func once(_ number: UInt64, _ seen: inout UInt32, singular: UInt32) throws(Unreadable) {
        guard number < 32 else { return }
        let bit = UInt32(1) << UInt32(number)
        guard singular & bit != 0 else { return }
        if seen & bit != 0 { throw Unreadable() }
        seen |= bit
    }

    /// Tracks a point's attribute fields, which must form one run.
    private struct Attributes {
        var range: Range<Int>?
        var closed = false

        mutating func add(_ field: Range<Int>) throws(Unreadable) {
            guard let current = range else {
                range = field
                return
            }
            guard !closed, current.upperBound == field.lowerBound else { throw Unreadable() }
            range = current.lowerBound..<field.upperBound
        }

        /// Another field came: a later attribute field would not be contiguous.
        mutating func interrupt() { if range != nil { closed = true } }
    }
}

/// The singular fields of each message, as bit sets of field numbers (bit n for field n).
private enum Singular {
    static let resourceOrScopeMetrics = mask(1, 3)
    static let metric = mask(1, 2, 3)
    static let temporality = mask(2)
    static let isMonotonic = mask(3)
    static let numberPoint = mask(2, 3, 4, 8)
    static let histogramPoint = mask(2, 3, 4, 5, 6, 7, 10, 11, 12)
    static let exponentialHistogramPoint = mask(2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14)
    static let summaryPoint = mask(2, 3, 4, 5, 8)
    static let exemplar = mask(2, 3, 4, 5)
    static let buckets = mask(1, 2)

    static func mask(_ numbers: UInt64...) -> UInt32 { numbers.reduce(0) { $0 | 1 << UInt32($1) } }
}
