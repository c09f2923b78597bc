import Foundation
import OTLP
import QueryAPI
import Testing

/// Critical paths of hand-built traces, compared with the expected path section by section (span, start, end).
@Suite struct CriticalPathTests {
    /// A span: its number (the span ID), its parent's number (nil for a root), service, start and end.
    struct S {
        var id: Int
        var parent: Int?
        var service = "svc"
        var start: UInt64
        var end: UInt64
    }

    static func spanID(_ n: Int) -> Data { withUnsafeBytes(of: UInt64(n + 1).bigEndian) { Data($0) } }

    static func trace(_ spans: [S]) -> ExportTraceRequest {
        var request = ExportTraceRequest()
        for service in Set(spans.map(\.service)).sorted() {
            var rs = ResourceSpans()
            var kv = KeyValue()
            kv.key = "service.name"
            kv.value = .string(service)
            rs.resource.attributes = [kv]
            var ss = ScopeSpans()
            ss.spans = spans.filter { $0.service == service }.map { s in
                var span = Span()
                span.traceID = Data(repeating: 7, count: 16)
                span.spanID = spanID(s.id)
                if let p = s.parent { span.parentSpanID = spanID(p) }
                span.name = "op\(s.id)"
                span.startTimeUnixNano = s.start
                span.endTimeUnixNano = s.end
                return span
            }
            rs.scopeSpans = [ss]
            request.resourceSpans.append(rs)
        }
        return request
    }

    /// The path as (span number, start, end) in time order.
    static func path(_ spans: [S]) throws -> [[UInt64]] {
        let p = try #require(CriticalPath(trace(spans)))
        // The sections partition the root's duration.
        #expect(p.sections.reduce(0) { $0 + $1.nanos } == p.nanos)
        for (a, b) in zip(p.sections, p.sections.dropFirst()) { #expect(a.endNanos == b.startNanos) }
        return p.sections.map { s in
            let n = s.spanID.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } - 1
            return [n, s.startNanos, s.endNanos]
        }
    }

    @Test func sequentialChildrenEachOwnTheirTimeAndTheParentTheGaps() throws {
        let spans = [S(id: 0, start: 0, end: 100), S(id: 1, parent: 0, start: 10, end: 40), S(id: 2, parent: 0, start: 50, end: 90)]
        #expect(try Self.path(spans) == [[0, 0, 10], [1, 10, 40], [0, 40, 50], [2, 50, 90], [0, 90, 100]])
    }

    @Test func ofParallelChildrenTheLastToFinishIsOnThePath() throws {
        let spans = [S(id: 0, start: 0, end: 100), S(id: 1, parent: 0, start: 10, end: 80), S(id: 2, parent: 0, start: 20, end: 60)]
        #expect(try Self.path(spans) == [[0, 0, 10], [1, 10, 80], [0, 80, 100]])
    }

    @Test func theWalkDescendsIntoGrandchildren() throws {
        let spans = [
            S(id: 0, start: 0, end: 100), S(id: 1, parent: 0, start: 10, end: 90),
            S(id: 2, parent: 1, start: 20, end: 50), S(id: 3, parent: 1, start: 60, end: 80),
        ]
        #expect(try Self.path(spans) == [[0, 0, 10], [1, 10, 20], [2, 20, 50], [1, 50, 60], [3, 60, 80], [1, 80, 90], [0, 90, 100]])
    }

    @Test func aChildOutlivingItsParentIsCutAtTheParentsEnd() throws {
        let spans = [S(id: 0, start: 0, end: 100), S(id: 1, parent: 0, start: 50, end: 150)]
        #expect(try Self.path(spans) == [[0, 0, 50], [1, 50, 100]])
    }

    @Test func aChildWhoseClockRunsBehindIsCutAtTheParentsStart() throws {
        // Another service's clock is 30 behind: its span seems to start before its caller.
        let spans = [S(id: 0, service: "a", start: 100, end: 200), S(id: 1, parent: 0, service: "b", start: 70, end: 150)]
        #expect(try Self.path(spans) == [[1, 100, 150], [0, 150, 200]])
    }

    @Test func anAsyncChildStartingAfterItsParentEndedIsNotOnThePathNorItsChildren() throws {
        let spans = [
            S(id: 0, start: 0, end: 100), S(id: 1, parent: 0, start: 0, end: 50),
            S(id: 2, parent: 0, start: 120, end: 300), S(id: 3, parent: 2, start: 130, end: 140),
        ]
        #expect(try Self.path(spans) == [[1, 0, 50], [0, 50, 100]])
    }

    @Test func aSingleSpanIsItsOwnPath() throws {
        #expect(try Self.path([S(id: 0, start: 5, end: 9)]) == [[0, 5, 9]])
        let p = try #require(CriticalPath(Self.trace([S(id: 0, start: 5, end: 9)])))
        #expect(p.byService == [CriticalPath.Share(service: "svc", operation: nil, nanos: 4)])
    }

    @Test func sharesAddUpByServiceAndOperation() throws {
        let spans = [
            S(id: 0, service: "front", start: 0, end: 100), S(id: 1, parent: 0, service: "db", start: 10, end: 40),
            S(id: 2, parent: 0, service: "db", start: 50, end: 90),
        ]
        let p = try #require(CriticalPath(Self.trace(spans)))
        #expect(p.byService == [.init(service: "db", operation: nil, nanos: 70), .init(service: "front", operation: nil, nanos: 30)])
        #expect(p.byOperation.map(\.nanos) == [40, 30, 30])
        #expect(p.byOperation.first?.operation == "op2")
        #expect(p.share(70) == 0.7)
    }

    /// A chain 10,000 spans deep, each inside the one before: the path goes down through every start and back up
    /// through every end (and the walk uses no recursion, so the depth cannot overflow the stack).
    @Test func aTenThousandSpanChainIsWalkedDownAndBackUp() throws {
        let n = 10_000
        let spans = (0..<n).map { i in S(id: i, parent: i == 0 ? nil : i - 1, start: UInt64(i), end: UInt64(2 * n - i)) }
        var expected: [[UInt64]] = (0..<(n - 1)).map { [UInt64($0), UInt64($0), UInt64($0 + 1)] }
        expected.append([UInt64(n - 1), UInt64(n - 1), UInt64(n + 1)])
        expected += (0..<(n - 1)).reversed().map { [UInt64($0), UInt64(2 * n - $0 - 1), UInt64(2 * n - $0)] }
        #expect(try Self.path(spans) == expected)
    }

    /// A root with 10,000 sequential children: each child is on the path, with the root owning the gaps.
    @Test func tenThousandSequentialChildrenAreAllOnThePath() throws {
        let n = 10_000
        let spans =
            [S(id: 0, start: 0, end: UInt64(3 * n + 1))]
            + (1...n).map { i in
                S(id: i, parent: 0, start: UInt64(3 * i - 2), end: UInt64(3 * i))
            }
        let path = try Self.path(spans)
        #expect(path.count == 2 * n + 1)
        #expect(path.filter { $0[0] != 0 }.map { $0[0] } == (1...n).map(UInt64.init))
    }

    @Test func hostileTimestampsDuplicateIDsAndCyclesDoNotTrap() throws {
        // Reversed and extreme times, a duplicate span ID, a span that is its own parent, a two-span cycle.
        let spans = [
            S(id: 0, start: 0, end: UInt64.max), S(id: 1, parent: 0, start: 500, end: 10),
            S(id: 1, parent: 0, start: 0, end: UInt64.max), S(id: 2, parent: 2, start: 3, end: 4),
            S(id: 3, parent: 4, start: 1, end: 2), S(id: 4, parent: 3, start: 1, end: 2),
        ]
        let p = try #require(CriticalPath(Self.trace(spans)))
        #expect(p.nanos == UInt64.max && p.sections.reduce(0) { $0 &+ $1.nanos } == UInt64.max)
        // Only spans in a cycle: no root to start from.
        #expect(CriticalPath(Self.trace([S(id: 3, parent: 4, start: 1, end: 2), S(id: 4, parent: 3, start: 1, end: 2)])) == nil)
        #expect(CriticalPath(ExportTraceRequest()) == nil)
    }
}
