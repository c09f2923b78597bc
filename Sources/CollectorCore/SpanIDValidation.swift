import OTLP

/// Removes spans whose IDs the store cannot accept and reports them for `partial_success`.
///
/// A trace ID must be 16 bytes and not all zero; a span ID 8 bytes and not all zero; a parent span ID empty or
/// 8 bytes. The OTLP spec has such spans rejected one by one while the rest of the request is stored.
public enum SpanIDValidation {
    public struct Outcome: Sendable, Equatable {
        public var rejected: Int
        /// A message naming the first problem and how many spans had one; empty when nothing was rejected.
        public var message: String

        public init(rejected: Int, message: String) {
            self.rejected = rejected
            self.message = message
        }
    }

    /// Filters `request` in place. Scopes and resources whose spans were all rejected stay, empty (they store nothing).
    public static func filter(_ request: inout ExportTraceRequest) -> Outcome {
        var rejected = 0
        var firstProblem: String?
        // Fast path: nothing to remove in the common case, so avoid rewriting the message.
        var anyBad = false
        outer: for rs in request.resourceSpans {
            for ss in rs.scopeSpans {
                for span in ss.spans where problem(span) != nil {
                    anyBad = true
                    break outer
                }
            }
        }
        guard anyBad else { return Outcome(rejected: 0, message: "") }
        for r in request.resourceSpans.indices {
            for s in request.resourceSpans[r].scopeSpans.indices {
                request.resourceSpans[r].scopeSpans[s].spans.removeAll { span in
                    guard let p = problem(span) else { return false }
                    rejected += 1
                    if firstProblem == nil { firstProblem = p }
                    return true
                }
            }
        }
        let message = "\(rejected) span(s) rejected: \(firstProblem ?? "invalid id")"
        return Outcome(rejected: rejected, message: message)
    }

    /// What is wrong with the span's IDs, or nil when they are valid.
    public static func problem(_ span: Span) -> String? {
        if span.traceID.count != 16 { return "trace id must be 16 bytes, got \(span.traceID.count)" }
        if span.traceID.allSatisfy({ $0 == 0 }) { return "trace id is all zeros" }
        if span.spanID.count != 8 { return "span id must be 8 bytes, got \(span.spanID.count)" }
        if span.spanID.allSatisfy({ $0 == 0 }) { return "span id is all zeros" }
        if !span.parentSpanID.isEmpty && span.parentSpanID.count != 8 {
            return "parent span id must be empty or 8 bytes, got \(span.parentSpanID.count)"
        }
        return nil
    }
}
