import Foundation
import OTLP
import SQLiteStore

/// The critical path of a trace: the chain of spans that determined its end-to-end duration, computed as Jaeger's
/// UI computes it. Shared by `otelsink trace --critical-path` and `GET /api/v3/traces/{id}/critical_path`.
///
/// From the root's end, the walk goes down to the child that finished last, and from that child's start back up
/// to its parent, which then owns the time until the next child that finished before that start — and so on until
/// the root's start. Every moment of the root's duration is owned by exactly one span: the sections partition it.
/// Before the walk each child is fitted into its parent, as Jaeger does: a child that starts before its parent or
/// ends after it (clock skew between services, a child that outlives its parent) is cut to the parent's interval,
/// and a child entirely outside it (an asynchronous child that starts after its parent ended) leaves the walk with
/// its descendants: it did not hold the parent up.
///
/// Linear after sorting: each span's children are sorted once by end time and each is taken at most once, so a
/// 10,000-span trace costs a few milliseconds. Span data is untrusted: any timestamps (reversed, zero,
/// `UInt64.max`), duplicate IDs and parent cycles are handled without trapping.
public struct CriticalPath: Sendable, Equatable {
    /// A stretch of time on the path, owned by one span.
    public struct Section: Sendable, Equatable {
        public var spanID: Data
        public var service: String
        public var operation: String
        public var startNanos: UInt64
        public var endNanos: UInt64
        public var nanos: UInt64 { endNanos - startNanos }
    }

    /// Time on the path owned by a service (`operation` nil) or by an operation of a service.
    public struct Share: Sendable, Equatable {
        public var service: String
        public var operation: String?
        public var nanos: UInt64

        public init(service: String, operation: String?, nanos: UInt64) {
            self.service = service
            self.operation = operation
            self.nanos = nanos
        }
    }

    public let rootSpanID: Data
    public let startNanos: UInt64
    public let endNanos: UInt64
    /// The path in time order; sections of no length are left out.
    public let sections: [Section]

    /// The root's duration, which the sections add up to.
    public var nanos: UInt64 { endNanos - startNanos }

    /// For each section, the position of its span in the list the path was computed from.
    private let sectionSpans: [Int]

    /// Time on the path of each span that has any.
    public var bySpan: [Data: UInt64] {
        var out: [Data: UInt64] = [:]
        for s in sections { out[s.spanID, default: 0] += s.nanos }
        return out
    }

    /// Time on the path by service, largest first.
    public var byService: [Share] { Self.shares(sections) { Share(service: $0.service, operation: nil, nanos: 0) } }

    /// Time on the path by operation (service and span name), largest first.
    public var byOperation: [Share] { Self.shares(sections) { Share(service: $0.service, operation: $0.operation, nanos: 0) } }

    /// Time on the path of each span, by its position in the list of outlines the path was computed from (0 for
    /// a span not on it, and for a repeated span ID after its first).
    public func nanos(bySpanIndex count: Int) -> [UInt64] {
        var out = [UInt64](repeating: 0, count: count)
        for (section, i) in zip(sections, sectionSpans) where i < count { out[i] += section.nanos }
        return out
    }

    /// The fraction of the trace's duration `nanos` is.
    public func share(_ nanos: UInt64) -> Double { self.nanos == 0 ? 0 : Double(nanos) / Double(self.nanos) }

    /// A span in the walk: its interval (fitted into its parent's) and its parent on the path; the rest is read
    /// from the input at `input`.
    private struct Node {
        var start: UInt64
        var end: UInt64
        var parent: Int?
        var input: Int
    }

    /// The path of `trace`; nil when it has no span to start from (no spans, or every span's parent is another).
    public init?(_ trace: ExportTraceRequest) {
        var outlines: [SpanOutline] = []
        for rs in trace.resourceSpans {
            let service = rs.resource.attributes.stringValue("service.name") ?? "unknown_service"
            for ss in rs.scopeSpans {
                for span in ss.spans {
                    outlines.append(
                        SpanOutline(
                            spanID: span.spanID, parentSpanID: span.parentSpanID, service: service, name: span.name,
                            startNanos: span.startTimeUnixNano, endNanos: max(span.startTimeUnixNano, span.endTimeUnixNano)))
                }
            }
        }
        self.init(outlines)
    }

    /// The path through spans given by their outlines (as the store reads them without decoding their bodies).
    /// Spans are taken by start, then span ID (the order the query API lists a trace's spans in, which Jaeger's ties
    /// follow), whatever order they come in.
    public init?(_ spans: [SpanOutline]) {
        let order = spans.indices.sorted { a, b in
            spans[a].startNanos != spans[b].startNanos
                ? spans[a].startNanos < spans[b].startNanos : spans[a].spanID.lexicographicallyPrecedes(spans[b].spanID)
        }
        var nodes: [Node] = []
        nodes.reserveCapacity(spans.count)
        var index = SpanIDIndex(capacity: spans.count)
        for position in order where !spans[position].spanID.isEmpty && index.insertFirst(spans[position].spanID, nodes.count) {
            let span = spans[position]
            nodes.append(Node(start: span.startNanos, end: max(span.startNanos, span.endNanos), input: position))
        }
        func parentID(_ n: Int) -> Data { spans[nodes[n].input].parentSpanID }
        // Roots: no parent; failing that, spans whose parent is not stored. The earliest (then the longest) is the
        // one whose duration the path explains.
        var candidates = nodes.indices.filter { parentID($0).isEmpty }
        if candidates.isEmpty {
            candidates = nodes.indices.filter { index[parentID($0)] == nil || parentID($0) == spans[nodes[$0].input].spanID }
        }
        guard
            let root = candidates.min(by: { a, b in
                nodes[a].start != nodes[b].start ? nodes[a].start < nodes[b].start : nodes[a].end - nodes[a].start > nodes[b].end - nodes[b].start
            })
        else { return nil }

        // Children by parent, in trace order; then fitted into their parents, from the root down.
        var childrenOf = [[Int]](repeating: [], count: nodes.count)
        for i in nodes.indices where i != root {
            let id = parentID(i)
            if !id.isEmpty, let p = index[id], p != i { childrenOf[p].append(i) }
        }
        var children = [[Int]](repeating: [], count: nodes.count)
        var reached = [Bool](repeating: false, count: nodes.count)
        var reachedList = [root]
        reached[root] = true
        var pending = [root]
        while let p = pending.popLast() {
            for c in childrenOf[p] where !reached[c] {
                let parent = nodes[p]
                // Entirely outside the parent (or the parent has no length): it did not hold the parent up.
                guard nodes[c].start < parent.end, nodes[c].end > parent.start else { continue }
                nodes[c].start = max(nodes[c].start, parent.start)
                nodes[c].end = min(nodes[c].end, parent.end)
                nodes[c].parent = p
                children[p].append(c)
                reached[c] = true
                reachedList.append(c)
                pending.append(c)
            }
        }
        // Latest end first; on equal ends the earlier in the trace, as Jaeger's strict comparison picks it.
        let ends = nodes.map(\.end)
        for i in reachedList where children[i].count > 1 {
            children[i].sort { a, b in ends[a] != ends[b] ? ends[a] > ends[b] : a < b }
        }

        // The walk. `spawn` is the start of the child just returned from: the parent owns the time back to the end
        // of its latest child that ended before it. A cursor per span remembers which children are used up
        // (spawn only moves back in time, so they never come back).
        var cursor = [Int](repeating: 0, count: nodes.count)
        var reversed: [Section] = []
        var reversedSpans: [Int] = []
        var current = root
        var spawn: UInt64?
        while true {
            let node = nodes[current]
            let below = children[current]
            var i = cursor[current]
            if let spawn { while i < below.count, nodes[below[i]].end >= spawn { i += 1 } }
            let sectionEnd = spawn ?? node.end
            if i < below.count {
                let next = below[i]
                cursor[current] = i + 1
                let from = nodes[next].end
                if sectionEnd > from {
                    let o = spans[node.input]
                    reversed.append(Section(spanID: o.spanID, service: o.service, operation: o.name, startNanos: from, endNanos: sectionEnd))
                    reversedSpans.append(node.input)
                }
                current = next
                spawn = nil
            } else {
                cursor[current] = i
                if sectionEnd > node.start {
                    let o = spans[node.input]
                    reversed.append(Section(spanID: o.spanID, service: o.service, operation: o.name, startNanos: node.start, endNanos: sectionEnd))
                    reversedSpans.append(node.input)
                }
                guard let parent = node.parent else { break }
                spawn = node.start
                current = parent
            }
        }
        rootSpanID = spans[nodes[root].input].spanID
        startNanos = nodes[root].start
        endNanos = nodes[root].end
        sections = reversed.reversed()
        sectionSpans = reversedSpans.reversed()
    }

    private static func shares(_ sections: [Section], _ key: (Section) -> Share) -> [Share] {
        var order: [Share] = []
        var at: [String: Int] = [:]
        for s in sections {
            var k = key(s)
            let name = k.service + "\u{0}" + (k.operation ?? "")
            if let i = at[name] {
                order[i].nanos += s.nanos
            } else {
                at[name] = order.count
                k.nanos = s.nanos
                order.append(k)
            }
        }
        return order.sorted { a, b in
            a.nanos != b.nanos ? a.nanos > b.nanos : (a.service, a.operation ?? "") < (b.service, b.operation ?? "")
        }
    }
}
