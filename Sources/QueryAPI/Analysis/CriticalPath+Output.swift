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

    /// The summary under the waterfall: the path's length, then its time by service and by operation (at most
    /// `limit` rows each), every name through ``TerminalSafeText``, fitted to `width` cells (80 when nil).
    public func summaryText(limit: Int = 10, width: Int? = nil) -> String {
        var out = "Critical path: \(TraceWaterfall.duration(nanos)) in \(sections.count) section\(sections.count == 1 ? "" : "s")\n"
        func table(_ title: String, _ rows: [Share], _ label: (Share) -> String) {
            out += "  by \(title):\n"
            let shown = rows.prefix(limit)
            // Label, 9-cell time, 6-cell share: the label gets what a `width` leaves, at most 60 cells.
            let labels = shown.map { TerminalCells.fit(label($0), min(60, max(12, (width ?? 80) - 25))) }
            let labelCells = labels.map(TerminalCells.width).max() ?? 0
            for (row, text) in zip(shown, labels) {
                let percent = String(format: "%5.1f%%", share(row.nanos) * 100)
                out +=
                    "    " + TerminalCells.padded(text, labelCells) + "  " + TerminalCells.leftPadded(TraceWaterfall.duration(row.nanos), 9)
                    + "  " + percent + "\n"
            }
            if rows.count > limit { out += "    … \(rows.count - limit) more\n" }
        }
        table("service", byService) { TerminalSafeText.escape($0.service) }
        table("operation", byOperation) { TerminalSafeText.escape($0.service) + ": " + TerminalSafeText.escape($0.operation ?? "") }
        return out
    }

    static func hex(_ id: Data) -> String { JaegerTrace.hex(id) }
}
