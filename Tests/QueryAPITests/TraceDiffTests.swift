import CollectorTesting
import Foundation
import OTLP
import QueryAPI
import SQLiteStore
import Testing

/// Diffs of hand-built trace pairs: spans matched by service, operation and place among same-named siblings.
@Suite struct TraceDiffTests {
    typealias S = SketchedTrace.Span

    static func trace(_ traceByte: UInt8, _ spans: [S]) -> ExportTraceRequest { SketchedTrace.request(traceByte, spans) }

    static func names(_ path: [TraceDiff.Step]) -> String { path.map { "\($0.operation)#\($0.index)" }.joined(separator: "/") }

    static let base = SketchedTrace.cart

    @Test func identicalTracesGiveAnEmptyDiff() {
        let diff = TraceDiff(Self.trace(1, Self.base), Self.trace(2, Self.base))
        #expect(diff.isEmpty)
    }

    @Test func reorderedSiblingsStillMatch() {
        // B runs the charge first and the queries after: same spans, other start order.
        var b = Self.base
        b[3].start = 5
        b[3].end = 45
        b[1].start = 50
        b[1].end = 60
        b[2].start = 70
        b[2].end = 80
        let diff = TraceDiff(Self.trace(1, Self.base), Self.trace(2, b))
        #expect(diff.onlyInA.isEmpty && diff.onlyInB.isEmpty)
        #expect(diff.changed.isEmpty)
    }

    @Test func anAddedRepeatedSiblingIsOnlyInBAndMatchesInOrder() {
        var b = Self.base
        b.append(S(id: 4, parent: 0, service: "db", name: "query", start: 42, end: 48))
        let diff = TraceDiff(Self.trace(1, Self.base), Self.trace(2, b))
        #expect(diff.changed.isEmpty && diff.onlyInA.isEmpty)
        #expect(diff.onlyInB.map { Self.names($0.path) } == ["GET /cart#0/query#2"])
        #expect(diff.onlyInB.first?.side.durationNanos == 6)
    }

    @Test func aRemovedSpanIsOnlyInAWithEverySpanBelowIt() {
        var a = Self.base
        a.append(S(id: 5, parent: 3, service: "bank", name: "authorize", start: 60, end: 80))
        let diff = TraceDiff(Self.trace(1, a), Self.trace(2, Array(Self.base.prefix(3))))
        #expect(diff.onlyInA.map { Self.names($0.path) } == ["GET /cart#0/charge#0", "GET /cart#0/charge#0/authorize#0"])
        #expect(diff.onlyInB.isEmpty)
    }

    @Test func changedSpansAreListedLargestDifferenceFirstWithStatusAndAttributes() throws {
        let b = SketchedTrace.cartChanged
        let diff = TraceDiff(Self.trace(1, Self.base), Self.trace(2, b))
        #expect(diff.changed.map { Self.names($0.path) } == ["GET /cart#0", "GET /cart#0/charge#0", "GET /cart#0/query#0"])
        #expect(diff.changed.map(\.deltaNanos) == [300, 290, 5])
        let charge = diff.changed[1]
        #expect(charge.statusChanged && charge.b.statusCode == 2)
        #expect(charge.attributes.map(\.key) == ["card", "tries"])
        #expect(charge.attributes[0].a == nil && charge.attributes[1].a == .string("1") && charge.attributes[1].b == .string("3"))
        // The charge owns most of B's critical path; the second query (unchanged) is not listed.
        #expect(charge.b.criticalNanos == 330 && charge.a.criticalNanos == 40)
    }

    @Test func jsonHasTheSameStructure() throws {
        var b = Self.base
        b[3].end = 95
        let json = TraceDiff(Self.trace(1, Self.base), Self.trace(2, b)).json()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])
        let changed = try #require(object["changed"] as? [[String: Any]])
        #expect(changed.count == 1 && changed[0]["deltaNanos"] as? Int == 5)
        #expect((changed[0]["path"] as? [[String: Any]])?.last?["operation"] as? String == "charge")
        #expect(((object["a"] as? [String: Any])?["traceId"] as? String) == String(repeating: "01", count: 16))
    }

    /// The whole answer, byte for byte: every field of a change, a span only in A, text that needs escaping.
    @Test func jsonIsWrittenExactly() throws {
        var a = Array(Self.base.prefix(3))
        a[2].attributes = ["q\"uote": "1"]
        a.append(S(id: 4, parent: 0, service: "db", name: "gone\n", start: 60, end: 70))
        var b = Array(Self.base.prefix(3))
        b[2].end = 45
        b[2].error = true
        b[2].attributes = ["new": "<x>"]
        let text = String(decoding: TraceDiff(Self.trace(1, a), Self.trace(2, b)).json(), as: UTF8.self)
        let sideA2 = #"{"spanId":"0100000000000002","durationNanos":10,"criticalPathNanos":10,"statusCode":"STATUS_CODE_UNSET","statusMessage":""}"#
        let sideB2 = #"{"spanId":"0200000000000002","durationNanos":15,"criticalPathNanos":15,"statusCode":"STATUS_CODE_ERROR","statusMessage":""}"#
        let path2 = #"[{"service":"svc","operation":"GET /cart","index":0},{"service":"db","operation":"query","index":1}]"#
        let expected =
            #"{"a":{"traceId":"01010101010101010101010101010101","durationNanos":100},"#
            + #""b":{"traceId":"02020202020202020202020202020202","durationNanos":100},"#
            + #""changed":[{"path":"# + path2 + #","depth":2,"a":"# + sideA2 + #","b":"# + sideB2 + #","deltaNanos":5,"#
            + #""attributes":[{"key":"new","a":null,"b":"<x>"},{"key":"q\"uote","a":"1","b":null}]}],"#
            + #""onlyInA":[{"path":[{"service":"svc","operation":"GET /cart","index":0},{"service":"db","operation":"gone\n","index":0}],"#
            + #""depth":2,"span":{"spanId":"0100000000000004","durationNanos":10,"criticalPathNanos":10,"statusCode":"STATUS_CODE_UNSET","statusMessage":""}}],"#
            + #""onlyInB":[]}"#
        #expect(text == expected)
    }

    /// Attributes are compared as stored bytes, decoded only where they differ: values of any kind are reported,
    /// the first of a repeated key counts, and an equal value encoded another way is no change.
    @Test func attributeChangesFromStoredBytesDecodeOnlyWhatDiffers() throws {
        func kv(_ key: String, _ set: (inout AnyValue) -> Void) -> KeyValue {
            var v = AnyValue()
            set(&v)
            return KeyValue.with {
                $0.key = key
                $0.value = v
            }
        }
        func summary(_ attributes: [KeyValue], extra: [UInt8] = []) throws -> SpanSummary {
            var span = Span()
            span.spanID = Data([1, 2, 3, 4, 5, 6, 7, 8])
            span.name = "op"
            span.endTimeUnixNano = 10
            span.attributes = attributes
            var s = SpanSummary(span, service: "svc")
            s.parts.attributeFields += Data(extra)
            return s
        }
        let a = try summary([
            kv("n") { $0.intValue = 1 }, kv("s") { $0.stringValue = "x" }, kv("same") { $0.boolValue = true },
            kv("dup") { $0.stringValue = "first" }, kv("dup") { $0.stringValue = "second" },
        ])
        // "same" again, written with the value's bytes in another (valid) form: a bool field encoded as a 10-byte varint.
        let sameAgain: [UInt8] =
            [0x4A, 19, 0x0A, 4] + Array("same".utf8) + [0x12, 11, 0x10, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]
        let b = try summary(
            [
                kv("n") { $0.intValue = 2 }, kv("list") { $0.arrayValue.values = [.string("a")] },
                kv("dup") { $0.stringValue = "first" },
            ], extra: sameAgain)
        let d = TraceDiff(traceA: Data([1]), [a], traceB: Data([2]), [b])
        let changes = try #require(d.changed.first?.attributes)
        #expect(changes.map(\.key) == ["list", "n", "s"])
        #expect(changes[0].a == nil && changes[0].b?.arrayValue.values == [.string("a")])
        #expect(changes[1].a?.intValue == 1 && changes[1].b?.intValue == 2)
        #expect(changes[2].a?.stringValue == "x" && changes[2].b == nil)
    }

    /// 10,000 repeated siblings and a 5,000-deep chain: matched in order, without quadratic work or recursion.
    @Test func largeTracesDiffWithoutBlowingUp() {
        let wide =
            [S(id: 0, name: "root", start: 0, end: 100_000)]
            + (1...10_000).map { S(id: $0, parent: 0, name: "step", start: UInt64($0), end: UInt64($0 + 5)) }
        var wider = wide
        wider[10_000].end += 7
        let d = TraceDiff(Self.trace(1, wide), Self.trace(2, wider))
        #expect(d.changed.map { Self.names($0.path) } == ["root#0/step#9999"] && d.onlyInA.isEmpty && d.onlyInB.isEmpty)
        let deep = (0..<5_000).map { S(id: $0, parent: $0 == 0 ? nil : $0 - 1, name: "n", start: UInt64($0), end: UInt64(20_000 - $0)) }
        let deeper = deep + [S(id: 5_000, parent: 4_999, name: "extra", start: 5_000, end: 5_001)]
        let e = TraceDiff(Self.trace(1, deep), Self.trace(2, deeper))
        #expect(e.onlyInB.count == 1 && e.onlyInB[0].depth == 5_001 && e.onlyInB[0].path.count == TraceDiff.maxPathSteps)
    }
}
