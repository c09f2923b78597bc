import Foundation
import Yams

/// Turns YAML text into a ``ConfigNode`` tree, substituting `${env:VAR}` and `${env:VAR:-default}` in values.
public enum ConfigLoader {
    /// Largest config accepted, in bytes: a config is a few kilobytes; anything near this is a mistake.
    public static let maxBytes = 4 << 20

    /// Parses YAML and substitutes environment references. Substitution problems are returned with their paths.
    public static func parse(
        yaml: String,
        environment: [String: String]
    ) -> (node: ConfigNode, problems: [ConfigProblem]) {
        guard yaml.utf8.count <= maxBytes else {
            return (.null, [ConfigProblem("config is \(yaml.utf8.count) bytes; the limit is \(maxBytes)")])
        }
        let composed: Node?
        do {
            composed = try Yams.compose(yaml: yaml)
        } catch {
            // Parser messages can quote the whole document; keep them readable.
            let message = String(describing: error)
            return (.null, [ConfigProblem("not valid YAML: \(message.count > 400 ? message.prefix(400) + "…" : Substring(message))")])
        }
        guard let composed else { return (.mapping([]), []) }
        var problems: [ConfigProblem] = []
        var budget = maxNodes
        let node = convert(composed, path: [], environment: environment, problems: &problems, depth: 0, budget: &budget)
        return (node, problems)
    }

    /// Most nodes a config may expand to. YAML aliases are resolved by the parser, so a few hundred bytes of nested
    /// aliases could otherwise expand to billions of nodes.
    public static let maxNodes = 100_000

    private static func convert(
        _ node: Node, path: [String], environment: [String: String], problems: inout [ConfigProblem], depth: Int,
        budget: inout Int
    ) -> ConfigNode {
        budget -= 1
        guard budget >= 0 else {
            if budget == -1 {
                problems.append(ConfigProblem(path: ConfigPath.render(path), "config expands to more than \(maxNodes) values (nested YAML aliases?)"))
            }
            return .null
        }
        guard depth < 64 else {
            problems.append(ConfigProblem(path: ConfigPath.render(path), "nesting deeper than 64 levels"))
            return .null
        }
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain, NSNull.construct(from: scalar) != nil { return .null }
            switch EnvSubstitution.substitute(scalar.string, environment: environment) {
            case .success(let s): return .scalar(s)
            case .failure(let problem):
                problems.append(ConfigProblem(path: ConfigPath.render(path), problem.message))
                return .scalar(scalar.string)
            }
        case .sequence(let seq):
            return .sequence(
                seq.enumerated().map { i, child in
                    convert(child, path: path + ["\(i)"], environment: environment, problems: &problems, depth: depth + 1, budget: &budget)
                })
        case .mapping(let map):
            var entries: [(key: String, value: ConfigNode)] = []
            for (k, v) in map {
                let key = k.scalar?.string ?? ""
                if entries.contains(where: { $0.key == key }) {
                    problems.append(ConfigProblem(path: ConfigPath.render(path + [key]), "duplicate key"))
                    continue
                }
                entries.append(
                    (key, convert(v, path: path + [key], environment: environment, problems: &problems, depth: depth + 1, budget: &budget)))
            }
            return .mapping(entries)
        default:
            problems.append(ConfigProblem(path: ConfigPath.render(path), "YAML aliases are not supported"))
            return .null
        }
    }
}

/// Paths in messages use otelcol's `::` separator: `exporters::sqlite::retention`.
public enum ConfigPath {
    public static func render(_ parts: [String]) -> String { parts.joined(separator: "::") }
}

/// `${env:VAR}`, `${env:VAR:-default}` and `${VAR}` in config values, as otelcol resolves them; `$$` is a literal `$`.
/// An unset variable without a default becomes the empty string, as in otelcol.
public enum EnvSubstitution {
    public static func substitute(_ text: String, environment: [String: String]) -> Result<String, ConfigProblem> {
        guard text.contains("$") else { return .success(text) }
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            guard c == "$" else {
                out.append(c)
                i = text.index(after: i)
                continue
            }
            let next = text.index(after: i)
            if next < text.endIndex, text[next] == "$" {
                out.append("$")
                i = text.index(after: next)
                continue
            }
            guard next < text.endIndex, text[next] == "{" else {
                out.append(c)
                i = next
                continue
            }
            guard let close = text[next...].firstIndex(of: "}") else {
                return .failure(ConfigProblem("unterminated \"${\" in \"\(text)\""))
            }
            var body = String(text[text.index(after: next)..<close])
            if body.hasPrefix("env:") {
                body.removeFirst(4)
            } else if let colon = body.firstIndex(of: ":"), !body[..<colon].contains("-") {
                return .failure(ConfigProblem("unsupported config provider \"\(body[..<colon])\" in \"\(text)\"; only env is supported"))
            }
            var name = body
            var fallback: String?
            if let range = body.range(of: ":-") {
                name = String(body[..<range.lowerBound])
                fallback = String(body[range.upperBound...])
            }
            guard let first = name.unicodeScalars.first,
                first == "_" || ("A"..."Z").contains(first) || ("a"..."z").contains(first),
                name.unicodeScalars.allSatisfy({ $0 == "_" || ("A"..."Z").contains($0) || ("a"..."z").contains($0) || ("0"..."9").contains($0) })
            else {
                return .failure(ConfigProblem("invalid environment variable name \"\(name)\" in \"\(text)\""))
            }
            if let value = environment[name], !(value.isEmpty && fallback != nil) {
                out += value
            } else {
                out += fallback ?? ""
            }
            i = text.index(after: close)
        }
        return .success(out)
    }
}
