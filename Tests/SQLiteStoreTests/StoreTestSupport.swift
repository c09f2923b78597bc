import CollectorCore
import Foundation
import GRDB
import OTLP
import Testing

@testable import SQLiteStore

let hourNanos: UInt64 = 3_600_000_000_000

/// Wall-clock now in Unix nanoseconds (bucket clamping uses the wall clock at write time).
func nowNanos() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1e9) }

/// A fresh temporary directory, removed when `body` returns.
func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("otelsink-sqlite-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    return try await body(dir)
}

func storeConfig(_ dir: URL, _ configure: (inout SQLiteStoreConfig) -> Void = { _ in }) -> SQLiteStoreConfig {
    var c = SQLiteStoreConfig(path: dir.appendingPathComponent("traces.db").path)
    configure(&c)
    return c
}

/// ``storeConfig(_:_:)`` for a store whose new partitions have a row per span, as schema version 10 made them (for
/// tests of that layout, which files written before version 11 keep).
func rowStoreConfig(_ dir: URL, _ configure: (inout SQLiteStoreConfig) -> Void = { _ in }) -> SQLiteStoreConfig {
    storeConfig(dir) { c in
        c.spanChunks = false
        configure(&c)
    }
}

func randomBytes(_ n: Int) -> Data {
    var d = Data((0..<n).map { _ in UInt8.random(in: 0...255) })
    if d.allSatisfy({ $0 == 0 }) { d[0] = 1 }
    return d
}

func attribute(_ key: String, _ value: AnyValue) -> KeyValue {
    var kv = KeyValue()
    kv.key = key
    kv.value = value
    return kv
}

func stringAttribute(_ key: String, _ value: String) -> KeyValue { attribute(key, .string(value)) }

/// A plain span of `trace`.
func makeSpan(trace: Data, name: String = "op", start: UInt64, duration: UInt64 = 1_000_000, parent: Data = Data()) -> Span {
    var s = Span()
    s.traceID = trace
    s.spanID = randomBytes(8)
    s.parentSpanID = parent
    s.name = name
    s.kind = .internal
    s.startTimeUnixNano = start
    s.endTimeUnixNano = start + duration
    return s
}

/// One resource (`service`), one scope, the given spans.
func makeRequest(service: String = "svc", spans: [Span]) -> ExportTraceRequest {
    var rs = ResourceSpans()
    rs.resource.attributes = [stringAttribute("service.name", service)]
    var ss = ScopeSpans()
    ss.scope.name = "scope"
    ss.spans = spans
    rs.scopeSpans = [ss]
    var r = ExportTraceRequest()
    r.resourceSpans = [rs]
    return r
}

/// `count` spans of one new trace starting at `start`, 1 µs apart.
func traceRequest(spans count: Int, start: UInt64, service: String = "svc", payload: String? = nil) -> (trace: Data, request: ExportTraceRequest) {
    let trace = randomBytes(16)
    var spans: [Span] = []
    for i in 0..<count {
        var s = makeSpan(trace: trace, name: "op-\(i)", start: start + UInt64(i) * 1000)
        if let payload { s.attributes = [stringAttribute("payload", payload)] }
        spans.append(s)
    }
    return (trace, makeRequest(service: service, spans: spans))
}

/// Whether `error` is a retryable ``PipelineError``.
func isRetryable(_ error: any Error) -> Bool {
    guard let e = error as? PipelineError, case .retryable = e.kind else { return false }
    return true
}

/// The partition (1h) containing the wall clock now.
func currentBucket() -> Int64 { Int64(nowNanos() / hourNanos) }

/// A time `seconds` into 1-hour partition `bucket`.
func time(inBucket bucket: Int64, seconds: UInt64 = 60) -> UInt64 { UInt64(bucket) * hourNanos + seconds * 1_000_000_000 }
