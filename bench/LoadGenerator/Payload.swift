import Foundation
import OTLP

// MARK: - Fast PRNG

/// xoshiro256** (Blackman & Vigna), seeded through SplitMix64. Plenty for unique trace and span IDs and
/// far cheaper than `SystemRandomNumberGenerator` (no syscall per ID).
struct Xoshiro256StarStar: RandomNumberGenerator {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    init(seed: UInt64) {
        var sm = seed
        func splitMix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(&sm)
        s1 = splitMix(&sm)
        s2 = splitMix(&sm)
        s3 = splitMix(&sm)
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// A non-zero 64-bit value (an all-zero ID is invalid in OTLP).
    @inline(__always)
    mutating func nextNonZero() -> UInt64 {
        while true {
            let v = next()
            if v != 0 { return v }
        }
    }
}

// MARK: - Wall clock

/// Nanoseconds since the Unix epoch (CLOCK_REALTIME), for span timestamps.
@inline(__always)
func unixNanosNow() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

// MARK: - The standard workload

/// The standard benchmark workload, serialized once; per request only the IDs and timestamps are rewritten in
/// place (all of them are fixed-width protobuf fields, so the encoding never changes length).
///
/// Shape of one request: one resource (`service.name` plus 4 string attributes), one scope, 100 spans =
/// 10 traces x 10 spans. Within a trace span 0 is the root and span j (j > 0) is a child of span (j-1)/2,
/// a binary tree of depth 3. Every span has 10 string attributes (20-character keys and values), one event
/// and a status; kinds are a mix of SERVER, CLIENT and INTERNAL.
struct PayloadTemplate: Sendable {
    static let tracesPerRequest = 10
    static let spansPerTrace = 10
    static let spansPerRequest = tracesPerRequest * spansPerTrace
    static let attributesPerSpan = 10

    struct TimeSlot: Sendable {
        var offset: Int
        /// Nanoseconds relative to the request's base time.
        var delta: Int64
    }

    /// The serialized template (IDs and timestamps hold placeholders until patched).
    let bytes: [UInt8]
    /// Per trace: byte offsets of the 16-byte `trace_id` values of its spans.
    let traceIDOffsets: [[Int]]
    /// Per span (trace-major): byte offsets of its 8-byte ID, its own `span_id` and its children's `parent_span_id`.
    let spanIDOffsets: [[Int]]
    /// Every fixed64 timestamp (span start/end, event time).
    let timeSlots: [TimeSlot]

    static func parent(of j: Int) -> Int? { j == 0 ? nil : (j - 1) / 2 }
    static func depth(of j: Int) -> Int {
        var d = 0
        var x = j
        while x > 0 {
            x = (x - 1) / 2
            d += 1
        }
        return d
    }

    static func kind(of j: Int) -> Opentelemetry_Proto_Trace_V1_Span.SpanKind {
        if j == 0 { return .server }
        // A child of a CLIENT span is the SERVER span of the downstream call.
        if let p = parent(of: j), kind(of: p) == .client { return .server }
        return j % 2 == 1 ? .client : .internal
    }

    /// Timing inside one trace: span j starts j*50µs after the trace start and lasts (4 - depth) ms, so a
    /// child always lies within its parent. Relative to the request's base time ("now"), everything is in the
    /// past: trace t starts 6 ms + t*100µs before now.
    static func startDelta(trace t: Int, span j: Int) -> Int64 {
        -6_000_000 + Int64(t) * 100_000 + Int64(j) * 50_000
    }
    static func duration(span j: Int) -> Int64 { Int64(4 - depth(of: j)) * 1_000_000 + Int64(j) * 1_000 }

    static func fixed20(_ s: String) -> String {
        precondition(s.utf8.count <= 20, "too long: \(s)")
        return s + String(repeating: "_", count: 20 - s.utf8.count)
    }

    /// - Parameters:
    ///   - service: the resource's `service.name`.
    ///   - tenOperations: use 10 span names (4 internal ones instead of 3), for the query benchmark's
    ///     "5 services, 50 operations" workload; the default 9 keep the ingest workload as it was measured.
    static func make(service: String = "otelsink-loadgen", tenOperations: Bool = false) throws -> PayloadTemplate {
        var placeholders = Placeholders()
        func sentinel() -> UInt64 { placeholders.next() }
        let data = Placeholders.data
        let kv = Placeholders.kv

        var slots: [UInt64: (Slot, UInt64?)] = [:]  // first word -> (slot, second word for 16-byte IDs)

        var resource = Opentelemetry_Proto_Resource_V1_Resource()
        resource.attributes = benchResourceAttributes(service: service)
        var scope = Opentelemetry_Proto_Common_V1_InstrumentationScope()
        scope.name = "otelsink.loadgen"
        scope.version = "1.0.0"

        let serverNames = ["GET /api/v1/orders/{id}", "POST /api/v1/checkout", "GET /api/v1/inventory"]
        let clientNames = ["SELECT orders", "HTTP GET inventory-svc", "redis GET session"]
        let internalNames = ["validate-order", "render-response", "compute-pricing"] + (tenOperations ? ["serialize-payload"] : [])

        var spans: [Opentelemetry_Proto_Trace_V1_Span] = []
        spans.reserveCapacity(spansPerRequest)
        for t in 0..<tracesPerRequest {
            for j in 0..<spansPerTrace {
                let s = t * spansPerTrace + j
                var span = Opentelemetry_Proto_Trace_V1_Span()
                // Every trace_id field gets its own placeholder, so each occurrence is found exactly once.
                let a = sentinel()
                let b = sentinel()
                slots[a] = (.trace(t), b)
                span.traceID = data([a, b])
                let sid = sentinel()
                slots[sid] = (.spanID(span: s), nil)
                span.spanID = data([sid])
                if Self.parent(of: j) != nil {
                    let pid = sentinel()
                    slots[pid] = (.parentID(span: s), nil)
                    span.parentSpanID = data([pid])
                }
                span.kind = kind(of: j)
                switch span.kind {
                case .server: span.name = serverNames[(t + j) % 3]
                case .client: span.name = clientNames[(t + j) % 3]
                default: span.name = internalNames[(t + j) % internalNames.count]
                }
                let start = startDelta(trace: t, span: j)
                let end = start + duration(span: j)
                let st = sentinel()
                let en = sentinel()
                let ev = sentinel()
                slots[st] = (.time(delta: start), nil)
                slots[en] = (.time(delta: end), nil)
                slots[ev] = (.time(delta: start + 10_000), nil)
                span.startTimeUnixNano = st
                span.endTimeUnixNano = en
                span.attributes = (0..<attributesPerSpan).map { a in
                    kv(fixed20("bench.attribute.k\(a)"), fixed20("t\(t)-s\(j)-v\(a)-lorem"))
                }
                var event = Opentelemetry_Proto_Trace_V1_Span.Event()
                event.timeUnixNano = ev
                event.name = j % 3 == 0 ? "request.received" : "cache.lookup.complete"
                event.attributes = [kv("event.idx", "\(t)\(j)")]
                span.events = [event]
                var status = Opentelemetry_Proto_Trace_V1_Status()
                if s % 9 == 4 {
                    status.code = .error
                    status.message = "upstream timeout"
                } else {
                    status.code = .ok
                }
                span.status = status
                spans.append(span)
            }
        }
        var scopeSpans = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        scopeSpans.scope = scope
        scopeSpans.spans = spans
        var rs = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        rs.resource = resource
        rs.scopeSpans = [scopeSpans]
        var request = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest()
        request.resourceSpans = [rs]
        return try locate(try request.serializedBytes(), slots, traces: tracesPerRequest, spans: spansPerRequest)
    }

    /// The workloads' resource: `service.name` and 4 more string attributes.
    static func benchResourceAttributes(service: String) -> [Opentelemetry_Proto_Common_V1_KeyValue] {
        let kv = Placeholders.kv
        return [
            kv("service.name", service),
            kv("service.version", "1.0.0"),
            kv("service.instance.id", "5b1c3f0e-8d2a-4c47-9e61-2f7a9d0b4c13"),
            kv("host.name", "bench-host-01"),
            kv("deployment.environment.name", "bench"),
        ]
    }

    /// Unique random 64-bit words written where IDs and timestamps go, found again in the encoding by ``locate``.
    struct Placeholders {
        private var system = SystemRandomNumberGenerator()
        private var used = Set<UInt64>()

        mutating func next() -> UInt64 {
            while true {
                let v = system.next()
                if v != 0, used.insert(v).inserted { return v }
            }
        }

        /// The words as little-endian bytes (an 8- or 16-byte ID).
        static func data(_ words: [UInt64]) -> Data {
            var d = Data()
            for w in words { withUnsafeBytes(of: w.littleEndian) { d.append(contentsOf: $0) } }
            return d
        }

        static func kv(_ k: String, _ v: String) -> Opentelemetry_Proto_Common_V1_KeyValue {
            var kv = Opentelemetry_Proto_Common_V1_KeyValue()
            kv.key = k
            kv.value.stringValue = v
            return kv
        }
    }

    /// What a placeholder in a template stands for.
    enum Slot {
        case trace(Int)
        case spanID(span: Int)
        case parentID(span: Int)
        case time(delta: Int64)
    }

    /// Finds every placeholder of `slots` (first word -> slot, second word for 16-byte IDs) in `bytes`.
    static func locate(_ bytes: [UInt8], _ slots: [UInt64: (Slot, UInt64?)], traces: Int, spans: Int) throws -> PayloadTemplate {
        // Locate every placeholder in the encoding.
        var traceOffsets = [[Int]](repeating: [], count: traces)
        var spanOffsets = [[Int]](repeating: [], count: spans)
        var timeSlots: [TimeSlot] = []
        var found = Set<UInt64>()
        bytes.withUnsafeBytes { raw in
            var i = 0
            while i + 8 <= raw.count {
                let w = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                if let (slot, second) = slots[w] {
                    if let second {
                        guard i + 16 <= raw.count,
                            UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self)) == second
                        else {
                            i += 1
                            continue
                        }
                    }
                    guard found.insert(w).inserted else {
                        i += 1
                        continue
                    }
                    switch slot {
                    case .trace(let t): traceOffsets[t].append(i)
                    case .spanID(let s): spanOffsets[s].append(i)
                    case .parentID(let s):
                        let trace = s / spansPerTrace
                        let j = s % spansPerTrace
                        spanOffsets[trace * spansPerTrace + Self.parent(of: j)!].append(i)
                    case .time(let delta): timeSlots.append(TimeSlot(offset: i, delta: delta))
                    }
                    i += second == nil ? 8 : 16
                    continue
                }
                i += 1
            }
        }
        guard found.count == slots.count else {
            throw LoadGenError.internalError("payload template: located \(found.count) of \(slots.count) placeholders")
        }
        return PayloadTemplate(bytes: bytes, traceIDOffsets: traceOffsets, spanIDOffsets: spanOffsets, timeSlots: timeSlots)
    }

    /// Rewrites IDs (fresh random) and timestamps (relative to `baseNanos`) in `buffer`, which must be a copy
    /// of `bytes` (or a buffer previously patched by this method).
    @inline(__always)
    func patch(_ buffer: inout [UInt8], rng: inout Xoshiro256StarStar, baseNanos: Int64) {
        buffer.withUnsafeMutableBytes { raw in
            for offsets in traceIDOffsets {
                let hi = rng.nextNonZero()
                let lo = rng.next()
                for o in offsets {
                    raw.storeBytes(of: hi, toByteOffset: o, as: UInt64.self)
                    raw.storeBytes(of: lo, toByteOffset: o + 8, as: UInt64.self)
                }
            }
            for offsets in spanIDOffsets {
                let id = rng.nextNonZero()
                for o in offsets { raw.storeBytes(of: id, toByteOffset: o, as: UInt64.self) }
            }
            for slot in timeSlots {
                let v = UInt64(bitPattern: baseNanos &+ slot.delta)
                raw.storeBytes(of: v.littleEndian, toByteOffset: slot.offset, as: UInt64.self)
            }
        }
    }

    /// Decodes a patched payload and checks the workload's shape; returns a one-line summary.
    static func validate(_ buffer: [UInt8], baseNanos: Int64) throws -> String {
        func fail(_ m: String) -> LoadGenError { .internalError("payload self-check failed: \(m)") }
        let req = try Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest(serializedBytes: buffer)
        guard req.resourceSpans.count == 1, req.resourceSpans[0].scopeSpans.count == 1 else {
            throw fail("expected one resource and one scope")
        }
        let rs = req.resourceSpans[0]
        guard rs.resource.attributes.count == 5,
            rs.resource.attributes.contains(where: { $0.key == "service.name" })
        else {
            throw fail("resource attributes")
        }
        let spans = rs.scopeSpans[0].spans
        guard spans.count == spansPerRequest else { throw fail("span count \(spans.count)") }
        var byTrace: [Data: [Opentelemetry_Proto_Trace_V1_Span]] = [:]
        var spanIDs = Set<Data>()
        var kinds: [Int: Int] = [:]
        for s in spans {
            guard s.traceID.count == 16, s.spanID.count == 8 else { throw fail("ID sizes") }
            guard s.traceID != Data(count: 16), s.spanID != Data(count: 8) else { throw fail("zero ID") }
            guard spanIDs.insert(s.spanID).inserted else { throw fail("duplicate span ID") }
            byTrace[s.traceID, default: []].append(s)
            guard s.attributes.count == attributesPerSpan,
                s.attributes.allSatisfy({ $0.key.utf8.count == 20 && $0.value.stringValue.utf8.count == 20 })
            else { throw fail("span attributes") }
            guard s.events.count == 1, s.hasStatus else { throw fail("event/status") }
            guard s.startTimeUnixNano < s.endTimeUnixNano,
                abs(Int64(bitPattern: s.endTimeUnixNano) - baseNanos) < 1_000_000_000
            else { throw fail("timestamps") }
            kinds[s.kind.rawValue, default: 0] += 1
        }
        guard byTrace.count == tracesPerRequest else { throw fail("trace count \(byTrace.count)") }
        for (_, trace) in byTrace {
            guard trace.count == spansPerTrace else { throw fail("spans per trace") }
            let ids = Set(trace.map(\.spanID))
            let roots = trace.filter { $0.parentSpanID.isEmpty }
            guard roots.count == 1 else { throw fail("\(roots.count) roots in a trace") }
            for s in trace where !s.parentSpanID.isEmpty {
                guard ids.contains(s.parentSpanID) else { throw fail("dangling parent link") }
            }
        }
        let kindText = [(2, "SERVER"), (3, "CLIENT"), (1, "INTERNAL")].map { "\($0.1)=\(kinds[$0.0] ?? 0)" }
            .joined(separator: " ")
        return "\(spans.count) spans in \(byTrace.count) traces (1 root each), kinds \(kindText)"
    }
}

/// Per-worker request factory: a private copy of the template that is patched in place for every request.
struct PayloadFactory {
    let templates: [PayloadTemplate]
    private var buffers: [[UInt8]]
    private var rng: Xoshiro256StarStar
    private var sent = 0

    init(template: PayloadTemplate, seed: UInt64) {
        self.init(templates: [template], seed: seed)
    }

    /// Requests rotate through `templates` (one per service with `--services`).
    init(templates: [PayloadTemplate], seed: UInt64) {
        self.templates = templates
        self.buffers = templates.map(\.bytes)
        self.rng = Xoshiro256StarStar(seed: seed)
        self.sent = Int(seed % UInt64(max(1, templates.count)))
    }

    /// A fresh request body: new random trace and span IDs, timestamps around now.
    mutating func next() -> [UInt8] {
        let i = sent % templates.count
        sent &+= 1
        templates[i].patch(&buffers[i], rng: &rng, baseNanos: unixNanosNow())
        return buffers[i]
    }
}

enum LoadGenError: Error, CustomStringConvertible {
    case internalError(String)
    case usage(String)
    case connect(String)

    var description: String {
        switch self {
        case .internalError(let m): return m
        case .usage(let m): return m
        case .connect(let m): return m
        }
    }
}
