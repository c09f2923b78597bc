/// How a pipeline refused data, which decides what the receiver tells the client.
///
/// The classification follows otelcol's: a retryable refusal becomes gRPC `UNAVAILABLE` with `RetryInfo` or HTTP 503
/// with `Retry-After`; a permanent failure becomes `INTERNAL`/500; invalid data `INVALID_ARGUMENT`/400.
public struct PipelineError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Temporarily refused (a full queue, memory pressure, shutting down): the client should retry after the hint.
        case retryable(after: Duration)
        /// The data is malformed; retrying will not help.
        case invalidData
        /// Failed for good (e.g. the store is broken); the client should not retry.
        case permanent
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public static func retryable(_ message: String, after: Duration = .seconds(1)) -> PipelineError {
        PipelineError(.retryable(after: after), message)
    }

    public static func permanent(_ message: String) -> PipelineError { PipelineError(.permanent, message) }

    public var description: String { message }

    /// Classifies any error: a ``PipelineError`` keeps its kind, anything else is permanent.
    public static func classify(_ error: any Error) -> PipelineError {
        if let e = error as? PipelineError { return e }
        return .permanent(String(describing: error))
    }

    /// Of several failures (fan-out), the one to report: retryable if any is, so the client retries.
    public static func combine(_ errors: [PipelineError]) -> PipelineError? {
        errors.first { if case .retryable = $0.kind { true } else { false } } ?? errors.first
    }
}
