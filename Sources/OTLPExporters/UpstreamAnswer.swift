import Foundation

/// What an upstream's answer to one export means for the data, as the OTLP specification and otelcol's
/// exporters decide it.
public enum UpstreamVerdict: Sendable, Equatable {
    /// Accepted; `rejected` items were refused individually (`partial_success`): counted and logged, not retried.
    case delivered(rejected: Int64, message: String)
    /// Try again later; `after` is the server's own delay (`RetryInfo`, `Retry-After`) when it gave one.
    case retryable(after: Duration?, reason: String)
    /// Never retried: the data is dropped, counted and logged with `reason`.
    case permanent(reason: String)
}

/// Classification of gRPC and HTTP answers (OTLP spec, "Failures"; otelcol's `otlpexporter` and `otlphttpexporter`).
public enum UpstreamAnswer {
    /// gRPC codes that are retried: CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS;
    /// RESOURCE_EXHAUSTED only when the server attached `RetryInfo`. Everything else is permanent.
    public static func grpc(code: Int, message: String, retryInfo: Duration?) -> UpstreamVerdict {
        let reason = "grpc status \(code)\(message.isEmpty ? "" : ": \(message)")"
        switch code {
        case 0: return .delivered(rejected: 0, message: "")
        case 1, 4, 10, 11, 14, 15: return .retryable(after: retryInfo, reason: reason)
        case 8 where retryInfo != nil: return .retryable(after: retryInfo, reason: reason)
        default: return .permanent(reason: reason)
        }
    }

    /// HTTP statuses that are retried: 429, 502, 503, 504 (with `Retry-After` on 429 and 503, as otelcol reads it:
    /// whole seconds, else an HTTP date). 2xx is delivered; everything else is permanent.
    public static func http(status: Int, retryAfter: String?, message: String, now: Date = Date()) -> UpstreamVerdict {
        let reason = "HTTP \(status)\(message.isEmpty ? "" : ": \(message)")"
        switch status {
        case 200..<300: return .delivered(rejected: 0, message: "")
        case 429, 503: return .retryable(after: retryAfter.flatMap { parseRetryAfter($0, now: now) }, reason: reason)
        case 502, 504: return .retryable(after: nil, reason: reason)
        default: return .permanent(reason: reason)
        }
    }

    /// `Retry-After` as delay-seconds or as an HTTP date (RFC 9110 §10.2.3); nil when neither.
    public static func parseRetryAfter(_ text: String, now: Date = Date()) -> Duration? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let seconds = Int64(t), seconds >= 0 { return .seconds(min(seconds, 86_400)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: t) else { return nil }
        let delta = date.timeIntervalSince(now)
        guard delta.isFinite else { return nil }
        return .milliseconds(Int64(max(0, min(delta, 86_400)) * 1000))
    }
}
