import Foundation
import OTLP
import SQLiteStore

/// What differs between two traces, typically a slow and a normal request to the same endpoint. Shared by
/// `otelsink diff A B` and `GET /api/v3/traces/{a}/diff/{b}`.
///
/// Spans are matched by their place in the tree: the path of (service, operation) steps from a root, where a step's
/// `index` counts the earlier siblings with the same service and operation (in start order). So siblings that run
/// in another order still match, and repeated siblings (three calls to the same operation) match in order, the
/// extra ones being only in one trace. A span that has no match is listed with every span below it. Matched spans
/// are listed when their duration, status or attributes differ, the largest duration change first; each side's
/// time on its trace's critical path is given, so that a change of the path stands out.
public struct TraceDiff: Sendable {
    /// One step of a span's place in the tree.
    public struct Step: Sendable, Equatable {
        public var service: String
        public var operation: String
        /// Earlier siblings with the same service and operation.
        public var index: Int
    }

    /// One side of a listed span.
    public struct Side: Sendable, Equatable {
        public var spanID: Data
        public var durationNanos: UInt64
        /// Time on its trace's critical path (0: not on it).
        public var criticalNanos: UInt64
        public var statusCode: Int
        public var statusMessage: String
    }

    /// An attribute present on one side only, or with another value.
    public struct AttributeChange: Sendable, Equatable {
        public var key: String
        public var a: AnyValue?
        public var b: AnyValue?
    }

    /// A span in both traces that differs.
    public struct Change: Sendable, Equatable {
        /// Its place from the root: at most the ``maxPathSteps`` innermost steps (`depth` counts them all).
        public var path: [Step]
        public var depth: Int
        public var a: Side
        public var b: Side
        public var attributes: [AttributeChange]
        /// B's duration minus A's.
        public var deltaNanos: Int64 { Int64(clamping: b.durationNanos) &- Int64(clamping: a.durationNanos) }
        public var statusChanged: Bool { a.statusCode != b.statusCode || a.statusMessage != b.statusMessage }
    }

    /// A span in one trace only.
    public struct Only: Sendable, Equatable {
        public var path: [Step]
        public var depth: Int
        public var side: Side
    }

    public let traceA: Data
    public let traceB: Data
    public let durationA: UInt64
    public let durationB: UInt64
    /// Matched spans that differ, the largest duration change first.
    public let changed: [Change]
    /// Spans only in A (then only in B), the longest first.
    public let onlyInA: [Only]
    public let onlyInB: [Only]

    /// Whether nothing differs: every span matched, with the same duration, status and attributes.
    public var isEmpty: Bool { changed.isEmpty && onlyInA.isEmpty && onlyInB.isEmpty }

    /// One side of a diff: a trace as a forest over its span summaries — roots (spans without a stored parent) and
    /// children, each list in start order, a repeated span ID after its first left out — with each span's time on
    /// the critical path. Built apart from the diff, so that the two sides can be prepared side by side.
    public struct Tree: Sendable {
        let id: Data
        let spans: [SpanSummary]
        var children: [[Int]]
        var roots: [Int] = []
        var duration: UInt64 = 0
        /// Time on the critical path by span position.
        var critical: [UInt64]

        public init(id: Data, spans: [SpanSummary]) {
            self.id = id
            self.spans = spans
            children = Array(repeating: [], count: spans.count)
            var index = SpanIDIndex(capacity: spans.count)
            var kept: [Int] = []
            kept.reserveCapacity(spans.count)
            var start = UInt64.max
            var end = UInt64(0)
            for (i, span) in spans.enumerated() where index.insertFirst(span.outline.spanID, i) {
                kept.append(i)
                start = min(start, span.outline.startNanos)
                end = max(end, span.outline.endNanos)
            }
            duration = end > start ? end - start : 0
            for i in kept {
                let o = spans[i].outline
                if !o.parentSpanID.isEmpty, o.parentSpanID != o.spanID, let p = index[o.parentSpanID] {
                    children[p].append(i)
                } else {
                    roots.append(i)
                }
            }
            // Siblings by start; on equal starts by span ID, so that the answer does not depend on the order the
            // store returns them in (rows clustered by trace come back in slot order, not arrival order).
            let starts = spans.map(\.outline.startNanos)
            let ids = spans.map(\.outline.spanID)
            let order: (Int, Int) -> Bool = { a, b in
                if starts[a] != starts[b] { return starts[a] < starts[b] }
                if ids[a] != ids[b] { return ids[a].lexicographicallyPrecedes(ids[b]) }
                return a < b
            }
            roots.sort(by: order)
            for i in kept where children[i].count > 1 { children[i].sort(by: order) }
            critical = CriticalPath(spans.map(\.outline))?.nanos(bySpanIndex: spans.count) ?? Array(repeating: 0, count: spans.count)
        }

        func duration(_ i: Int) -> UInt64 {
            spans[i].outline.endNanos > spans[i].outline.startNanos ? spans[i].outline.endNanos - spans[i].outline.startNanos : 0
        }

        func side(_ i: Int) -> Side {
            let s = spans[i]
            return Side(
                spanID: s.outline.spanID, durationNanos: duration(i), criticalNanos: critical[i],
                statusCode: s.statusCode, statusMessage: s.parts.statusMessage)
        }
    }

    /// The innermost steps a listed span's path keeps (a chain thousands deep would otherwise be written out for
    /// every span in it).
    public static let maxPathSteps = 16

    /// The diff of two traces as the store gives them (``TraceQueryService/summaries(id:)``); `traceA` and
    /// `traceB` are their IDs.
    public init(traceA: Data, _ a: [SpanSummary], traceB: Data, _ b: [SpanSummary]) {
        self.init(Tree(id: traceA, spans: a), Tree(id: traceB, spans: b))
    }

    /// The diff of two prepared traces.
    public init(_ ta: Tree, _ tb: Tree) {
        let a = ta.spans
        let b = tb.spans
        // Listed spans by index, with the place entry of each; materialized and ordered at the end.
        var changed: [(a: Int, b: Int, entry: Int, attributes: [AttributeChange])] = []
        var onlyA: [(Int, Int)] = []
        var onlyB: [(Int, Int)] = []
        // Paths as a table of (parent entry, step).
        var places: [(parent: Int, step: Step, depth: Int)] = []
        func place(_ parent: Int, _ step: Step) -> Int {
            places.append((parent, step, parent < 0 ? 1 : places[parent].depth + 1))
            return places.count - 1
        }
        // Each span is taken once per side (spans in a parent cycle are never reached from a root).
        var seenA = [Bool](repeating: false, count: a.count)
        var seenB = [Bool](repeating: false, count: b.count)

        func only(_ tree: Tree, _ i: Int, _ entry: Int, into list: inout [(Int, Int)], seen: inout [Bool]) {
            var pending = [(i, entry)]
            while let (n, e) = pending.popLast() {
                guard !seen[n] else { continue }
                seen[n] = true
                list.append((n, e))
                for (c, step) in Self.steps(tree, tree.children[n]) { pending.append((c, place(e, step))) }
            }
        }

        var pending: [(a: [Int], b: [Int], parent: Int)] = [(ta.roots, tb.roots, -1)]
        while let (listA, listB, parent) = pending.popLast() {
            let stepsB = Self.steps(tb, listB)
            var byStepB: [NameKey: [Int]] = [:]
            for (j, step) in stepsB { byStepB[NameKey(step), default: []].append(j) }  // in occurrence order
            var matchedB = Set<Int>()
            for (i, step) in Self.steps(ta, listA) where !seenA[i] {
                let entry = place(parent, step)
                let candidates = byStepB[NameKey(step)] ?? []
                guard step.index < candidates.count, case let j = candidates[step.index], !seenB[j] else {
                    only(ta, i, entry, into: &onlyA, seen: &seenA)
                    continue
                }
                seenA[i] = true
                seenB[j] = true
                matchedB.insert(j)
                let sa = ta.spans[i]
                let sb = tb.spans[j]
                let attributes = Self.attributeChanges(sa.parts.attributeFields, sb.parts.attributeFields)
                if ta.duration(i) != tb.duration(j) || sa.statusCode != sb.statusCode || sa.parts.statusMessage != sb.parts.statusMessage
                    || !attributes.isEmpty
                {
                    changed.append((i, j, entry, attributes))
                }
                pending.append((ta.children[i], tb.children[j], entry))
            }
            for (j, step) in stepsB where !matchedB.contains(j) && !seenB[j] {
                only(tb, j, place(parent, step), into: &onlyB, seen: &seenB)
            }
        }

        // Ties are broken by path: each place's rank in the order of whole paths compared step by step.
        let rank = Self.ranks(places.map { ($0.parent, $0.step) })
        func path(_ entry: Int) -> (steps: [Step], depth: Int) {
            var steps: [Step] = []
            var e = entry
            while e >= 0, steps.count < Self.maxPathSteps {
                steps.append(places[e].step)
                e = places[e].parent
            }
            return (steps.reversed(), places[entry].depth)
        }
        let changedOrder = changed.indices.sorted { x, y in
            let dx = Int64(clamping: tb.duration(changed[x].b)) &- Int64(clamping: ta.duration(changed[x].a))
            let dy = Int64(clamping: tb.duration(changed[y].b)) &- Int64(clamping: ta.duration(changed[y].a))
            return dx.magnitude != dy.magnitude ? dx.magnitude > dy.magnitude : rank[changed[x].entry] < rank[changed[y].entry]
        }
        self.changed = changedOrder.map { k in
            let c = changed[k]
            let (steps, depth) = path(c.entry)
            return Change(path: steps, depth: depth, a: ta.side(c.a), b: tb.side(c.b), attributes: c.attributes)
        }
        func listed(_ tree: Tree, _ list: [(Int, Int)]) -> [Only] {
            list.sorted { x, y in
                tree.duration(x.0) != tree.duration(y.0) ? tree.duration(x.0) > tree.duration(y.0) : rank[x.1] < rank[y.1]
            }.map { n, e in
                let (steps, depth) = path(e)
                return Only(path: steps, depth: depth, side: tree.side(n))
            }
        }
        onlyInA = listed(ta, onlyA)
        onlyInB = listed(tb, onlyB)
        traceA = ta.id
        traceB = tb.id
        durationA = ta.duration
        durationB = tb.duration
    }

    /// The diff of two decoded traces (as `otelsink diff` reads them from a query API or a database file).
    public init(_ a: ExportTraceRequest, _ b: ExportTraceRequest) {
        func summaries(_ trace: ExportTraceRequest) -> (id: Data, spans: [SpanSummary]) {
            var id = Data()
            var spans: [SpanSummary] = []
            for rs in trace.resourceSpans {
                let service = rs.resource.attributes.stringValue("service.name") ?? "unknown_service"
                for ss in rs.scopeSpans {
                    for span in ss.spans {
                        if id.isEmpty { id = span.traceID }
                        spans.append(SpanSummary(span, service: service))
                    }
                }
            }
            return (id, spans)
        }
        let (idA, spansA) = summaries(a)
        let (idB, spansB) = summaries(b)
        self.init(traceA: idA, spansA, traceB: idB, spansB)
    }

    /// A step's service and operation, as siblings are grouped by.
    private struct NameKey: Hashable {
        var service: String
        var operation: String
        init(_ step: Step) {
            service = step.service
            operation = step.operation
        }
    }

    /// Each span of `list` (in start order) with its step: the occurrence index counts earlier same-named siblings.
    private static func steps(_ tree: Tree, _ list: [Int]) -> [(Int, Step)] {
        if list.count == 1, let i = list.first {
            return [(i, Step(service: tree.spans[i].outline.service, operation: tree.spans[i].outline.name, index: 0))]
        }
        var seen: [NameKey: Int] = [:]
        return list.map { i in
            var step = Step(service: tree.spans[i].outline.service, operation: tree.spans[i].outline.name, index: 0)
            let key = NameKey(step)
            step.index = seen[key, default: 0]
            seen[key] = step.index + 1
            return (i, step)
        }
    }

    /// The rank of each place (a parent entry, or -1, and a step) in the order of whole paths from the root, step by
    /// step (service, operation, index): a parent's path comes before its children's.
    private static func ranks(_ places: [(parent: Int, step: Step)]) -> [Int] {
        var children = [[Int]](repeating: [], count: places.count)
        var roots: [Int] = []
        for (e, p) in places.enumerated() {
            if p.parent >= 0 { children[p.parent].append(e) } else { roots.append(e) }
        }
        let order: (Int, Int) -> Bool = { x, y in
            let s = places[x].step
            let t = places[y].step
            return (s.service, s.operation, s.index) < (t.service, t.operation, t.index)
        }
        var rank = [Int](repeating: 0, count: places.count)
        var next = 0
        var pending = Array(roots.sorted(by: order).reversed())
        while let e = pending.popLast() {
            rank[e] = next
            next += 1
            if !children[e].isEmpty { pending += children[e].sorted(by: order).reversed() }
        }
        return rank
    }

    /// Attributes added, removed or changed from `a` to `b` (each as its encoded attribute fields), in key order
    /// (the first of a repeated key counts). Equal bytes are equal lists; only lists that differ are decoded.
    static func attributeChanges(_ a: Data, _ b: Data) -> [AttributeChange] {
        guard a != b else { return [] }
        guard let left = EncodedSpanParts.keyedValues(a), let right = EncodedSpanParts.keyedValues(b) else {
            return attributeChanges((try? Span(serializedBytes: a))?.attributes ?? [], (try? Span(serializedBytes: b))?.attributes ?? [])
        }
        // Values compared as bytes; only those that differ are decoded, and equal values encoded differently drop out.
        return mergeByKey(left, right, key: \.key, same: { $0.value == $1.value }) { key, x, y in
            let va = x.map { EncodedSpanParts.value($0.value) }
            let vb = y.map { EncodedSpanParts.value($0.value) }
            return va == vb ? nil : AttributeChange(key: key, a: va, b: vb)
        }
    }

    /// Attributes added, removed or changed from `a` to `b`, in key order (the first of a repeated key counts).
    static func attributeChanges(_ a: [KeyValue], _ b: [KeyValue]) -> [AttributeChange] {
        mergeByKey(a, b, key: \.key, same: { $0.value == $1.value }) { key, x, y in AttributeChange(key: key, a: x?.value, b: y?.value) }
    }

    /// Walks two attribute lists in key order (each sorted by key, the first of a repeated key kept; lists are short,
    /// so no hashing) and gives `change` each key whose entries are not `same`, with nil for a side without it.
    private static func mergeByKey<T>(
        _ a: [T], _ b: [T], key: (T) -> String, same: (T, T) -> Bool, _ change: (String, T?, T?) -> AttributeChange?
    ) -> [AttributeChange] {
        func firsts(_ list: [T]) -> [T] {
            // Most lists are short and many already in key order (one attribute, or keys sorted by the sender).
            if list.count < 2 || zip(list, list.dropFirst()).allSatisfy({ key($0) < key($1) }) { return list }
            let sorted = list.indices.sorted { key(list[$0]) != key(list[$1]) ? key(list[$0]) < key(list[$1]) : $0 < $1 }
            var out: [T] = []
            out.reserveCapacity(sorted.count)
            for i in sorted where out.last.map(key) != key(list[i]) { out.append(list[i]) }
            return out
        }
        let left = firsts(a)
        let right = firsts(b)
        var changes: [AttributeChange] = []
        var i = 0
        var j = 0
        while i < left.count || j < right.count {
            let l = i < left.count ? key(left[i]) : nil
            let r = j < right.count ? key(right[j]) : nil
            if let l, let r, l == r {
                if !same(left[i], right[j]), let c = change(l, left[i], right[j]) { changes.append(c) }
                i += 1
                j += 1
            } else if let l, r.map({ l < $0 }) ?? true {
                if let c = change(l, left[i], nil) { changes.append(c) }
                i += 1
            } else if let r {
                if let c = change(r, nil, right[j]) { changes.append(c) }
                j += 1
            } else {
                break
            }
        }
        return changes
    }
}
