/// Parses the LogQL subset of ``LogQLQuery``. Syntax errors use Loki's shape (`parse error at line 1, col 12:
/// syntax error: unexpected IDENTIFIER, expecting = or != or =~ or !~`), with the 1-based position of the
/// offending token; valid LogQL outside the subset is rejected naming the feature; nothing is ignored.
public enum LogQLParser {
    /// Longer queries are rejected (Loki's own limit is 128 KiB).
    public static let maxQueryBytes = 65_536

    /// A log or metric query. Checks, as Loki does, that every selector has a matcher that does not match `""`.
    public static func parse(_ text: String) throws(LogQLError) -> LogQLQuery {
        try checkLength(text)
        var p = Parser(tokens: LogQLLexer.tokenize(text))
        let query = try p.parseRoot()
        guard query.selector.matchers.contains(where: { !$0.matches("") }) else { throw LogQLError.emptyCompatibleSelector }
        return query
    }

    /// A stream selector alone (`/loki/api/v1/series`' `match[]`, `/labels`' `query`): anything after `}` is an
    /// error. `requireNonEmptyMatcher`: Loki requires it for label queries but not for series (`{}` selects all).
    public static func parseStreamSelector(_ text: String, requireNonEmptyMatcher: Bool) throws(LogQLError) -> [LabelMatcher] {
        try checkLength(text)
        var p = Parser(tokens: LogQLLexer.tokenize(text))
        let matchers = try p.parseSelectorRoot()
        if requireNonEmptyMatcher, !matchers.contains(where: { !$0.matches("") }) { throw LogQLError.emptyCompatibleSelector }
        return matchers
    }

    private static func checkLength(_ text: String) throws(LogQLError) {
        let n = text.utf8.count
        guard n <= maxQueryBytes else { throw LogQLError(.limit, "parse error : input size too long (\(n) > \(maxQueryBytes))") }
    }
}

/// Recursive descent over the tokens. The grammar follows Loki's `syntax.y` for the supported part.
private struct Parser {
    let tokens: [LogQLToken]
    var index = 0
    /// Parentheses (and sums) open now: bounded, so a query cannot exhaust the stack.
    var nesting = 0
    static let maxNesting = 64

    init(tokens: [LogQLToken]) {
        self.tokens = tokens
    }

    // MARK: Tokens

    var current: LogQLToken { tokens[min(index, tokens.count - 1)] }

    func peek(_ offset: Int) -> LogQLToken { tokens[min(index + offset, tokens.count - 1)] }

    /// The current token, consumed; a lexical error is thrown here, in text order.
    mutating func advance() throws(LogQLError) -> LogQLToken {
        let t = current
        if t.kind == .invalid { throw LogQLError.syntax(t.text, line: t.line, column: t.column) }
        if index < tokens.count - 1 { index += 1 }
        return t
    }

    /// A syntax error at the current token; `expecting` is listed when it has at most four entries (as yacc does).
    func unexpected(_ expecting: [String] = []) -> LogQLError {
        let t = current
        if t.kind == .invalid { return LogQLError.syntax(t.text, line: t.line, column: t.column) }
        var message = "syntax error: unexpected \(t.displayName)"
        if !expecting.isEmpty, expecting.count <= 4 { message += ", expecting " + expecting.joined(separator: " or ") }
        return LogQLError.syntax(message, line: t.line, column: t.column)
    }

    mutating func expectSymbol(_ s: String, expecting: [String]? = nil) throws(LogQLError) {
        guard current.isSymbol(s) else { throw unexpected(expecting ?? [s]) }
        _ = try advance()
    }

    /// Enters a nested construct; pair with `defer { nesting -= 1 }`.
    mutating func nest() throws(LogQLError) {
        nesting += 1
        guard nesting <= Self.maxNesting else {
            throw LogQLError(
                .limit, "parse error at line \(current.line), col \(current.column): query nested too deeply (more than \(Self.maxNesting) levels)")
        }
    }

    // MARK: Roots

    mutating func parseRoot() throws(LogQLError) -> LogQLQuery {
        let query = try parseExpression()
        try rejectBinaryOperator()
        guard current.kind == .end else { throw unexpected() }
        return query
    }

    mutating func parseSelectorRoot() throws(LogQLError) -> [LabelMatcher] {
        let matchers = try parseSelector()
        guard current.kind == .end else {
            // Loki parses the whole query, then refuses anything but a selector.
            if current.kind == .symbol, current.text == "|" || LineFilter.Operator(rawValue: current.text) != nil {
                throw LogQLError(.parse, "only label matchers are supported")
            }
            throw unexpected()
        }
        return matchers
    }

    // MARK: Expressions

    /// A log query, a metric query, or either in parentheses.
    mutating func parseExpression() throws(LogQLError) -> LogQLQuery {
        try nest()
        defer { nesting -= 1 }
        let t = current
        if t.isSymbol("{") {
            return .logs(try parseLogQuery())
        }
        if t.isSymbol("(") {
            _ = try advance()
            let inner = try parseExpression()
            try rejectBinaryOperator()
            try expectSymbol(")")
            return inner
        }
        if t.kind == .identifier, t.isCall {
            let name = t.text.lowercased()
            if let function = LogQLMetricQuery.Function(rawValue: name) { return .metric(try parseRangeAggregation(function)) }
            if name == "sum" { return .metric(try parseSum()) }
            if Self.otherRangeFunctions.contains(name) { throw LogQLError.unsupported("\"\(name)\" range aggregation") }
            if Self.otherAggregations.contains(name) { throw LogQLError.unsupported("\"\(name)\" aggregation") }
            if name == "vector" || name == "label_replace" { throw LogQLError.unsupported("\"\(name)()\"") }
        }
        if t.kind == .number || t.kind == .duration || t.kind == .bytes || t.isSymbol("-") || t.isSymbol("+") {
            throw LogQLError.unsupported("number literals and binary operators")
        }
        throw unexpected()
    }

    static let otherRangeFunctions: Set<String> = [
        "rate_counter", "bytes_rate", "avg_over_time", "sum_over_time", "min_over_time", "max_over_time", "stdvar_over_time",
        "stddev_over_time", "quantile_over_time", "first_over_time", "last_over_time", "absent_over_time",
    ]
    static let otherAggregations: Set<String> = [
        "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk", "sort", "sort_desc", "approx_topk",
    ]
    static let binaryOperators: Set<String> = ["+", "-", "*", "/", "%", "^", "==", "!=", ">", ">=", "<", "<="]

    /// After a complete expression: a binary operator there is valid LogQL that otelsink does not evaluate.
    func rejectBinaryOperator() throws(LogQLError) {
        let t = current
        if t.kind == .symbol, Self.binaryOperators.contains(t.text) { throw LogQLError.unsupported("binary operator \"\(t.text)\"") }
        if t.isKeyword("or") || t.isKeyword("and") || t.isKeyword("unless") {
            throw LogQLError.unsupported("binary operator \"\(t.text.lowercased())\"")
        }
    }

    /// A metric expression where one is required (inside `sum`): a log query there is a syntax error at the token
    /// after it, as in Loki (`sum({app="a"})`: unexpected `)`).
    mutating func parseMetricOperand() throws(LogQLError) -> LogQLMetricQuery {
        switch try parseExpression() {
        case .metric(let m):
            try rejectBinaryOperator()
            return m
        case .logs:
            try rejectBinaryOperator()
            throw unexpected()
        }
    }

    // MARK: Metric queries

    /// `count_over_time(<log range>)`, `rate(…)`, `bytes_over_time(…)`.
    mutating func parseRangeAggregation(_ function: LogQLMetricQuery.Function) throws(LogQLError) -> LogQLMetricQuery {
        _ = try advance()
        try expectSymbol("(")
        if current.kind == .number {
            throw LogQLError.parse("parameter \(current.text) not supported for operation \(function.rawValue)")
        }
        let (selector, range) = try parseLogRange()
        try expectSymbol(")")
        if current.isKeyword("by") || current.isKeyword("without") {
            throw LogQLError.parse("grouping not allowed for \(function.rawValue) aggregation")
        }
        guard range > 0 else { throw LogQLError.parse("invalid range [0s] for \(function.rawValue): it must be positive") }
        return LogQLMetricQuery(function: function, selector: selector, rangeNanos: range)
    }

    /// `sum(…)`, `sum by (a, b) (…)`, `sum(…) by (a, b)`.
    mutating func parseSum() throws(LogQLError) -> LogQLMetricQuery {
        _ = try advance()
        var by: [String]? = nil
        if current.isKeyword("by") || current.isKeyword("without") { by = try parseGrouping() }
        try expectSymbol("(")
        if current.kind == .number { throw LogQLError.parse("unsupported parameter for operation sum(\(current.text),") }
        var inner = try parseMetricOperand()
        try expectSymbol(")")
        if current.isKeyword("by") || current.isKeyword("without") {
            guard by == nil else { throw unexpected() }
            by = try parseGrouping()
        }
        let outer = by ?? []
        if let innerBy = inner.sumBy {
            // sum by (outer) (sum by (inner) (x)) = sum by (outer ∩ inner) (x)
            inner.sumBy = outer.filter { innerBy.contains($0) }
        } else {
            inner.sumBy = outer
        }
        return inner
    }

    /// `by (a, b)` or `by ()`; `without` is not supported.
    mutating func parseGrouping() throws(LogQLError) -> [String] {
        if current.isKeyword("without") { throw LogQLError.unsupported("\"without\" grouping") }
        _ = try advance()
        try expectSymbol("(")
        var labels: [String] = []
        if current.isSymbol(")") {
            _ = try advance()
            return labels
        }
        while true {
            guard current.kind == .identifier else { throw unexpected(["IDENTIFIER"]) }
            let name = try advance().text
            if !labels.contains(name) { labels.append(name) }
            if current.isSymbol(",") {
                _ = try advance()
                continue
            }
            try expectSymbol(")", expecting: [",", ")"])
            return labels
        }
    }

    /// A log range: `{…} [5m]`, `{…} [5m] | …`, `{…} | … [5m]`, `({…} | …) [5m]`, `({…} | … [5m])`.
    mutating func parseLogRange() throws(LogQLError) -> (LogSelector, Int64) {
        let (selector, range) = try parseLogRangeBody()
        guard let range else { throw unexpected() }
        return (selector, range)
    }

    /// As ``parseLogRange()`` but the range may be missing (inside parentheses, where it can follow them).
    mutating func parseLogRangeBody() throws(LogQLError) -> (LogSelector, Int64?) {
        try nest()
        defer { nesting -= 1 }
        if current.isSymbol("(") {
            _ = try advance()
            var (selector, range) = try parseLogRangeBody()
            try expectSymbol(")")
            if range == nil, current.kind == .range {
                range = try advance().nanos
                try rejectOffset()
            }
            return (selector, range)
        }
        let matchers = try parseSelector()
        var range: Int64? = nil
        if current.kind == .range {
            range = try advance().nanos
            try rejectOffset()
        }
        let pipeline = try parsePipeline()
        if range == nil, current.kind == .range {
            range = try advance().nanos
            try rejectOffset()
        }
        return (LogSelector(matchers: matchers, pipeline: pipeline), range)
    }

    func rejectOffset() throws(LogQLError) {
        if current.isKeyword("offset") { throw LogQLError.unsupported("\"offset\" modifier") }
    }

    // MARK: Log queries

    /// `{…}` with its pipeline, or a log query in parentheses.
    mutating func parseLogQuery() throws(LogQLError) -> LogSelector {
        try nest()
        defer { nesting -= 1 }
        if current.isSymbol("(") {
            _ = try advance()
            let inner = try parseLogQuery()
            try expectSymbol(")")
            return inner
        }
        let matchers = try parseSelector()
        return LogSelector(matchers: matchers, pipeline: try parsePipeline())
    }

    /// `{name="v", …}`; `{}` parses (the caller rejects it as selecting everything).
    mutating func parseSelector() throws(LogQLError) -> [LabelMatcher] {
        try expectSymbol("{")
        var matchers: [LabelMatcher] = []
        if current.isSymbol("}") {
            _ = try advance()
            return matchers
        }
        while true {
            guard current.kind == .identifier else { throw unexpected(matchers.isEmpty ? ["IDENTIFIER", "}"] : ["IDENTIFIER"]) }
            let name = try advance().text
            guard current.kind == .symbol, let op = LabelMatcher.Operator(rawValue: current.text) else {
                throw unexpected(["=", "!=", "=~", "!~"])
            }
            _ = try advance()
            guard current.kind == .string else { throw unexpected(["STRING"]) }
            let value = try advance().text
            matchers.append(try LabelMatcher(name, op, value))
            if current.isSymbol(",") {
                _ = try advance()
                continue
            }
            try expectSymbol("}", expecting: ["}", ","])
            return matchers
        }
    }

    /// Line filters and `|` stages, until a token that starts neither.
    mutating func parsePipeline() throws(LogQLError) -> [LogQLStage] {
        var stages: [LogQLStage] = []
        while true {
            let t = current
            guard t.kind == .symbol else { return stages }
            if let op = LineFilter.Operator(rawValue: t.text) {
                _ = try advance()
                stages.append(.lineFilter(try parseLineFilter(op)))
            } else if t.text == "|>" || t.text == "!>" {
                throw LogQLError.unsupported("\"\(t.text)\" pattern line filter")
            } else if t.text == "|" {
                _ = try advance()
                stages.append(try parsePipeStage())
            } else {
                return stages
            }
        }
    }

    /// The strings after a line filter operator: `"a"`, `"a" or "b" or …`.
    mutating func parseLineFilter(_ op: LineFilter.Operator) throws(LogQLError) -> LineFilter {
        var patterns: [String] = []
        while true {
            if current.kind == .string {
                patterns.append(try advance().text)
            } else if current.isKeyword("ip"), current.isCall {
                throw LogQLError.unsupported("\"ip()\" line filter")
            } else {
                throw unexpected(["STRING", "ip"])
            }
            guard current.isKeyword("or") else { break }
            _ = try advance()
        }
        return try LineFilter(op, patterns)
    }

    /// What follows `|`: a label filter, `drop __error__…`, or a stage otelsink does not support.
    mutating func parsePipeStage() throws(LogQLError) -> LogQLStage {
        let t = current
        if t.kind == .identifier {
            let word = t.text.lowercased()
            switch word {
            case "json", "logfmt", "regexp", "unpack", "pattern":
                throw LogQLError.unsupported("\"| \(word)\" parser")
            case "line_format", "label_format", "decolorize", "keep", "unwrap":
                throw LogQLError.unsupported("\"| \(word)\"")
            case "drop":
                return try parseDrop()
            default:
                break
            }
        }
        guard t.kind == .identifier || t.isSymbol("(") else { throw unexpected() }
        return .labelFilter(try parseLabelFilterExpression())
    }

    /// `drop __error__, __error_details__`: accepted only for those two names, which nothing here sets.
    mutating func parseDrop() throws(LogQLError) -> LogQLStage {
        _ = try advance()
        while true {
            guard current.kind == .identifier else { throw unexpected(["IDENTIFIER"]) }
            let name = try advance().text
            guard name == "__error__" || name == "__error_details__",
                !(current.kind == .symbol && LabelMatcher.Operator(rawValue: current.text) != nil)
            else {
                throw LogQLError.unsupported("\"| drop\" of labels other than __error__ and __error_details__")
            }
            guard current.isSymbol(",") else { return .dropErrorLabels }
            _ = try advance()
        }
    }

    // MARK: Label filters

    /// Loki's grammar for label filters: `and` binds tighter than `or`; `,` and juxtaposition (`a="1" b="2"`) mean
    /// `and` with everything to their right (yacc shifts there), so `a="1" or b="2", c="3"` is
    /// `a="1" or (b="2" and c="3")`. Iterative: a long chain of `,` does not deepen the call stack.
    mutating func parseLabelFilterExpression() throws(LogQLError) -> LabelFilter {
        // The `or` terms so far and the `and` terms of the current one; a `,` suspends the frame, to join its
        // last term with all that follows.
        struct Frame {
            var orTerms: [LabelFilter] = []
            var andTerms: [LabelFilter] = []

            func finish() -> LabelFilter { LabelFilter.any(orTerms + [LabelFilter.all(andTerms)]) }
        }
        var suspended: [Frame] = []
        var frame = Frame()
        while true {
            frame.andTerms.append(try parseLabelFilterPrimary())
            if current.isSymbol(",") || current.isSymbol("(")
                || (current.kind == .identifier && !current.isKeyword("and") && !current.isKeyword("or"))
            {
                if current.isSymbol(",") { _ = try advance() }
                suspended.append(frame)
                frame = Frame()
            } else if current.isKeyword("and") {
                _ = try advance()
            } else if current.isKeyword("or") {
                _ = try advance()
                frame.orTerms.append(LabelFilter.all(frame.andTerms))
                frame.andTerms = []
            } else {
                break
            }
        }
        // Unwind. The result so far is kept as a flat `and` list, reversed so that a frame without `or` (`a, b, …`)
        // prepends its terms cheaply; a frame with `or` wraps it.
        var reversedTerms: [LabelFilter] = []
        func prepend(_ f: LabelFilter) {
            if case .and(let inner) = f { reversedTerms += inner.reversed() } else { reversedTerms.append(f) }
        }
        prepend(frame.finish())
        while var outer = suspended.popLast() {
            if outer.orTerms.isEmpty {
                for t in outer.andTerms.reversed() { prepend(t) }
                continue
            }
            let last = outer.andTerms.removeLast()
            outer.andTerms.append(LabelFilter.all([last, LabelFilter.all(reversedTerms.reversed())]))
            let wrapped = outer.finish()
            guard wrapped.depth <= Self.maxNesting else {
                throw LogQLError(.limit, "label filter nested too deeply (more than \(Self.maxNesting) levels)")
            }
            reversedTerms = []
            prepend(wrapped)
        }
        return LabelFilter.all(reversedTerms.reversed())
    }

    mutating func parseLabelFilterPrimary() throws(LogQLError) -> LabelFilter {
        if current.isSymbol("(") {
            try nest()
            defer { nesting -= 1 }
            _ = try advance()
            let inner = try parseLabelFilterExpression()
            try expectSymbol(")")
            return inner
        }
        guard current.kind == .identifier else { throw unexpected() }
        let name = try advance().text
        let opToken = current
        guard opToken.kind == .symbol else { throw unexpected() }
        let value = peek(1)
        if let op = LabelMatcher.Operator(rawValue: opToken.text) {
            _ = try advance()
            if current.kind == .string { return .matcher(try LabelMatcher(name, op, try advance().text)) }
            if current.isKeyword("ip"), current.isCall { throw LogQLError.unsupported("\"ip()\" label filter") }
            if op == .equal || op == .notEqual, let kind = Self.numericFilterKind(current) {
                throw LogQLError.unsupported("\(kind) label filter \"\(op.rawValue)\"")
            }
            throw unexpected()
        }
        if [">", ">=", "<", "<=", "=="].contains(opToken.text) {
            throw LogQLError.unsupported("\(Self.numericFilterKind(value) ?? "numeric") label filter \"\(opToken.text)\"")
        }
        throw unexpected()
    }

    static func numericFilterKind(_ t: LogQLToken) -> String? {
        switch t.kind {
        case .duration: "duration"
        case .bytes: "bytes"
        case .number: "numeric"
        case .symbol where t.text == "-" || t.text == "+": "numeric"
        default: nil
        }
    }
}
