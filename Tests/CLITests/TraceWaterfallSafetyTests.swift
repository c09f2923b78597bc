import CollectorCore
import CollectorTesting
import Foundation
import OTLP
import QueryAPI
import Testing

@testable import otelsink

/// A trace with one resource per span (service `service-<i>`), spans given as (start, end, parent index).
private func trace(_ spans: [(start: UInt64, end: UInt64, parent: Int?)], duplicateIDs: Bool = false) -> ExportTraceRequest {
    var request = ExportTraceRequest()
    let ids = spans.indices.map { i in Data([0xa0, 0, 0, 0, 0, 0, 0, UInt8(truncatingIfNeeded: duplicateIDs ? i % 2 : i) &+ 1]) }
    for (i, s) in spans.enumerated() {
        var span = Span()
        span.traceID = Data(repeating: 7, count: 16)
        span.spanID = ids[i]
        if let p = s.parent { span.parentSpanID = ids[p] }
        span.name = "op-\(i)"
        span.startTimeUnixNano = s.start
        span.endTimeUnixNano = s.end
        var event = Span.Event()
        event.name = "ev"
        event.timeUnixNano = s.end
        span.events = [event]
        var rs = ResourceSpans()
        rs.resource.attributes = [keyValue("service.name", "service-\(i % 3)")]
        var ss = ScopeSpans()
        ss.spans = [span]
        rs.scopeSpans = [ss]
        request.resourceSpans.append(rs)
    }
    return request
}

private func keyValue(_ key: String, _ value: String) -> KeyValue {
    var kv = KeyValue()
    kv.key = key
    kv.value = .string(value)
    return kv
}

/// Whether the text holds a control or bidi formatting character other than the line breaks.
private func holdsControlCharacters(_ text: String) -> Bool {
    text.unicodeScalars.contains { $0 != "\n" && $0 != "\\" && TerminalSafeText.needsEscaping(String($0)) }
}

/// The bars of a plain rendering: what sits between `│` and `│` on each span line.
private func bars(_ text: String) -> [Substring] {
    text.split(separator: "\n").dropFirst().compactMap { line in
        guard let open = line.firstIndex(of: "│"), let close = line.lastIndex(of: "│"), open < close else { return nil }
        return line[line.index(after: open)..<close]
    }
}

@Suite struct TraceWaterfallSafetyTests {
    /// The reported crash: a span starting at 9e18 ns and ending at 1 next to a 1 ns span, so the trace is 1 ns
    /// long and the first span's offset on the timeline (9e18 × 40 columns) overflowed an Int.
    @Test func spanStartingAt9e18AndEndingAt1Renders() {
        let request = trace([(9_000_000_000_000_000_000, 1, nil), (1_000, 1_001, nil)])
        for color in [false, true] {
            for attributes in [false, true] {
                let text = TraceWaterfall(color: color, attributes: attributes).render(request)
                #expect(text.contains("Trace 07070707070707070707070707070707 · 2 spans · 2 services · 1ns"))
            }
        }
        let plain = TraceWaterfall().render(request)
        #expect(plain.split(separator: "\n").count == 3)
        #expect(bars(plain).allSatisfy { $0.count == 40 })
    }

    @Test(
        arguments: [
            [(UInt64(0), UInt64(0), Int?.none)],
            [(UInt64.max, UInt64.max, nil)],
            [(0, UInt64.max, nil)],
            [(UInt64.max, 0, nil)],
            [(1, 0, nil), (0, 1, 0)],
            [(0, UInt64.max, nil), (UInt64.max, UInt64.max, 0), (UInt64.max - 1, 0, 1)],
            [(5, 5, nil), (5, 5, 0), (5, 5, 1)],
            [(UInt64(Int64.max), UInt64(Int64.max) + 1, nil), (0, UInt64(Int64.max), 0)],
        ] as [[(UInt64, UInt64, Int?)]])
    func extremeTimestampsRenderEveryBarAtFullWidth(_ spans: [(UInt64, UInt64, Int?)]) {
        let request = trace(spans.map { (start: $0.0, end: $0.1, parent: $0.2) })
        let text = TraceWaterfall(color: false, attributes: true).render(request)
        let plain = TraceWaterfall().render(request)
        #expect(text.hasPrefix("Trace "))
        #expect(plain.split(separator: "\n").count == 1 + spans.count)
        #expect(bars(plain).count == spans.count)
        #expect(bars(plain).allSatisfy { $0.count == 40 && $0.contains("█") })
    }

    @Test func tinyAndZeroLayoutWidthsRender() {
        var waterfall = TraceWaterfall()
        waterfall.barWidth = 0
        waterfall.maxLabelWidth = 0
        let text = waterfall.render(trace([(9_000_000_000_000_000_000, 1, nil), (1_000, 2_000, 0)]))
        #expect(text.split(separator: "\n").count == 3)
        #expect(bars(text).allSatisfy { $0 == "█" })
    }

    @Test func aLongChainOfSpansRendersWithoutDeepRecursion() {
        let n = 20_000
        var request = trace([(0, 1, nil)])
        var spans: [Span] = []
        for i in 0..<n {
            var span = Span()
            span.traceID = Data(repeating: 7, count: 16)
            span.spanID = withUnsafeBytes(of: UInt64(i + 1).bigEndian) { Data($0) }
            if i > 0 { span.parentSpanID = withUnsafeBytes(of: UInt64(i).bigEndian) { Data($0) } }
            span.name = "op"
            span.startTimeUnixNano = UInt64(i)
            span.endTimeUnixNano = UInt64(n)
            spans.append(span)
        }
        request.resourceSpans[0].scopeSpans[0].spans = spans
        let lines = TraceWaterfall().render(request).split(separator: "\n")
        #expect(lines.count == 1 + n)
    }

    /// Random traces over extreme timestamps, random parent links (missing, self, cycles through duplicate IDs)
    /// and random layout widths: every one renders a header and a line per span whose bar fills the bar width.
    @Test func randomTracesOverExtremeTimestampsRender() {
        let seed = TestSeed.next()
        var random = SplitMix64(seed: seed)
        let extremes: [UInt64] = [
            0, 1, 2, 999, 1_000_000_000, 9_000_000_000_000_000_000, UInt64(Int64.max), UInt64(Int64.max) + 1,
            UInt64.max / 2, UInt64.max - 1, UInt64.max,
        ]
        for _ in 0..<500 {
            func timestamp() -> UInt64 { random.chance(0.6) ? random.pick(extremes) : random.next() }
            let count = 1 + random.below(6)
            var spans: [(start: UInt64, end: UInt64, parent: Int?)] = []
            for _ in 0..<count {
                let parent: Int? = random.chance(0.3) ? nil : random.below(count)
                spans.append((timestamp(), timestamp(), parent))
            }
            var waterfall = TraceWaterfall(color: random.chance(0.5), attributes: random.chance(0.5))
            waterfall.barWidth = random.below(90)
            waterfall.maxLabelWidth = random.below(70)
            let request = trace(spans, duplicateIDs: random.chance(0.2))
            let text = waterfall.render(request)
            #expect(text.hasPrefix(waterfall.color ? "\u{1B}[1mTrace " : "Trace "), "seed \(seed)")
            var plain = waterfall
            plain.color = false
            plain.attributes = false
            let plainBars = bars(plain.render(request))
            #expect(plainBars.count == count, "seed \(seed): \(spans)")
            #expect(plainBars.allSatisfy { $0.count == max(1, waterfall.barWidth) && $0.contains("█") }, "seed \(seed): \(spans)")
        }
    }

    @Test func untrustedTextIsEscapedInEveryPart() throws {
        let hostile = "x\u{1B}[2J\u{1B}]0;pwned\u{7}\r\nforged\u{0}\u{85}\u{202E}\\"
        var request = trace([(1_000, 5_000, nil), (2_000, 3_000, 0)])
        request.resourceSpans[0].resource.attributes = [keyValue("service.name", hostile)]
        var span = request.resourceSpans[0].scopeSpans[0].spans[0]
        span.name = hostile
        span.status.code = .error
        span.status.message = hostile
        span.attributes = [keyValue(hostile, hostile)]
        var list = AnyValue()
        list.arrayValue.values = [.string(hostile)]
        var listAttribute = KeyValue()
        listAttribute.key = "list"
        listAttribute.value = list
        span.attributes.append(listAttribute)
        span.events[0].name = hostile
        span.events[0].attributes = [keyValue(hostile, hostile)]
        request.resourceSpans[0].scopeSpans[0].spans[0] = span
        let escaped = TerminalSafeText.escape(hostile)
        for color in [false, true] {
            let text = TraceWaterfall(color: color, attributes: true).render(request)
            // Colours are the waterfall's own SGR sequences; nothing else may be a control character.
            let uncoloured = text.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
            #expect(!holdsControlCharacters(uncoloured))
            // The header; the span, its ID line, 2 attributes, 1 event; the child, its ID line, 1 event.
            #expect(text.split(separator: "\n").count == 1 + 5 + 3)
            #expect(text.contains(String(escaped.prefix(25))))  // the label (shortened in the middle to 60 cells)
            #expect(text.contains("ERROR: " + escaped))
            #expect(text.contains(escaped + "=" + escaped))
            #expect(text.contains("event +4µs " + escaped))
        }
    }

    @Test func searchTableMeasuresColumnsOnTheEscapedText() throws {
        var plain = trace([(1_000, 5_000, nil)])
        plain.resourceSpans[0].scopeSpans[0].spans[0].traceID = Data(repeating: 8, count: 16)
        var hostile = trace([(1_000, 5_000, nil)])
        hostile.resourceSpans[0].resource.attributes = [keyValue("service.name", "s\u{1B}[2J\u{0}")]
        hostile.resourceSpans[0].scopeSpans[0].spans[0].name = "n\r\n\u{202E}"
        let table = TraceTable.render([TraceSummary(plain), TraceSummary(hostile)])
        let lines = table.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(!holdsControlCharacters(table))
        #expect(lines[2].contains(#"s\x1b[2J\x00: n\r\n\u202e"#))
        // Every right-aligned column (duration, spans, errors) ends at the same column on every line.
        let widths = lines.map(\.count)
        #expect(Set(widths).count == 1, "\(lines)")
    }
}
