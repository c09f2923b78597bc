import Foundation

/// Writes an `ExportTraceServiceRequest` as OTLP/JSON in one pass, byte for byte what ``OTLPJSON/encode(_:)``'s
/// general path writes (swift-protobuf's JSON, then every trace and span ID rewritten from base64 to hex) without
/// producing that JSON, parsing it and rewriting it: for a 10,000-span trace that path was most of a query's time.
///
/// It follows swift-protobuf's JSON rules for the trace schema: fields in field-number order, lowerCamelCase names,
/// defaults omitted (an unset message omitted, a set but empty one written as `{}`), 64-bit integers as decimal
/// strings, enums as integers, `bytes` in base64 except the IDs (hex), doubles as `debugDescription` (`"NaN"`,
/// `"Infinity"`, `"-Infinity"` quoted), strings escaped as swift-protobuf escapes them (C0 and C1 controls as
/// `\u00XX`). `OTLPJSONTraceWriterTests` compares it with the general path on random traces that set every field,
/// and fails when the generated schema has a field it does not write.
struct OTLPJSONTraceWriter {
    private(set) var out: [UInt8] = []
    /// Whether the next field of the current object needs a comma before it.
    private var needsComma = false
    /// Writes a long `spans` array in ranges at the same time (nil: in one pass).
    private let split: OTLPJSON.SpanRanges?

    init(capacity: Int, prefix: [UInt8] = [], split: OTLPJSON.SpanRanges? = nil) {
        out.reserveCapacity(capacity)
        out += prefix
        self.split = split
    }

    /// A generous size for the buffer (most of a span's JSON is its attributes; a span of 10 attributes and an event
    /// is about 1.2 KB): reserved pages that stay unused cost no memory, a regrowth copies everything written so far.
    static func estimatedSize(_ request: ExportTraceRequest) -> Int {
        var spans = 0
        for rs in request.resourceSpans { for ss in rs.scopeSpans { spans += ss.spans.count } }
        return 256 + spans * 2048
    }

    mutating func request(_ r: ExportTraceRequest) {
        begin()
        if !r.resourceSpans.isEmpty {
            field("resourceSpans")
            array(r.resourceSpans) { $0.resourceSpans($1) }
        }
        end()
    }

    // MARK: Messages

    private mutating func resourceSpans(_ rs: ResourceSpans) {
        begin()
        if rs.hasResource {
            field("resource")
            resource(rs.resource)
        }
        if !rs.scopeSpans.isEmpty {
            field("scopeSpans")
            array(rs.scopeSpans) { $0.scopeSpans($1) }
        }
        if !rs.schemaURL.isEmpty {
            field("schemaUrl")
            string(rs.schemaURL)
        }
        end()
    }

    private mutating func resource(_ r: Resource) {
        begin()
        attributes(r.attributes)
        uint32("droppedAttributesCount", r.droppedAttributesCount)
        if !r.entityRefs.isEmpty {
            field("entityRefs")
            array(r.entityRefs) { w, e in
                w.begin()
                w.stringField("schemaUrl", e.schemaURL)
                w.stringField("type", e.type)
                w.strings("idKeys", e.idKeys)
                w.strings("descriptionKeys", e.descriptionKeys)
                w.end()
            }
        }
        end()
    }

    private mutating func scopeSpans(_ ss: ScopeSpans) {
        begin()
        if ss.hasScope {
            field("scope")
            begin()
            stringField("name", ss.scope.name)
            stringField("version", ss.scope.version)
            attributes(ss.scope.attributes)
            uint32("droppedAttributesCount", ss.scope.droppedAttributesCount)
            end()
        }
        if let split, ss.spans.count / 2 >= split.minimumPerRange {
            // Each range's spans, comma-separated, written into a buffer of its own; the same bytes as below.
            let spans = ss.spans
            let parts = split.run(spans.count) { range in
                var part = OTLPJSONTraceWriter(capacity: range.count * 2048)
                part.items(spans[range]) { $0.span($1) }
                return part.out
            }
            field("spans")
            out.append(UInt8(ascii: "["))
            for (i, part) in parts.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out += part
            }
            out.append(UInt8(ascii: "]"))
            needsComma = true
        } else if !ss.spans.isEmpty {
            field("spans")
            array(ss.spans) { $0.span($1) }
        }
        stringField("schemaUrl", ss.schemaURL)
        end()
    }

    private mutating func span(_ s: Span) {
        begin()
        hexField("traceId", s.traceID)
        hexField("spanId", s.spanID)
        stringField("traceState", s.traceState)
        hexField("parentSpanId", s.parentSpanID)
        stringField("name", s.name)
        int32("kind", Int32(truncatingIfNeeded: s.kind.rawValue))
        uint64("startTimeUnixNano", s.startTimeUnixNano)
        uint64("endTimeUnixNano", s.endTimeUnixNano)
        attributes(s.attributes)
        uint32("droppedAttributesCount", s.droppedAttributesCount)
        if !s.events.isEmpty {
            field("events")
            array(s.events) { w, e in
                w.begin()
                w.uint64("timeUnixNano", e.timeUnixNano)
                w.stringField("name", e.name)
                w.attributes(e.attributes)
                w.uint32("droppedAttributesCount", e.droppedAttributesCount)
                w.end()
            }
        }
        uint32("droppedEventsCount", s.droppedEventsCount)
        if !s.links.isEmpty {
            field("links")
            array(s.links) { w, l in
                w.begin()
                w.hexField("traceId", l.traceID)
                w.hexField("spanId", l.spanID)
                w.stringField("traceState", l.traceState)
                w.attributes(l.attributes)
                w.uint32("droppedAttributesCount", l.droppedAttributesCount)
                w.uint32("flags", l.flags)
                w.end()
            }
        }
        uint32("droppedLinksCount", s.droppedLinksCount)
        if s.hasStatus {
            field("status")
            begin()
            stringField("message", s.status.message)
            int32("code", Int32(truncatingIfNeeded: s.status.code.rawValue))
            end()
        }
        uint32("flags", s.flags)
        end()
    }

    private mutating func attributes(_ list: [KeyValue]) {
        guard !list.isEmpty else { return }
        field("attributes")
        array(list) { $0.keyValue($1) }
    }

    private mutating func keyValue(_ kv: KeyValue) {
        begin()
        stringField("key", kv.key)
        if kv.hasValue {
            field("value")
            anyValue(kv.value)
        }
        int32("keyStrindex", kv.keyStrindex)
        end()
    }

    private mutating func anyValue(_ v: AnyValue) {
        begin()
        switch v.value {
        case .stringValue(let s):
            field("stringValue")
            string(s)
        case .boolValue(let b):
            field("boolValue")
            raw(b ? "true" : "false")
        case .intValue(let i):
            field("intValue")
            quotedInteger(i)
        case .doubleValue(let d):
            field("doubleValue")
            double(d)
        case .arrayValue(let a):
            field("arrayValue")
            begin()
            if !a.values.isEmpty {
                field("values")
                array(a.values) { $0.anyValue($1) }
            }
            end()
        case .kvlistValue(let l):
            field("kvlistValue")
            begin()
            if !l.values.isEmpty {
                field("values")
                array(l.values) { $0.keyValue($1) }
            }
            end()
        case .bytesValue(let d):
            field("bytesValue")
            base64(d)
        case .stringValueStrindex(let i):
            field("stringValueStrindex")
            integer(Int64(i))
        case nil:
            break
        }
        end()
    }

    // MARK: Fields with defaults omitted

    private mutating func stringField(_ name: StaticString, _ value: String) {
        guard !value.isEmpty else { return }
        field(name)
        string(value)
    }

    private mutating func strings(_ name: StaticString, _ values: [String]) {
        guard !values.isEmpty else { return }
        field(name)
        array(values) { $0.string($1) }
    }

    private mutating func hexField(_ name: StaticString, _ id: Data) {
        guard !id.isEmpty else { return }
        field(name)
        let digits: StaticString = "0123456789abcdef"
        out.append(UInt8(ascii: "\""))
        for b in id {
            out.append(digits.utf8Start[Int(b >> 4)])
            out.append(digits.utf8Start[Int(b & 0xF)])
        }
        out.append(UInt8(ascii: "\""))
        needsComma = true
    }

    private mutating func uint32(_ name: StaticString, _ value: UInt32) {
        guard value != 0 else { return }
        field(name)
        integer(Int64(value))
    }

    private mutating func int32(_ name: StaticString, _ value: Int32) {
        guard value != 0 else { return }
        field(name)
        integer(Int64(value))
    }

    private mutating func uint64(_ name: StaticString, _ value: UInt64) {
        guard value != 0 else { return }
        field(name)
        out.append(UInt8(ascii: "\""))
        unsigned(value)
        out.append(UInt8(ascii: "\""))
    }

    // MARK: Structure

    private mutating func begin() {
        out.append(UInt8(ascii: "{"))
        needsComma = false
    }

    private mutating func end() {
        out.append(UInt8(ascii: "}"))
        needsComma = true
    }

    private mutating func field(_ name: StaticString) {
        if needsComma { out.append(UInt8(ascii: ",")) }
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
        needsComma = false
    }

    private mutating func array<T>(_ items: [T], _ each: (inout OTLPJSONTraceWriter, T) -> Void) {
        out.append(UInt8(ascii: "["))
        self.items(items[...], each)
        out.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// `items` separated by commas, without the brackets.
    private mutating func items<T>(_ items: ArraySlice<T>, _ each: (inout OTLPJSONTraceWriter, T) -> Void) {
        var first = true
        for item in items {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            each(&self, item)
        }
    }

    // MARK: Values

    private mutating func raw(_ text: StaticString) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        needsComma = true
    }

    private mutating func integer(_ value: Int64) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        unsigned(value.magnitude)
        needsComma = true
    }

    private mutating func quotedInteger(_ value: Int64) {
        out.append(UInt8(ascii: "\""))
        integer(value)
        out.append(UInt8(ascii: "\""))
    }

    /// Decimal digits of `value`.
    private mutating func unsigned(_ value: UInt64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for 20 digits, least significant first
        var v = value
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[count] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
                count += 1
            } while v > 0
            for k in stride(from: count - 1, through: 0, by: -1) { out.append(buffer[k]) }
        }
        needsComma = true
    }

    private mutating func double(_ d: Double) {
        if d.isNaN {
            raw("\"NaN\"")
        } else if d.isInfinite {
            if d < 0 { raw("\"-Infinity\"") } else { raw("\"Infinity\"") }
        } else {
            out.append(contentsOf: d.debugDescription.utf8)
            needsComma = true
        }
    }

    private mutating func base64(_ data: Data) {
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: data.base64EncodedString().utf8)
        out.append(UInt8(ascii: "\""))
        needsComma = true
    }

    /// A quoted string escaped as swift-protobuf escapes it: `\b \t \n \f \r \" \\`, other C0 controls, DEL and the C1
    /// controls (U+0080–U+009F, `C2 80`–`C2 9F` in UTF-8) as `\u00XX` (upper-case digits); everything else as it is.
    private mutating func string(_ s: String) {
        out.append(UInt8(ascii: "\""))
        var text = s
        text.withUTF8 { bytes in
            var runStart = 0
            var k = 0
            while k < bytes.count {
                let b = bytes[k]
                let c1 = b == 0xC2 && k + 1 < bytes.count && bytes[k + 1] < 0xA0
                guard b < 0x20 || b == 0x22 || b == 0x5C || b == 0x7F || c1 else {
                    k += 1
                    continue
                }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<k]))
                let code = c1 ? bytes[k + 1] : b
                switch code {
                case 8: out.append(contentsOf: #"\b"#.utf8)
                case 9: out.append(contentsOf: #"\t"#.utf8)
                case 10: out.append(contentsOf: #"\n"#.utf8)
                case 12: out.append(contentsOf: #"\f"#.utf8)
                case 13: out.append(contentsOf: #"\r"#.utf8)
                case 0x22: out.append(contentsOf: #"\""#.utf8)
                case 0x5C: out.append(contentsOf: #"\\"#.utf8)
                default:
                    let hex: StaticString = "0123456789ABCDEF"
                    out.append(contentsOf: #"\u00"#.utf8)
                    out.append(hex.utf8Start[Int(code >> 4)])
                    out.append(hex.utf8Start[Int(code & 0xF)])
                }
                k += c1 ? 2 : 1
                runStart = k
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
        }
        out.append(UInt8(ascii: "\""))
        needsComma = true
    }
}
