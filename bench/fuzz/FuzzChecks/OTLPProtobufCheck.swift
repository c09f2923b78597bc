import Foundation
import OTLP
import SwiftProtobuf

/// What the fuzz targets assert about one input; each traps (so libFuzzer records a crash) when otelsink's code
/// disagrees with the reference or fails in a way input must never cause. Shared by the fuzz executables
/// (`bench/fuzz`) and the regression test that replays their corpora and past findings.
public enum FuzzChecks {
    /// Stops the run with a message naming what disagreed.
    static func fail(_ what: String, _ input: [UInt8]) -> Never {
        FileHandle.standardError.write(Data("fuzz check failed: \(what) (input of \(input.count) bytes)\n".utf8))
        abort()
    }

    /// The hand-written OTLP protobuf indexers against swift-protobuf: whatever `EncodedTraces` or
    /// `EncodedMetrics` accepts must decode, and the index must agree with the decoded request.
    public static func otlpProtobuf(_ input: [UInt8]) {
        if let encoded = EncodedTraces(indexing: input) {
            guard let decoded = try? ExportTraceRequest(serializedBytes: input) else {
                fail("EncodedTraces indexed what swift-protobuf rejects", input)
            }
            let spans = decoded.resourceSpans.flatMap { $0.scopeSpans.flatMap(\.spans) }
            guard spans.count == encoded.spanCount else { fail("span count \(encoded.spanCount) vs \(spans.count)", input) }
            guard encoded.resources.count == decoded.resourceSpans.count else { fail("resource count", input) }
            for (span, entry) in zip(spans, encoded.spans) {
                guard (try? Span(serializedBytes: Array(input[entry.body]))) == span else { fail("span body", input) }
                guard encoded.string(entry.name) == span.name, Int(entry.kind) == span.kind.rawValue,
                    entry.start == span.startTimeUnixNano, entry.end == span.endTimeUnixNano,
                    Int(entry.statusCode) == span.status.code.rawValue
                else { fail("span fields", input) }
                guard Data(input[entry.traceID]) == span.traceID, Data(input[entry.spanID]) == span.spanID,
                    Data(input[entry.parentSpanID]) == span.parentSpanID
                else { fail("span IDs", input) }
            }
            for (r, rs) in decoded.resourceSpans.enumerated() {
                let service = encoded.resources[r].serviceName.map(encoded.string)
                guard service == rs.resource.attributes.stringValue("service.name") else { fail("service.name", input) }
            }
        }
        if let encoded = EncodedMetrics(indexing: input) {
            guard let decoded = try? ExportMetricsRequest(serializedBytes: input) else {
                fail("EncodedMetrics indexed what swift-protobuf rejects", input)
            }
            guard encoded.dataPointCount == decoded.dataPointCount else { fail("data point count", input) }
            let metrics = decoded.resourceMetrics.flatMap { $0.scopeMetrics.flatMap(\.metrics) }
            guard metrics.count == encoded.metrics.count else { fail("metric count", input) }
            for (metric, entry) in zip(metrics, encoded.metrics) {
                guard (try? encoded.message(entry.body, as: Opentelemetry_Proto_Metrics_V1_Metric.self)) == metric else { fail("metric body", input) }
                guard encoded.string(entry.name) == metric.name, encoded.string(entry.unit) == metric.unit else { fail("metric fields", input) }
            }
        }
        // Logs go through swift-protobuf only: it must not crash.
        _ = try? ExportLogsRequest(serializedBytes: input)
    }
}
