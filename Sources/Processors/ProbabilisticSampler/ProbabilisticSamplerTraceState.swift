/// A span's W3C `tracestate`, split into the OpenTelemetry `ot` member (with its sampling sub-keys `rv` and `th`)
/// and every other member, which is kept as written. Parsing and serializing follow otelcol-contrib's
/// `pkg/sampling` (`W3CTraceState`/`OTelTraceState`): `ot` is written first, then the other members in order,
/// joined by `,`; inside `ot`, `rv`, then `th`, then other sub-keys, joined by `;`.
struct SamplingTraceState: Equatable {
    /// `rv`: explicit randomness (exactly 14 hex digits), if present.
    var randomness: UInt64?
    var randomnessText: Substring?
    /// `th`: the rejection threshold, if present.
    var threshold: SamplingThreshold?
    var thresholdText: Substring?
    /// Other `ot` sub-keys, in order.
    var otherOTelValues: [(key: Substring, value: Substring)] = []
    /// Members other than `ot`, in order.
    var otherMembers: [(key: Substring, value: Substring)] = []

    static func == (a: Self, b: Self) -> Bool {
        a.randomness == b.randomness && a.threshold == b.threshold
            && a.otherOTelValues.elementsEqual(b.otherOTelValues, by: { $0 == $1 })
            && a.otherMembers.elementsEqual(b.otherMembers, by: { $0 == $1 })
    }

    enum ParseError: Error { case syntax, size, badRandomness, badThreshold }

    init() {}

    /// Parses a raw `tracestate`; an empty string is an empty state.
    init(parsing raw: String) throws(ParseError) {
        guard raw.utf8.count <= 1024 else { throw .size }
        var members = 0
        for piece in raw.split(separator: ",", omittingEmptySubsequences: false) {
            members += 1
            // otelcol's scanner rejects a list once it reaches 32 members (empty ones included).
            if members >= 32 { throw .size }
            let member = Self.trimOWS(piece)
            if member.isEmpty { continue }
            guard let eq = member.firstIndex(of: "=") else { throw .syntax }
            let key = member[..<eq]
            let value = member[member.index(after: eq)...]
            guard Self.isValidKey(key), Self.isValidValue(value) else { throw .syntax }
            if key == "ot" {
                try parseOTel(value)
            } else {
                otherMembers.append((key, value))
            }
        }
    }

    private mutating func parseOTel(_ value: Substring) throws(ParseError) {
        guard value.utf8.count <= 256 else { throw .size }
        var failure: ParseError?
        for part in value.split(separator: ";", omittingEmptySubsequences: false) {
            guard let colon = part.firstIndex(of: ":") else { throw .syntax }
            let key = part[..<colon]
            let v = part[part.index(after: colon)...]
            guard Self.isValidOTelKey(key), v.utf8.allSatisfy(Self.isOTelValueByte) else { throw .syntax }
            switch key {
            case "rv":
                if v.utf8.count == 14, v.utf8.allSatisfy(SamplingHex.isHex), let r = UInt64(v, radix: 16) {
                    randomness = r
                    randomnessText = v
                } else {
                    randomness = nil
                    randomnessText = nil
                    failure = .badRandomness
                }
            case "th":
                if let t = SamplingThreshold(tValue: v) {
                    threshold = t
                    thresholdText = v
                } else {
                    threshold = nil
                    thresholdText = nil
                    failure = .badThreshold
                }
            default:
                otherOTelValues.append((key, v))
            }
        }
        if let failure { throw failure }
    }

    /// The `tracestate` text.
    func serialized() -> String {
        var ot = ""
        func add(_ key: some StringProtocol, _ value: some StringProtocol) {
            if !ot.isEmpty { ot += ";" }
            ot += key
            ot += ":"
            ot += value
        }
        if let randomness { add("rv", randomnessText.map(String.init) ?? SamplingHex.fourteen(randomness)) }
        if let threshold { add("th", thresholdText.map(String.init) ?? threshold.tValue) }
        for kv in otherOTelValues { add(kv.key, kv.value) }
        var out = ""
        if !ot.isEmpty {
            out += "ot="
            out += ot
        }
        for kv in otherMembers {
            if !out.isEmpty { out += "," }
            out += kv.key
            out += "="
            out += kv.value
        }
        return out
    }

    /// Sets explicit randomness (`rv`).
    mutating func setRandomness(_ value: UInt64) {
        randomness = value
        randomnessText = nil
    }

    /// Sets `th` unless that would raise the sampling probability of an existing `th` (otelcol's
    /// `UpdateTValueWithSampling`: a higher existing threshold is kept). Never is not written.
    mutating func updateThreshold(_ new: SamplingThreshold) {
        if let existing = threshold, existing.rejection > new.rejection { return }
        if new == .neverSample {
            clearThreshold()
            return
        }
        threshold = new
        thresholdText = nil
    }

    mutating func clearThreshold() {
        threshold = nil
        thresholdText = nil
    }

    // MARK: syntax (W3C Trace Context, as otelcol's regular expressions check it)

    private static func trimOWS(_ s: Substring) -> Substring {
        var s = s
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }

    private static func isLCAlpha(_ c: UInt8) -> Bool { c >= 0x61 && c <= 0x7A }
    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    private static func isKeyByte(_ c: UInt8) -> Bool {
        isLCAlpha(c) || isDigit(c) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: "*") || c == UInt8(ascii: "/")
    }

    /// `simple-key` or `tenant@system`.
    private static func isValidKey(_ key: Substring) -> Bool {
        let bytes = Array(key.utf8)
        guard let first = bytes.first else { return false }
        if let at = bytes.firstIndex(of: UInt8(ascii: "@")) {
            let tenant = bytes[..<at]
            let system = bytes[(at + 1)...]
            guard let t0 = tenant.first, isLCAlpha(t0) || isDigit(t0), tenant.count <= 241, tenant.allSatisfy(isKeyByte) else { return false }
            guard let s0 = system.first, isLCAlpha(s0), system.count <= 14, system.allSatisfy(isKeyByte) else { return false }
            return true
        }
        return isLCAlpha(first) && bytes.count <= 256 && bytes.allSatisfy(isKeyByte)
    }

    /// 1–256 printable ASCII characters other than `,` and `=`, not ending in a space.
    private static func isValidValue(_ value: Substring) -> Bool {
        let bytes = value.utf8
        guard let last = bytes.last, bytes.count <= 256, last != 0x20 else { return false }
        return bytes.allSatisfy { $0 >= 0x20 && $0 <= 0x7E && $0 != 0x2C && $0 != 0x3D }
    }

    private static func isValidOTelKey(_ key: Substring) -> Bool {
        guard let first = key.utf8.first, isLCAlpha(first) else { return false }
        return key.utf8.allSatisfy { isLCAlpha($0) || isDigit($0) }
    }

    private static func isOTelValueByte(_ c: UInt8) -> Bool {
        isLCAlpha(c) || isDigit(c) || (c >= 0x41 && c <= 0x5A) || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
    }
}
