import Foundation
import OTLP

/// The editors otelsink implements: the functions a statement calls to change telemetry (lower-case names).
/// Behaviour follows otelcol-contrib's `ottlfuncs`.
enum OTTLEditors {
    typealias Run = @Sendable (inout OTTLTarget) throws -> Void
    typealias P = OTTLArguments.Parameter

    static let names = [
        "set", "delete_key", "delete_matching_keys", "keep_keys", "keep_matching_keys", "limit", "truncate_all",
        "replace_pattern", "replace_all_patterns", "replace_match", "replace_all_matches", "merge_maps",
    ]

    static func compile(_ call: OTTLSyntax.Call, _ c: OTTLCompiler) throws(OTTLParseError) -> Run {
        switch call.name {
        case "set":
            let a = try OTTLArguments(call, [P("target"), P("value")], c)
            let target = try a.settable("target")
            // A constant into an attribute: converted to its stored form once, here.
            if let setStored = target.setStored, let literal = c.literal(a.node("value")), let stored = try? OTTLCompiler.storable(literal) {
                return { t in try setStored(&t, stored) }
            }
            let value = try a.value("value")
            return { t in
                let v = try value(&t)
                if case .null = v { return }  // as otelcol: setting nil does nothing
                try target.set(&t, v)
            }
        case "delete_key":
            let a = try OTTLArguments(call, [P("target"), P("key")], c)
            let map = try a.map("target")
            if case .string(let key)? = a.node("key")?.value {
                let match = OTTLKeyMatch(key)
                return { t in
                    try map(&t) { list in
                        // Keys are unique in practice: find, remove, and look on only after the first match.
                        guard let first = match.index(in: list) else { return }
                        list.remove(at: first)
                        if first < list.count, list[first...].contains(where: { match.matches($0.key) }) {
                            list.removeAll { match.matches($0.key) }
                        }
                    }
                }
            }
            let key = try a.value("key")
            return { t in
                guard case .string(let k) = try key(&t) else { throw OTTLRuntimeError("delete_key's key must be a string") }
                try map(&t) { $0.removeAll { $0.key == k } }
            }
        case "delete_matching_keys", "keep_matching_keys":
            let a = try OTTLArguments(call, [P("target"), P("pattern")], c)
            let map = try a.map("target")
            let regex = try a.regex("pattern")
            let keep = call.name == "keep_matching_keys"
            return { t in try map(&t) { $0.removeAll { regex.matches($0.key) != keep } } }
        case "keep_keys":
            let a = try OTTLArguments(call, [P("target"), P("keys")], c)
            let map = try a.map("target")
            let keys = Set(try a.strings("keys"))
            return { t in try map(&t) { $0.removeAll { !keys.contains($0.key) } } }
        case "limit":
            let a = try OTTLArguments(call, [P("target"), P("limit"), P("priority_keys")], c)
            let map = try a.map("target")
            let limit = try a.int("limit")
            let priority = try a.strings("priority_keys")
            guard limit >= 0 else { throw c.fail(try a.required("limit"), "limit must not be negative") }
            guard Int64(priority.count) <= limit else {
                throw c.fail(try a.required("priority_keys"), "there are more priority keys (\(priority.count)) than the limit (\(limit))")
            }
            let prioritySet = Set(priority)
            return { t in
                try map(&t) { list in
                    guard Int64(list.count) > limit else { return }
                    var kept = Int64(list.reduce(0) { $0 + (prioritySet.contains($1.key) ? 1 : 0) })
                    list.removeAll { kv in
                        if prioritySet.contains(kv.key) { return false }
                        if kept < limit {
                            kept += 1
                            return false
                        }
                        return true
                    }
                }
            }
        case "truncate_all":
            let a = try OTTLArguments(call, [P("target"), P("limit"), P("utf8_safe", optional: true), P("truncation_marker", optional: true)], c)
            let map = try a.map("target")
            let limit = try a.int("limit")
            let safe = try a.bool("utf8_safe", default: true)
            let marker = try a.string("truncation_marker", default: "")
            guard limit >= 0 else { throw c.fail(try a.required("limit"), "limit must not be negative") }
            guard Int64(marker.utf8.count) <= limit else {
                let limitNode = try a.required("limit")
                throw c.fail(a.node("truncation_marker") ?? limitNode, "truncation_marker is longer than the limit")
            }
            let keep = Int(limit) - marker.utf8.count
            return { t in
                try map(&t) { list in
                    for i in list.indices {
                        guard case .stringValue(let s)? = list[i].value.value, s.utf8.count > Int(limit) else { continue }
                        let bytes = Array(s.utf8)
                        var end = keep
                        if safe { while end > 0, bytes[end] & 0xC0 == 0x80 { end -= 1 } }
                        list[i].value.stringValue = String(decoding: bytes[..<end], as: UTF8.self) + marker
                    }
                }
            }
        case "replace_pattern":
            let a = try OTTLArguments(
                call,
                [
                    P("target"), P("regex"), P("replacement"), P("function", optional: true),
                    P("replacementFormat", optional: true),
                ], c)
            let target = try a.settable("target")
            let regex = try a.regex("regex")
            let replacement = try a.value("replacement")
            let transform = try a.replacementTransform()
            if transform == nil, case .string(let template)? = c.literal(a.node("replacement")),
                let replacer = regex.literalReplacer(template: template)
            {
                // Plain text for plain text, both constants: the common case, decided here rather than per item.
                return { t in
                    try target.update(&t) { v in
                        guard case .string(let s) = v else { return nil }
                        return replacer(s).map(OTTLValue.string)
                    }
                }
            }
            return { t in
                // The replacement first (getters have no side effects), so that the target is read and written in
                // one step; its error counts only when there is something to replace.
                let replacement = Result { try replacement(&t) }
                try target.update(&t) { v in
                    guard case .string(let s) = v else { return nil }
                    if transform == nil, case .success(.string(let template)) = replacement {
                        return regex.replacingAll(in: s, template: template).map(OTTLValue.string)
                    }
                    guard regex.matches(s) else { return nil }
                    guard case .string(let template) = try replacement.get() else { throw OTTLRuntimeError("the replacement must be a string") }
                    return .string(replace(s, regex, template, transform))
                }
            }
        case "replace_all_patterns":
            let a = try OTTLArguments(
                call,
                [
                    P("target"), P("mode"), P("regex"), P("replacement"), P("function", optional: true),
                    P("replacementFormat", optional: true),
                ], c)
            let map = try a.map("target")
            let mode = try a.string("mode")
            guard mode == "key" || mode == "value" else { throw c.fail(try a.required("mode"), "mode must be \"key\" or \"value\"") }
            let regex = try a.regex("regex")
            let replacement = try a.value("replacement")
            let transform = try a.replacementTransform()
            let onKeys = mode == "key"
            return { t in
                guard case .string(let template) = try replacement(&t) else { throw OTTLRuntimeError("the replacement must be a string") }
                try map(&t) { list in
                    if onKeys {
                        var out: [KeyValue] = []
                        out.reserveCapacity(list.count)
                        for var kv in list {
                            if regex.matches(kv.key) { kv.key = replace(kv.key, regex, template, transform) }
                            if let i = out.firstIndex(where: { $0.key == kv.key }) { out[i].value = kv.value } else { out.append(kv) }
                        }
                        list = out
                    } else {
                        for i in list.indices {
                            guard case .stringValue(let s)? = list[i].value.value, regex.matches(s) else { continue }
                            list[i].value.stringValue = replace(s, regex, template, transform)
                        }
                    }
                }
            }
        case "replace_match":
            let a = try OTTLArguments(
                call,
                [
                    P("target"), P("pattern"), P("replacement"), P("function", optional: true),
                    P("replacementFormat", optional: true),
                ], c)
            let target = try a.settable("target")
            let glob = try a.glob("pattern")
            let replacement = try a.value("replacement")
            let transform = try a.replacementTransform()
            return { t in
                guard case .string(let s) = try target.get(&t), glob.matches(s) else { return }
                guard case .string(let r) = try replacement(&t) else { throw OTTLRuntimeError("the replacement must be a string") }
                try target.set(&t, .string(transform?.apply(r) ?? r))
            }
        case "replace_all_matches":
            let a = try OTTLArguments(
                call,
                [
                    P("target"), P("pattern"), P("replacement"), P("function", optional: true),
                    P("replacementFormat", optional: true),
                ], c)
            let map = try a.map("target")
            let glob = try a.glob("pattern")
            let replacement = try a.value("replacement")
            let transform = try a.replacementTransform()
            return { t in
                guard case .string(let r) = try replacement(&t) else { throw OTTLRuntimeError("the replacement must be a string") }
                let new = transform?.apply(r) ?? r
                try map(&t) { list in
                    for i in list.indices {
                        guard case .stringValue(let s)? = list[i].value.value, glob.matches(s) else { continue }
                        list[i].value.stringValue = new
                    }
                }
            }
        case "merge_maps":
            let a = try OTTLArguments(call, [P("target"), P("source"), P("strategy")], c)
            let map = try a.map("target")
            let source = try a.value("source")
            let strategy = try a.string("strategy")
            guard ["insert", "update", "upsert"].contains(strategy) else {
                throw c.fail(try a.required("strategy"), "strategy must be insert, update or upsert")
            }
            let insert = strategy != "update"
            let update = strategy != "insert"
            return { t in
                let v = try source(&t)
                guard case .map(let from) = v else { throw OTTLRuntimeError("merge_maps' source must be a map, got \(v.typeName)") }
                try map(&t) { list in
                    for kv in from {
                        if let i = list.firstIndex(where: { $0.key == kv.key }) {
                            if update { list[i].value = kv.value }
                        } else if insert {
                            list.append(kv)
                        }
                    }
                }
            }
        default:
            if OTTLConverters.names.contains(call.name) || call.name.first?.isUppercase == true {
                throw c.fail(at: call.offset, "\(call.name) is a converter; a statement calls an editor such as set(...)")
            }
            throw c.fail(at: call.offset, "unknown editor \(call.name) (otelsink has \(names.joined(separator: ", ")))")
        }
    }

    /// `replace_pattern`'s rule: without a function, every match becomes the expanded template; with one, each
    /// match's expanded template goes through the function and format, and every occurrence of that match's text
    /// is replaced by the result (as otelcol does).
    static func replace(_ s: String, _ regex: OTTLRegex, _ template: String, _ transform: OTTLReplacementTransform?) -> String {
        guard let transform else { return regex.replaceAll(in: s, template: template) }
        var updated = s
        for m in regex.allMatches(in: s) {
            guard let whole = m[0] else { continue }
            let result = transform.apply(regex.expand(template, match: m, in: s))
            updated = updated.replacingOccurrences(of: String(s[whole]), with: result, options: .literal)
        }
        return updated
    }
}
