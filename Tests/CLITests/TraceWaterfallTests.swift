import CollectorCore
import CollectorTesting
import Foundation
import OTLP
import QueryAPI
import Testing

@testable import otelsink

@Suite struct WaterfallTests {
    @Test func plainWaterfallIndentsChildrenAndMarksErrors() {
        let text = TraceWaterfall(color: false).render(SampleTrace.checkout())
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("Trace 0102030405060708090a0b0c0d0e0f10 · 2 spans · 2 services · 12.3ms · 1 error"))
        #expect(lines[1].hasPrefix("checkout: GET /cart"))
        #expect(lines[1].contains("│████████████████████████████████████████│"))
        #expect(lines[1].hasSuffix("12.3ms"))
        #expect(lines[2].hasPrefix("  payment: charge"))
        #expect(lines[2].hasSuffix("4ms  ERROR: card declined"))
        #expect(!text.contains("\u{1B}"))
    }

    @Test func colouredWaterfallUsesANSIAndAttributesListThem() {
        let text = TraceWaterfall(color: true, attributes: true).render(SampleTrace.checkout())
        #expect(text.contains("\u{1B}[31m"))
        #expect(text.contains("http.status_code=200"))
        #expect(text.contains("event +1ms retry attempt=2"))
    }
}

/// The waterfall laid out for a terminal width, with names in wide scripts: every line fits and the bars line up.
struct WaterfallWidthTests {
    static func trace() -> ExportTraceRequest {
        var request = SampleTrace.checkout()
        request.resourceSpans[0].scopeSpans[0].spans[0].name = "GET /カート/商品/🦄/一覧を表示する/とても長い名前の操作"
        request.resourceSpans[1].scopeSpans[0].spans[0].name = "課金 💳 " + String(repeating: "x", count: 40)
        return request
    }

    @Test(arguments: [60, 80, 200])
    func everyLineFitsAndTheBarsLineUp(width: Int) {
        var waterfall = TraceWaterfall()
        waterfall.width = width
        waterfall.criticalPath = CriticalPath(Self.trace())
        let lines = waterfall.render(Self.trace()).split(separator: "\n").map(String.init)
        // Marks and the error message after the duration are cut to what is left.
        for line in lines { #expect(TerminalCells.width(line) <= width, "\(width): \(line)") }
        let rows = lines.filter { $0.contains("│") }
        #expect(rows.count == 2)
        let barStarts = Set(rows.map { TerminalCells.width(String($0.prefix(while: { $0 != "│" }))) })
        #expect(barStarts.count == 1, "bars do not line up at \(width):\n\(rows.joined(separator: "\n"))")
        #expect(rows.contains { $0.contains("…") } == (width < 200))
    }
}

/// Big traces stay readable: runs of similar siblings fold, and --depth / --max-spans cut with a note.
struct WaterfallFoldingTests {
    /// A root with 400 calls to `GET /item`, one `audit` call after the 200th, and a child under the last call.
    static func trace() -> ExportTraceRequest {
        func span(_ n: Int, parent: Int?, _ name: String, start: UInt64) -> Span {
            var s = Span()
            s.traceID = Data(repeating: 9, count: 16)
            s.spanID = withUnsafeBytes(of: UInt64(n + 1).bigEndian) { Data($0) }
            if let parent { s.parentSpanID = withUnsafeBytes(of: UInt64(parent + 1).bigEndian) { Data($0) } }
            s.name = name
            s.startTimeUnixNano = start
            s.endTimeUnixNano = start + 5
            return s
        }
        var spans = [span(0, parent: nil, "GET /basket", start: 0)]
        spans[0].endTimeUnixNano = 10_000
        for i in 1...400 { spans.append(span(i, parent: 0, "GET /item", start: UInt64(i * 10))) }
        spans.append(span(401, parent: 0, "audit", start: 2_005))
        spans.append(span(402, parent: 400, "cache", start: 4_001))
        spans[5].status.code = .error
        var rs = ResourceSpans()
        var kv = KeyValue()
        kv.key = "service.name"
        kv.value = .string("shop")
        rs.resource.attributes = [kv]
        var ss = ScopeSpans()
        ss.spans = spans
        rs.scopeSpans = [ss]
        var request = ExportTraceRequest()
        request.resourceSpans = [rs]
        return request
    }

    static func rows(_ text: String) -> [String] { text.split(separator: "\n").map(String.init).filter { $0.contains("│") } }

    @Test func runsOfSimilarSiblingsFoldPastTheThresholdAndNotOtherwise() {
        let folded = TraceWaterfall().render(Self.trace())
        // The root; 200 calls before the audit, the audit, 198 leaf calls after it, the last call (it has a child)
        // and its child.
        #expect(
            Self.rows(folded).map { $0.split(separator: "│")[0].trimmingCharacters(in: .whitespaces) }
                == ["shop: GET /basket", "× 200 shop: GET /item", "shop: audit", "× 199 shop: GET /item", "shop: GET /item", "shop: cache"])
        #expect(folded.contains("1 ERROR") && folded.contains("2 runs of similar sibling spans folded"))
        var plain = TraceWaterfall()
        plain.foldSimilarSiblings = false
        #expect(Self.rows(plain.render(Self.trace())).count == 403)
    }

    @Test func depthAndMaxSpansCutWithANote() {
        var w = TraceWaterfall()
        w.maxDepth = 0
        let shallow = w.render(Self.trace())
        #expect(Self.rows(shallow).count == 1 && shallow.contains("402 spans not shown (--depth 0)"))
        w = TraceWaterfall()
        w.foldSimilarSiblings = false
        w.maxSpans = 10
        let short = w.render(Self.trace())
        #expect(Self.rows(short).count == 10 && short.contains("393 spans not shown (--max-spans 10)"))
    }
}
