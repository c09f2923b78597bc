import CollectorCore
import Foundation

/// The critical path as the API and `--json` give it, and as the terminal summary prints it.
extension CriticalPath {
    /// `{"traceId", "rootSpanId", "startTimeUnixNano", "endTimeUnixNano", "durationNanos", "sections": […],
    /// "services": […], "operations": […]}`: IDs in lower-case hex, times as OTLP JSON writes them (decimal
    /// strings), durations in nanoseconds, `share` the fraction of the trace's duration (0…1).
    public func json(traceID: Data) -> JSON {
        func share(_ nanos: UInt64) -> JSON { .double((self.share(nanos) * 10_000).rounded() / 10_000) }
        return .object([
            ("traceId", .string(Self.hex(traceID))),
            ("rootSpanId", .string(Self.hex(rootSpanID))),
            ("startTimeUnixNano", .string(String(startNanos))),
            ("endTimeUnixNano", .string(String(endNanos))),
            ("durationNanos", .int(Int64(clamping: nanos))),
            (
                "sections",
                .array(
                    sections.map { s in
                        .object([
                            ("spanId", .string(Self.hex(s.spanID))), ("service", .string(s.service)), ("operation", .string(s.operation)),
                            ("startTimeUnixNano", .string(String(s.startNanos))), ("endTimeUnixNano", .string(String(s.endNanos))),
                            ("durationNanos", .int(Int64(clamping: s.nanos))),
                        ])
                    })
            ),
            (
                "services",
                .array(
                    byService.map { s in
                        .object([("service", .string(s.service)), ("durationNanos", .int(Int64(clamping: s.nanos))), ("share", share(s.nanos))])
                    })
            ),
            (
                "operations",
                .array(
                    byOperation.map { s in
                        .object([
                            ("service", .string(s.service)), ("operation", .string(s.operation ?? "")),
                            ("durationNanos", .int(Int64(clamping: s.nanos))), ("share", share(s.nanos)),
                        ])
                    })
            ),
        ])
    }

    static func hex(_ id: Data) -> String { JaegerTrace.hex(id) }
}
