/// Why a LogQL query or a Loki API request cannot be answered. Every case is the client's doing and answered with
/// 400; `description` is the message to send, in Loki's wording where Loki has one.
public struct LogQLError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The query is not LogQL: a syntax error, a bad string, regex or duration, a selector that selects everything.
        case parse
        /// Valid LogQL that otelsink does not evaluate (a parser stage, `topk`, binary operators, …).
        case unsupported
        /// The answer would be too large: points per series, series per query, query or pattern length.
        case limit
        /// A request parameter (`start`, `step`, `limit`, …) that cannot be parsed.
        case parameter
    }

    public var kind: Kind
    public var description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    /// Loki's syntax error: `parse error at line 1, col 12: syntax error: unexpected IDENTIFIER, expecting …`.
    static func syntax(_ message: String, line: Int, column: Int) -> LogQLError {
        LogQLError(.parse, "parse error at line \(line), col \(column): \(message)")
    }

    /// Loki's parse error without a position (a check made after parsing): `parse error : <message>`.
    static func parse(_ message: String) -> LogQLError {
        LogQLError(.parse, "parse error : \(message)")
    }

    /// Valid LogQL that otelsink rejects rather than answer wrongly; `feature` names it (`"| json" parser`).
    static func unsupported(_ feature: String) -> LogQLError {
        LogQLError(.unsupported, "LogQL feature not supported by otelsink: \(feature)")
    }

    /// Loki's check that a selector does not select every stream (`{app=~".*"}`).
    static let emptyCompatibleSelector = LogQLError.parse(
        "queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will"
    )

    /// Loki's answer to a log query sent to `/loki/api/v1/query`.
    public static let logQueryAsInstantQuery = LogQLError(
        .parse,
        "log queries are not supported as an instant query type, please change your query to a range query type")

    /// Loki's limit on points per series (`(end - start) / step > 11000`).
    public static let tooManyPoints = LogQLError(
        .limit,
        "exceeded maximum resolution of 11,000 points per time series. Try increasing the value of the step parameter")

    /// Loki's limit on series in a metric query's answer.
    public static func tooManySeries(_ limit: Int) -> LogQLError {
        LogQLError(
            .limit,
            "maximum number of series (\(limit)) reached for a single query; consider reducing query cardinality by adding more specific stream selectors, reducing the time range, or aggregating results with functions like sum(), count() or topk()"
        )
    }
}
