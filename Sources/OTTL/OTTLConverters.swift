import CollectorCore
import Foundation
import OTLP

/// The converters otelsink implements: pure functions that give a value (their names start with an upper-case
/// letter). Behaviour follows otelcol-contrib's `ottlfuncs`.
enum OTTLConverters {
    typealias Getter = OTTLAccess.Getter
    typealias P = OTTLArguments.Parameter

    static let names = [
        "Concat", "ConvertCase", "Double", "Duration", "Int", "IsMatch", "Len", "ParseJSON", "SHA256", "Split",
        "String", "Substring", "ToLowerCase", "ToUpperCase",
    ]

    /// Converters that can be passed by name as the `function` of the replace editors (string in, string out).
    static func stringFunction(_ name: String) -> (@Sendable (String) -> String)? {
        switch name {
        case "SHA256": return sha256
        case "ToLowerCase": return { $0.lowercased() }
        case "ToUpperCase": return { $0.uppercased() }
        default: return nil
        }
    }

    static func compile(_ call: OTTLSyntax.Call, _ c: OTTLCompiler) throws(OTTLParseError) -> Getter {
        switch call.name {
        case "Concat":
            let a = try OTTLArguments(call, [P("vals"), P("delimiter")], c)
            let valsNode = try a.required("vals")
            guard case .list(let items) = valsNode.value else { throw c.fail(valsNode, "Concat takes a list of values, such as [a, b]") }
            let getters = try items.map { (n: OTTLSyntax.Node) throws(OTTLParseError) -> Getter in try c.value(n) }
            let delimiter = try a.value("delimiter")
            return { t in
                guard case .string(let d) = try delimiter(&t) else { throw OTTLRuntimeError("Concat's delimiter must be a string") }
                var out = ""
                for (i, g) in getters.enumerated() {
                    if i > 0 { out += d }
                    let v = try g(&t)
                    if case .null = v { out += "<nil>" } else if let s = v.stringLike { out += s }
                }
                return .string(out)
            }
        case "ConvertCase":
            let a = try OTTLArguments(call, [P("target"), P("toCase")], c)
            let target = try a.value("target")
            let toCase = try a.string("toCase")
            let convert: @Sendable (String) -> String
            switch toCase {
            case "lower": convert = { $0.lowercased() }
            case "upper": convert = { $0.uppercased() }
            case "snake": convert = OTTLCase.snake
            case "camel": convert = OTTLCase.camel
            default: throw c.fail(try a.required("toCase"), "toCase must be lower, upper, snake or camel")
            }
            return { t in
                let v = try target(&t)
                guard case .string(let s) = v else { throw OTTLRuntimeError("ConvertCase needs a string, got \(v.typeName)") }
                return .string(convert(s))
            }
        case "Int":
            let v = try OTTLArguments(call, [P("value")], c).value("value")
            return { t in
                switch try v(&t) {
                case .int(let i): return .int(i)
                case .double(let d):
                    guard d.isFinite, d > -9.223372036854775807e18, d < 9.223372036854775807e18 else { return .null }
                    return .int(Int64(d))
                case .bool(let b): return .int(b ? 1 : 0)
                case .string(let s): return AttributeValueText.goParseInt(s).map { .int($0) } ?? .null
                default: return .null
                }
            }
        case "Double":
            let v = try OTTLArguments(call, [P("value")], c).value("value")
            return { t in
                switch try v(&t) {
                case .double(let d): return .double(d)
                case .int(let i): return .double(Double(i))
                case .bool(let b): return .double(b ? 1 : 0)
                case .string(let s): return AttributeValueText.goParseFloat(s).map { .double($0) } ?? .null
                default: return .null
                }
            }
        case "String":
            let v = try OTTLArguments(call, [P("value")], c).value("value")
            return { t in (try v(&t)).stringLike.map { .string($0) } ?? .null }
        case "IsMatch":
            let a = try OTTLArguments(call, [P("target"), P("pattern")], c)
            let target = try a.value("target")
            let regex = try a.regex("pattern")
            return { t in
                let v = try target(&t)
                let text: String
                switch v {
                case .null: return .bool(false)
                case .bytes(let b): text = Data(b).base64EncodedString()
                case .time, .duration: throw OTTLRuntimeError("IsMatch cannot match a \(v.typeName)")
                default: text = v.stringLike ?? ""
                }
                return .bool(regex.matches(text))
            }
        case "SHA256":
            let v = try OTTLArguments(call, [P("value")], c).value("value")
            return { t in
                let value = try v(&t)
                guard case .string(let s) = value else { throw OTTLRuntimeError("SHA256 needs a string, got \(value.typeName)") }
                return .string(sha256(s))
            }
        case "Substring":
            let a = try OTTLArguments(call, [P("target"), P("start"), P("length"), P("utf8_safe", optional: true)], c)
            let target = try a.value("target")
            let start = try a.value("start")
            let length = try a.value("length")
            let safe = try a.bool("utf8_safe", default: false)
            return { t in
                let v = try target(&t)
                guard case .string(let s) = v else { throw OTTLRuntimeError("Substring needs a string, got \(v.typeName)") }
                guard case .int(var from) = try start(&t), case .int(let count) = try length(&t) else {
                    throw OTTLRuntimeError("Substring's start and length must be ints")
                }
                let bytes = Array(s.utf8)
                guard from >= 0, count >= 0, from <= Int64(bytes.count), count <= Int64(bytes.count) - from else {
                    throw OTTLRuntimeError("Substring(\(from), \(count)) is out of range for \(bytes.count) bytes")
                }
                var to = from + count
                if safe {
                    while from < Int64(bytes.count), bytes[Int(from)] & 0xC0 == 0x80 { from += 1 }
                    while to < Int64(bytes.count), to > from, bytes[Int(to)] & 0xC0 == 0x80 { to -= 1 }
                    if to < from { to = from }
                }
                return .string(String(decoding: bytes[Int(from)..<Int(to)], as: UTF8.self))
            }
        case "Split":
            let a = try OTTLArguments(call, [P("target"), P("delimiter")], c)
            let target = try a.value("target")
            let delimiter = try a.string("delimiter")
            return { t in
                let v = try target(&t)
                guard case .string(let s) = v else { throw OTTLRuntimeError("Split needs a string, got \(v.typeName)") }
                let parts: [String] = delimiter.isEmpty ? s.map { String($0) } : s.components(separatedBy: delimiter)
                return .list(parts.map { AnyValue.string($0) })
            }
        case "ParseJSON":
            let v = try OTTLArguments(call, [P("target")], c).value("target")
            return { t in
                let value = try v(&t)
                guard case .string(let s) = value else { throw OTTLRuntimeError("ParseJSON needs a string, got \(value.typeName)") }
                let parsed = try OTTLJSON.parse(s)
                switch parsed.value {
                case .kvlistValue(let m)?: return .map(m.values)
                case .arrayValue(let l)?: return .list(l.values)
                default: throw OTTLRuntimeError("ParseJSON needs a JSON object or array")
                }
            }
        case "Duration":
            let v = try OTTLArguments(call, [P("duration")], c).value("duration")
            return { t in
                let value = try v(&t)
                guard case .string(let s) = value, let d = DurationText.parse(s) else {
                    throw OTTLRuntimeError("Duration needs a duration such as \"1.5s\" or \"300ms\"")
                }
                let (seconds, attos) = d.components
                return .duration(seconds &* 1_000_000_000 &+ attos / 1_000_000_000)
            }
        case "Len":
            let v = try OTTLArguments(call, [P("target")], c).value("target")
            return { t in
                switch try v(&t) {
                case .string(let s): return .int(Int64(s.utf8.count))
                case .list(let l): return .int(Int64(l.count))
                case .map(let m): return .int(Int64(m.count))
                case let other: throw OTTLRuntimeError("Len needs a string, list or map, got \(other.typeName)")
                }
            }
        case "ToLowerCase", "ToUpperCase":
            let v = try OTTLArguments(call, [P("target")], c).value("target")
            let upper = call.name == "ToUpperCase"
            return { t in
                let value = try v(&t)
                guard case .string(let s) = value else { throw OTTLRuntimeError("\(upper ? "ToUpperCase" : "ToLowerCase") needs a string") }
                return .string(upper ? s.uppercased() : s.lowercased())
            }
        default:
            if OTTLEditors.names.contains(call.name) {
                throw c.fail(at: call.offset, "\(call.name) is an editor; it cannot be used as a value")
            }
            throw c.fail(at: call.offset, "unknown converter \(call.name) (otelsink has \(names.joined(separator: ", ")))")
        }
    }

    @Sendable static func sha256(_ s: String) -> String {
        OTTLHex.encode(SHA256.hash(Array(s.utf8)))
    }
}

/// `ConvertCase`'s snake and camel forms, splitting words as iancoleman/strcase does: at spaces, `_`, `-`, `.`,
/// at a lower-to-upper change, and before the last capital of an upper-case run followed by a lower-case letter
/// (`HTTPServer` → `HTTP`, `Server`).
enum OTTLCase {
    static func words(_ s: String) -> [String] {
        var words: [String] = []
        var current = ""
        let chars = Array(s)
        for (i, ch) in chars.enumerated() {
            if ch == " " || ch == "_" || ch == "-" || ch == "." {
                if !current.isEmpty {
                    words.append(current)
                    current = ""
                }
                continue
            }
            if ch.isUppercase, let prev = current.last {
                let nextIsLower = i + 1 < chars.count && chars[i + 1].isLowercase
                if prev.isLowercase || prev.isNumber || (prev.isUppercase && nextIsLower) {
                    words.append(current)
                    current = ""
                }
            }
            current.append(ch)
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    @Sendable static func snake(_ s: String) -> String {
        words(s).map { $0.lowercased() }.joined(separator: "_")
    }

    @Sendable static func camel(_ s: String) -> String {
        words(s).map { w in w.prefix(1).uppercased() + w.dropFirst().lowercased() }.joined()
    }
}
