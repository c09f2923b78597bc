import NIOHPACK

/// A gRPC request's header block, checked as RFC 9113 §8.2–8.3 requires of a request and read in the same pass.
///
/// The gRPC listener's HTTP/2 (``GRPCHTTP2Handler``) leaves header blocks unchecked beyond HPACK; they are checked
/// here, with the rules swift-nio-http2 applies, whose own check of the three header blocks of a unary call (the
/// request's, and the answer's two, which otelsink writes itself) cost ~35,000 instructions, 6.6 % of a metrics
/// export. The rules: field names are
/// lowercase tokens, pseudo-header fields come first, each once, only those a request may carry (`:method`,
/// `:scheme`, `:path`, `:authority`; `:method` and `:authority` alone for CONNECT), with no control characters or
/// spaces in their values and a non-empty `:path`; no connection-specific fields; `te` only as `trailers`; and no
/// NUL, CR or LF in any value. A block that breaks one is malformed: the stream is reset with PROTOCOL_ERROR.
struct GRPCRequestHead {
    var method = ""
    var path = ""
    /// The first `content-type`, `grpc-encoding` and credentials field (the authenticator's header), if present.
    var contentType: String?
    var encoding: String?
    var credentials: String?

    /// Why a header block is malformed (for tests and debugging: the client sees only RST_STREAM PROTOCOL_ERROR).
    struct Malformed: Error, Equatable {
        let reason: String
    }

    private struct Pseudo: OptionSet {
        let rawValue: UInt8
        static let method = Pseudo(rawValue: 1)
        static let scheme = Pseudo(rawValue: 2)
        static let path = Pseudo(rawValue: 4)
        static let authority = Pseudo(rawValue: 8)
    }

    /// Checks and reads a request's header block; `credentialsHeader` is the lowercase name of the field credentials
    /// come in, if any.
    init(_ headers: HPACKHeaders, credentialsHeader: String? = nil) throws(Malformed) {
        var seen: Pseudo = []
        var regular = false
        for (name, value, _) in headers {
            if name.utf8.first == UInt8(ascii: ":") {
                guard !regular else { throw Malformed(reason: "pseudo-header field \(name.prefix(40)) after a regular one") }
                let field: Pseudo
                switch name {
                case ":method":
                    field = .method
                    method = value
                case ":scheme": field = .scheme
                case ":path":
                    field = .path
                    path = value
                    guard !value.isEmpty else { throw Malformed(reason: "empty :path") }
                case ":authority": field = .authority
                default: throw Malformed(reason: "pseudo-header field \(name.prefix(40)) in a request")
                }
                guard !seen.contains(field) else { throw Malformed(reason: "\(name) twice") }
                seen.insert(field)
                guard Self.isPseudoHeaderValue(value) else { throw Malformed(reason: "\(name) with a space or control character") }
                continue
            }
            regular = true
            try Self.checkRegular(name, value)
            // Names compared only when their lengths agree (a length is at hand; a comparison of strings is not free).
            switch name.utf8.count {
            case 12 where contentType == nil && name == "content-type": contentType = value
            case 13 where encoding == nil && name == "grpc-encoding": encoding = value
            case 2 where name == "te": guard value == "trailers" else { throw Malformed(reason: "te other than trailers") }
            default: break
            }
            if credentials == nil, let credentialsHeader, name.utf8.count == credentialsHeader.utf8.count, name == credentialsHeader {
                credentials = value
            }
        }
        let allowed: Pseudo = method == "CONNECT" ? [.method, .authority] : [.method, .scheme, .path, .authority]
        let required: Pseudo = method == "CONNECT" ? [.method, .authority] : [.method, .scheme, .path]
        guard allowed.isSuperset(of: seen), seen.isSuperset(of: required) else {
            throw Malformed(reason: "the request's pseudo-header fields are not :method, :scheme and :path (and :authority)")
        }
    }

    /// Checks a trailer block a client sends: regular fields only.
    static func checkTrailers(_ headers: HPACKHeaders) throws(Malformed) {
        for (name, value, _) in headers {
            guard name.utf8.first != UInt8(ascii: ":") else { throw Malformed(reason: "pseudo-header field \(name.prefix(40)) in trailers") }
            try checkRegular(name, value)
        }
    }

    private static func checkRegular(_ name: String, _ value: String) throws(Malformed) {
        guard isLowercaseToken(name) else { throw Malformed(reason: "field name is not a lowercase token") }
        let connectionSpecific =
            switch name.utf8.count {
            case 7: name == "upgrade"
            case 10: name == "connection" || name == "keep-alive"
            case 16: name == "proxy-connection"
            case 17: name == "transfer-encoding"
            default: false
            }
        if connectionSpecific { throw Malformed(reason: "connection-specific field \(name)") }
        guard isFieldValue(value) else { throw Malformed(reason: "\(name.prefix(40)) with NUL, CR or LF in its value") }
    }

    /// A token (RFC 9110 §5.6.2) without uppercase letters, as HTTP/2 field names must be.
    static func isLowercaseToken(_ name: String) -> Bool {
        !name.isEmpty
            && allBytes(name) { byte in
                switch byte {
                case 0x21, 0x23...0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x30...0x39, 0x5E...0x7A, 0x7C, 0x7E: true
                default: false
                }
            }
    }

    /// No NUL, CR or LF (RFC 9113 §8.2.1).
    static func isFieldValue(_ value: String) -> Bool { allBytes(value) { $0 != 0x00 && $0 != 0x0A && $0 != 0x0D } }

    /// No control characters, space or DEL: none of the pseudo-header fields' grammars admits them.
    static func isPseudoHeaderValue(_ value: String) -> Bool { allBytes(value) { $0 > 0x20 && $0 != 0x7F } }

    /// Whether every UTF-8 byte of `text` passes: over its contiguous storage (decoded header fields are native
    /// strings) rather than through the UTF-8 view's iterator.
    @inline(__always)
    private static func allBytes(_ text: String, _ ok: (UInt8) -> Bool) -> Bool {
        text.utf8.withContiguousStorageIfAvailable { bytes in
            for byte in bytes where !ok(byte) { return false }
            return true
        } ?? text.utf8.allSatisfy(ok)
    }
}
