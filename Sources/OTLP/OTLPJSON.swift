import SwiftProtobuf
import Synchronization

/// The OTLP/JSON encoding (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding).
///
/// OTLP/JSON is proto3 JSON with these differences:
/// - `traceId`, `spanId` and `parentSpanId` (spans, span links, log records, exemplars) are hex
///   strings, not base64. Input may use either case; output is lowercase. Other `bytes` fields
///   (e.g. AnyValue `bytesValue`) stay base64. Input IDs in base64 (protobuf's own JSON mapping, which
///   some SDKs write, e.g. swift-otel) are accepted too: the lengths tell them apart (32 or 16 hex
///   characters; 24/22 or 12/11 base64 characters for 16 or 8 bytes). They are counted in
///   ``base64IDsAccepted``.
/// - Enums are integers on output. Input may also use enum value names.
/// - Unknown fields are ignored.
///
/// Decoding is schema-aware for every message in the OTLP schema: the JSON type of each field is
/// checked, enum numbers must be values the enum defines, and every rejection names the JSON path
/// of the offending field. Other message types are decoded and encoded as plain proto3 JSON.
public enum OTLPJSON {
    private static let base64IDs = Atomic<Int>(0)

    /// How many IDs written in base64 instead of hex this process has decoded.
    public static var base64IDsAccepted: Int { base64IDs.load(ordering: .relaxed) }

    static func countBase64ID() { base64IDs.add(1, ordering: .relaxed) }

    /// Decodes an OTLP/JSON document (e.g. an OTLP/HTTP request body) into `M`, typically
    /// `ExportTraceServiceRequest`, `ExportMetricsServiceRequest` or `ExportLogsServiceRequest`.
    ///
    /// Lengths of IDs are not checked here (an empty string is empty bytes); receivers validate
    /// them per item.
    public static func decode<M: SwiftProtobuf.Message>(
        _ type: M.Type,
        from bytes: some Collection<UInt8>
    ) throws(OTLPJSONError) -> M {
        let source = Array(bytes)
        let root: JSONNode
        do {
            root = try JSONParser.parse(source)
        } catch {
            throw OTLPJSONError(path: "", message: "invalid JSON at byte \(error.offset): \(error.message)")
        }
        guard case .object(let members) = root.value else {
            throw OTLPJSONError(
                path: "",
                message: "expected a JSON object at the top level, got \(describe(root, in: source))"
            )
        }

        var rewriter = OTLPJSONRewriter(source: source, direction: .hexToBase64)
        let kind = OTLPMessageKind(messageType: M.self)
        if let kind {
            try rewriter.visitMembers(members, of: kind)
        }
        let protoJSON = rewriter.render(root.range)
        do {
            return try M(jsonUTF8Bytes: protoJSON, options: decodingOptions)
        } catch {
            guard let kind else {
                throw OTLPJSONError(path: "", message: reason(for: error))
            }
            throw locateFailure(error, members: members, kind: kind, path: [], rewriter: rewriter)
        }
    }

    /// Encodes `message` as OTLP/JSON: lowerCamelCase keys, integer enums, lowercase hex IDs,
    /// 64-bit integers as decimal strings, fields with default values omitted.
    ///
    /// With `prefix`, the JSON follows it in the same buffer, which has room for a few hundred bytes more: a trace's
    /// JSON inside a larger document (`{"result": …}`) is written once, not copied after it.
    ///
    /// With `split`, a trace request's long `spans` arrays are written in ranges at the same time (the same bytes).
    public static func encode(
        _ message: some SwiftProtobuf.Message, after prefix: [UInt8] = [], split: SpanRanges? = nil
    ) throws(OTLPJSONError) -> [UInt8] {
        if let traces = message as? ExportTraceRequest {
            // The same bytes in one pass (traces are what the query API and the CLI answer with, up to 20,000 spans).
            var writer = OTLPJSONTraceWriter(
                capacity: prefix.count + OTLPJSONTraceWriter.estimatedSize(traces), prefix: prefix, split: split)
            writer.request(traces)
            return writer.out
        }
        return try prefix + encodeGeneric(message)
    }

    /// How ``encode(_:after:split:)`` writes a long array of spans in parts: `run(count, write)` calls `write` for
    /// contiguous ranges covering `0..<count` (at the same time, on several threads) and returns their bytes in
    /// order; arrays of fewer than twice `minimumPerRange` spans are written in one pass.
    public struct SpanRanges: Sendable {
        public var minimumPerRange: Int
        public var run: @Sendable (_ count: Int, _ write: @Sendable (Range<Int>) -> [UInt8]) -> [[UInt8]]

        public init(
            minimumPerRange: Int, run: @escaping @Sendable (_ count: Int, _ write: @Sendable (Range<Int>) -> [UInt8]) -> [[UInt8]]
        ) {
            self.minimumPerRange = max(1, minimumPerRange)
            self.run = run
        }
    }

    /// ``encode(_:)`` for any message: swift-protobuf's JSON, then the IDs rewritten from base64 to hex.
    static func encodeGeneric(_ message: some SwiftProtobuf.Message) throws(OTLPJSONError) -> [UInt8] {
        var options = JSONEncodingOptions()
        options.alwaysPrintEnumsAsInts = true
        let protoJSON: [UInt8]
        do {
            protoJSON = try message.jsonUTF8Bytes(options: options)
        } catch {
            throw OTLPJSONError(path: "", message: "cannot encode \(type(of: message).protoMessageName): \(error)")
        }
        guard let kind = OTLPMessageKind(messageType: type(of: message)), kind.containsIDs else {
            return protoJSON
        }
        let root: JSONNode
        do {
            root = try JSONParser.parse(protoJSON)
        } catch {
            throw OTLPJSONError(path: "", message: "swift-protobuf produced invalid JSON: \(error.message)")
        }
        guard case .object(let members) = root.value else {
            throw OTLPJSONError(path: "", message: "swift-protobuf produced a JSON value that is not an object")
        }
        var rewriter = OTLPJSONRewriter(source: protoJSON, direction: .base64ToHex)
        try rewriter.visitMembers(members, of: kind)
        return rewriter.render(root.range)
    }

    private static var decodingOptions: JSONDecodingOptions {
        var options = JSONDecodingOptions()
        options.ignoreUnknownFields = true
        return options
    }

    // MARK: Locating swift-protobuf's rejections

    /// Finds the field that made swift-protobuf reject a document the rewriter accepted (a number
    /// out of range, bad base64, two members of a oneof, ...): tries each member of the object on
    /// its own, descending into the first one that fails. Nested messages are tried before their
    /// enclosing member, so each level of the failing path is decoded about once.
    private static func locateFailure(
        _ error: any Error,
        members: [JSONMember],
        kind: OTLPMessageKind,
        path: [OTLPJSONPathComponent],
        rewriter: OTLPJSONRewriter
    ) -> OTLPJSONError {
        let source = rewriter.source
        let fields = kind.fields
        for member in members {
            let memberPath = path + [.key(member.key)]
            let field = fields[member.key]
            if let field, case .message(let child) = field.type {
                switch member.node.value {
                case .object(let childMembers):
                    if let childError = decodingError(rewriter.render(member.node.range), as: child.messageType) {
                        return locateFailure(childError, members: childMembers, kind: child, path: memberPath, rewriter: rewriter)
                    }
                case .array(let elements):
                    for (index, element) in elements.enumerated() {
                        guard case .object(let elementMembers) = element.value,
                            let elementError = decodingError(rewriter.render(element.range), as: child.messageType)
                        else { continue }
                        return locateFailure(
                            elementError, members: elementMembers, kind: child,
                            path: memberPath + [.index(index)], rewriter: rewriter
                        )
                    }
                default:
                    break
                }
            }
            let single =
                [UInt8(ascii: "{")] + source[member.keyRange] + [UInt8(ascii: ":")]
                + rewriter.render(member.node.range) + [UInt8(ascii: "}")]
            guard let memberError = decodingError(single, as: kind.messageType) else { continue }
            guard let field else {
                return OTLPJSONError(path: memberPath, message: reason(for: memberError))
            }
            switch (field.type, member.node.value) {
            case (.message, _):
                // The nested message decodes on its own but not here, e.g. past the depth limit.
                return OTLPJSONError(path: memberPath, message: reason(for: memberError))
            case (_, .array(let elements)):
                for (index, element) in elements.enumerated() {
                    let singleElement =
                        [UInt8(ascii: "{")] + source[member.keyRange] + [UInt8(ascii: ":"), UInt8(ascii: "[")]
                        + rewriter.render(element.range) + [UInt8(ascii: "]"), UInt8(ascii: "}")]
                    guard let elementError = decodingError(singleElement, as: kind.messageType) else { continue }
                    return OTLPJSONError(
                        path: memberPath + [.index(index)],
                        message: mismatch(field.type, element, in: source, error: elementError)
                    )
                }
                return OTLPJSONError(path: memberPath, message: reason(for: memberError))
            default:
                return OTLPJSONError(path: memberPath, message: mismatch(field.type, member.node, in: source, error: memberError))
            }
        }
        return OTLPJSONError(path: path, message: reason(for: error))
    }

    /// The error swift-protobuf throws decoding `json` as `type`, or nil if it decodes.
    private static func decodingError<T: SwiftProtobuf.Message>(_ json: [UInt8], as type: T.Type) -> (any Error)? {
        do {
            _ = try T(jsonUTF8Bytes: json, options: decodingOptions)
            return nil
        } catch {
            return error
        }
    }

    private static func mismatch(
        _ type: OTLPFieldType, _ node: JSONNode, in source: [UInt8], error: any Error
    ) -> String {
        var message = "expected \(type.expectation), got \(describe(node, in: source))"
        switch error as? JSONDecodingError {
        case .numberRange?: message += " (out of range)"
        case .invalidUTF8?: message += " (invalid UTF-8)"
        default: break
        }
        return message
    }

    /// A readable explanation of a swift-protobuf decoding error.
    private static func reason(for error: any Error) -> String {
        guard let error = error as? JSONDecodingError else { return "invalid value (\(error))" }
        switch error {
        case .conflictingOneOf: return "more than one field of the same oneof is set"
        case .messageDepthLimit: return "messages are nested too deeply"
        case .numberRange: return "number out of range"
        case .invalidUTF8: return "invalid UTF-8 in a string"
        case .illegalNull: return "null is not allowed here"
        default: return "invalid value (\(error))"
        }
    }

    /// A short rendering of a JSON value for error messages: strings and numbers as written
    /// (truncated), containers by kind.
    static func describe(_ node: JSONNode, in source: [UInt8]) -> String {
        switch node.value {
        case .object: return "an object"
        case .array: return "an array"
        case .bool(let value): return value ? "true" : "false"
        case .null: return "null"
        case .string, .number:
            let limit = 64
            let prefix = source[node.range.lowerBound..<min(node.range.upperBound, node.range.lowerBound + 4 * limit)]
            let text = String(decoding: prefix, as: UTF8.self)
            guard text.count > limit || prefix.count < node.range.count else { return text }
            if case .string = node.value {
                return String(text.prefix(limit - 4)) + "…\""
            }
            return String(text.prefix(limit - 3)) + "…"
        }
    }
}

/// A rejected OTLP/JSON document: the JSON path of the offending value (empty for the document
/// itself) and what is wrong with it.
///
/// `description` reads like
/// `resourceSpans[0].scopeSpans[0].spans[3].traceId: expected a hex string, got "xyz"`.
public struct OTLPJSONError: Error, CustomStringConvertible, Sendable, Hashable {
    /// Dotted keys and `[index]` subscripts from the top-level object, e.g.
    /// `resourceSpans[0].scopeSpans[0].spans[1].kind`; empty for the whole document.
    public var path: String
    /// What is wrong with the value at `path`.
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    init(path: [OTLPJSONPathComponent], message: String) {
        self.init(path: OTLPJSONPathComponent.format(path), message: message)
    }

    public var description: String {
        path.isEmpty ? message : "\(path): \(message)"
    }
}

/// One step of a JSON path: an object key or an array index.
enum OTLPJSONPathComponent: Sendable, Hashable {
    case key(String)
    case index(Int)

    static func format(_ path: [OTLPJSONPathComponent]) -> String {
        var result = ""
        for component in path {
            switch component {
            case .key(let key):
                if !result.isEmpty { result += "." }
                result += key
            case .index(let index):
                result += "[\(index)]"
            }
        }
        return result
    }
}

/// Walks a parsed document along the OTLP schema, converting ID fields between hex and base64
/// (recorded as replacements of source ranges) and, when decoding, validating JSON types and
/// enum values.
struct OTLPJSONRewriter {
    enum Direction {
        /// OTLP/JSON input to proto3 JSON for swift-protobuf; also validates.
        case hexToBase64
        /// swift-protobuf output to OTLP/JSON.
        case base64ToHex
    }

    /// A source range (a whole string token) and the text that replaces it.
    struct Replacement {
        var range: Range<Int>
        var bytes: [UInt8]
    }

    let source: [UInt8]
    let direction: Direction
    /// In source order: the walk visits values in document order.
    private(set) var replacements: [Replacement] = []
    private var path: [OTLPJSONPathComponent] = []

    init(source: [UInt8], direction: Direction) {
        self.source = source
        self.direction = direction
    }

    /// Visits the members of an object holding message `kind`; unknown members are skipped.
    mutating func visitMembers(_ members: [JSONMember], of kind: OTLPMessageKind) throws(OTLPJSONError) {
        let fields = kind.fields
        for member in members {
            guard let field = fields[member.key] else { continue }
            path.append(.key(member.key))
            try visit(member.node, as: field)
            path.removeLast()
        }
    }

    private mutating func visit(_ node: JSONNode, as field: OTLPField) throws(OTLPJSONError) {
        if case .null = node.value { return }  // proto3 JSON: null means the default value.
        if direction == .base64ToHex, case .message(let kind) = field.type, !kind.containsIDs { return }
        guard field.isRepeated else {
            try visitValue(node, as: field.type)
            return
        }
        guard case .array(let elements) = node.value else {
            throw failure("expected an array, got \(describe(node))")
        }
        for (index, element) in elements.enumerated() {
            path.append(.index(index))
            if case .null = element.value {
                throw failure("expected \(field.type.expectation), got null")
            }
            try visitValue(element, as: field.type)
            path.removeLast()
        }
    }

    private mutating func visitValue(_ node: JSONNode, as type: OTLPFieldType) throws(OTLPJSONError) {
        switch (type, node.value) {
        case (.message(let kind), .object(let members)):
            try visitMembers(members, of: kind)
        case (.hexID, .string(let hasEscapes)):
            try rewriteID(node, hasEscapes: hasEscapes)
        case (.enumeration(let enumType), _):
            if direction == .hexToBase64 {
                try checkEnum(node, enumType)
            }
        case (.string, .string), (.bytes, .string), (.bool, .bool),
            (.integer, .number), (.integer, .string), (.double, .number), (.double, .string):
            return
        default:
            if direction == .hexToBase64 {
                throw failure("expected \(type.expectation), got \(describe(node))")
            }
        }
    }

    private mutating func rewriteID(_ node: JSONNode, hasEscapes: Bool) throws(OTLPJSONError) {
        let text = JSONText.utf8(in: source, range: node.range, hasEscapes: hasEscapes)
        var replacement: [UInt8] = [UInt8(ascii: "\"")]
        switch direction {
        case .hexToBase64:
            // A trace ID (16 bytes) or span ID (8 bytes) in base64: 24/22 or 12/11 characters, never a hex length.
            // Unpadded lengths (22, 11) must hold a non-hex character, so a malformed hex ID is not read as base64.
            let unpadded = text.count == 22 || text.count == 11
            if [24, 22, 12, 11].contains(text.count), !unpadded || text.contains(where: { JSONText.hexDigitValue($0) == nil }),
                let raw = OTLPJSONBytes.decodeBase64(text), raw.count == 16 || raw.count == 8
            {
                OTLPJSON.countBase64ID()
                OTLPJSONBytes.appendBase64(of: raw, to: &replacement)
                break
            }
            guard text.count % 2 == 0 else {
                throw failure("expected an even number of hex characters, got \(describe(node))")
            }
            guard let raw = OTLPJSONBytes.decodeHex(text) else {
                throw failure("expected a hex string, got \(describe(node))")
            }
            OTLPJSONBytes.appendBase64(of: raw, to: &replacement)
        case .base64ToHex:
            guard let raw = OTLPJSONBytes.decodeBase64(text) else {
                throw failure("swift-protobuf produced invalid base64 \(describe(node))")
            }
            OTLPJSONBytes.appendHex(of: raw, to: &replacement)
        }
        replacement.append(UInt8(ascii: "\""))
        replacements.append(Replacement(range: node.range, bytes: replacement))
    }

    private func checkEnum(_ node: JSONNode, _ enumType: OTLPEnumType) throws(OTLPJSONError) {
        switch node.value {
        case .number:
            let text = String(decoding: source[node.range], as: UTF8.self)
            let number: Int?
            if let integer = Int(text) {
                number = integer
            } else if let double = Double(text), double.rounded() == double, abs(double) < 1e15 {
                number = Int(double)
            } else if text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) {
                throw failure("expected an integer enum value, got \(describe(node))")
            } else {
                number = nil
            }
            guard let number, enumType.values.contains(number) else {
                throw failure("unknown enum value \(describe(node))")
            }
        case .string(let hasEscapes):
            guard enumType.hasName(JSONText.string(in: source, range: node.range, hasEscapes: hasEscapes)) else {
                throw failure("unknown enum value \(describe(node))")
            }
        default:
            throw failure("expected an integer enum value, got \(describe(node))")
        }
    }

    /// The source bytes in `range` with the replacements inside it applied.
    func render(_ range: Range<Int>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(range.count + range.count / 8)
        // First replacement starting at or after range.lowerBound (binary search).
        var low = 0
        var high = replacements.count
        while low < high {
            let middle = (low + high) / 2
            if replacements[middle].range.lowerBound < range.lowerBound {
                low = middle + 1
            } else {
                high = middle
            }
        }
        var cursor = range.lowerBound
        var index = low
        while index < replacements.count, replacements[index].range.upperBound <= range.upperBound {
            let replacement = replacements[index]
            output.append(contentsOf: source[cursor..<replacement.range.lowerBound])
            output.append(contentsOf: replacement.bytes)
            cursor = replacement.range.upperBound
            index += 1
        }
        output.append(contentsOf: source[cursor..<range.upperBound])
        return output
    }

    private func describe(_ node: JSONNode) -> String {
        OTLPJSON.describe(node, in: source)
    }

    private func failure(_ message: String) -> OTLPJSONError {
        OTLPJSONError(path: path, message: message)
    }
}

/// Hex and base64 conversions for ID fields.
enum OTLPJSONBytes {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
    private static let base64Alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8
    )

    /// Bytes from hex digits of either case; nil if the count is odd or a character is not hex.
    static func decodeHex(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var result: [UInt8] = []
        result.reserveCapacity(text.count / 2)
        var index = text.startIndex
        while index < text.endIndex {
            guard let high = JSONText.hexDigitValue(text[index]),
                let low = JSONText.hexDigitValue(text[index + 1])
            else { return nil }
            result.append(high << 4 | low)
            index += 2
        }
        return result
    }

    static func appendHex(of bytes: [UInt8], to output: inout [UInt8]) {
        for byte in bytes {
            output.append(hexDigits[Int(byte >> 4)])
            output.append(hexDigits[Int(byte & 0x0F)])
        }
    }

    /// Standard base64 with padding.
    static func appendBase64(of bytes: [UInt8], to output: inout [UInt8]) {
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            output.append(base64Alphabet[Int(chunk >> 18 & 0x3F)])
            output.append(base64Alphabet[Int(chunk >> 12 & 0x3F)])
            output.append(base64Alphabet[Int(chunk >> 6 & 0x3F)])
            output.append(base64Alphabet[Int(chunk & 0x3F)])
            index += 3
        }
        let remaining = bytes.count - index
        if remaining > 0 {
            var chunk = UInt32(bytes[index]) << 16
            if remaining == 2 { chunk |= UInt32(bytes[index + 1]) << 8 }
            output.append(base64Alphabet[Int(chunk >> 18 & 0x3F)])
            output.append(base64Alphabet[Int(chunk >> 12 & 0x3F)])
            output.append(remaining == 2 ? base64Alphabet[Int(chunk >> 6 & 0x3F)] : UInt8(ascii: "="))
            output.append(UInt8(ascii: "="))
        }
    }

    /// Bytes from base64 (standard or URL-safe alphabet, padding optional); nil if malformed.
    static func decodeBase64(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        var result: [UInt8] = []
        result.reserveCapacity(text.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        var padding = 0
        for character in text {
            let value: UInt32
            switch character {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(character - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(character - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(character - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"), UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "/"), UInt8(ascii: "_"): value = 63
            case UInt8(ascii: "="):
                padding += 1
                continue
            default:
                return nil
            }
            guard padding == 0 else { return nil }
            accumulator = accumulator << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                result.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        guard padding <= 2, bits < 6 else { return nil }
        return result
    }
}
