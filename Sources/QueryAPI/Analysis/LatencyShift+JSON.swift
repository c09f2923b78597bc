import SQLiteStore

extension LatencyShift {
    /// `{service, operation, spanKind, baselineP99Nanos, recentP99Nanos, ratio, baselineSamples, recentSamples}`
    /// (nanoseconds as strings, as OTLP JSON writes 64-bit integers), as `GET /api/v3/baselines` lists them.
    public var json: JSON {
        let baseline = String(Int64(baselineP99Nanos.rounded()))
        let recent = String(Int64(recentP99Nanos.rounded()))
        let rounded = (ratio * 100).rounded() / 100
        return .object([
            ("service", .string(service)), ("operation", .string(operation)),
            ("spanKind", .string(SpanKindName.name(kind) ?? "")),
            ("baselineP99Nanos", .string(baseline)), ("recentP99Nanos", .string(recent)),
            ("ratio", .double(rounded)),
            ("baselineSamples", .int(Int64(baselineSamples.rounded()))), ("recentSamples", .int(Int64(recentSamples.rounded()))),
        ])
    }

    /// `1.5× slower`, `2.1× faster`, `unchanged` (within 5 %).
    public var changeText: String {
        if abs(ratio - 1) < 0.05 { return "unchanged" }
        return ratio >= 1 ? "\(ReadableText.ratio(ratio)) slower" : "\(ReadableText.ratio(1 / max(ratio, 1e-9))) faster"
    }
}
