import Foundation
import OTLP

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

    private struct Node {
        var span: Span
        var service: String
        var children: [Int] = []
        var duration: UInt64 { span.endTimeUnixNano > span.startTimeUnixNano ? span.endTimeUnixNano - span.startTimeUnixNano : 0 }
    }

    /// A trace as a forest: nodes, roots (spans without a stored parent) and children, each list in start order.
    private struct Tree {
        var nodes: [Node] = []
        var roots: [Int] = []
        var traceID = Data()
        var duration: UInt64 = 0
        var critical: [Data: UInt64] = [:]

        init(_ trace: ExportTraceRequest) {
            var index: [Data: Int] = [:]
            var start = UInt64.max, end = UInt64(0)
            for rs in trace.resourceSpans {
                let service = rs.resource.attributes.stringValue("service.name") ?? "unknown_service"
                for ss in rs.scopeSpans {
                    for span in ss.spans where index[span.spanID] == nil {
                        if traceID.isEmpty { traceID = span.traceID }
                        index[span.spanID] = nodes.count
                        nodes.append(Node(span: span, service: service))
                        start = min(start, span.startTimeUnixNano)
                        end = max(end, span.endTimeUnixNano)
                    }
                }
            }
            duration = end > start ? end - start : 0
            for i in nodes.indices {
                let parent = nodes[i].span.parentSpanID
                if !parent.isEmpty, parent != nodes[i].span.spanID, let p = index[parent] {
                    nodes[p].children.append(i)
                } else {
                    roots.append(i)
                }
            }
            let order: (Int, Int) -> Bool = { [nodes] a, b in
                nodes[a].span.startTimeUnixNano != nodes[b].span.startTimeUnixNano
                    ? nodes[a].span.startTimeUnixNano < nodes[b].span.startTimeUnixNano : a < b
            }
            roots.sort(by: order)
            for i in nodes.indices where nodes[i].children.count > 1 { nodes[i].children.sort(by: order) }
            critical = CriticalPath(trace)?.bySpan ?? [:]
        }

        func side(_ i: Int) -> Side {
            let s = nodes[i].span
            return Side(spanID: s.spanID, durationNanos: nodes[i].duration, criticalNanos: critical[s.spanID] ?? 0,
                        statusCode: s.status.code.rawValue, statusMessage: s.status.message)
        }
    }

    /// The innermost steps a listed span's path keeps (a chain thousands deep would otherwise be written out for
    /// every span in it).
    public static let maxPathSteps = 16

    public init(_ a: ExportTraceRequest, _ b: ExportTraceRequest) {
        let ta = Tree(a), tb = Tree(b)
        var changed: [Change] = []
        var onlyA: [Only] = [], onlyB: [Only] = []
        // Paths as a table of (parent entry, step), materialized only for what is listed.
        var places: [(parent: Int, step: Step, depth: Int)] = []
        func place(_ parent: Int, _ step: Step) -> Int {
            places.append((parent, step, parent < 0 ? 1 : places[parent].depth + 1))
            return places.count - 1
        }
        func path(_ entry: Int) -> (steps: [Step], depth: Int) {
            var steps: [Step] = []
            var e = entry
            while e >= 0, steps.count < Self.maxPathSteps {
                steps.append(places[e].step)
                e = places[e].parent
            }
            return (steps.reversed(), places[entry].depth)
        }
        // Each span is taken once per side (spans in a parent cycle are never reached from a root).
        var seenA = Set<Int>(), seenB = Set<Int>()

        func only(_ tree: Tree, _ i: Int, _ entry: Int, into list: inout [Only], seen: inout Set<Int>) {
            var pending = [(i, entry)]
            while let (n, e) = pending.popLast() {
                guard seen.insert(n).inserted else { continue }
                let (steps, depth) = path(e)
                list.append(Only(path: steps, depth: depth, side: tree.side(n)))
                for (c, step) in Self.steps(tree, tree.nodes[n].children) { pending.append((c, place(e, step))) }
            }
        }

        var pending: [(a: [Int], b: [Int], parent: Int)] = [(ta.roots, tb.roots, -1)]
        while let (listA, listB, parent) = pending.popLast() {
            var byStepB: [String: [Int]] = [:]
            let stepsB = Self.steps(tb, listB)
            for (j, step) in stepsB { byStepB[Self.key(step), default: []].append(j) }  // in occurrence order
            var matchedB = Set<Int>()
            for (i, step) in Self.steps(ta, listA) where !seenA.contains(i) {
                let entry = place(parent, step)
                let candidates = byStepB[Self.key(step)] ?? []
                guard step.index < candidates.count, case let j = candidates[step.index], !seenB.contains(j) else {
                    only(ta, i, entry, into: &onlyA, seen: &seenA)
                    continue
                }
                seenA.insert(i)
                seenB.insert(j)
                matchedB.insert(j)
                let (steps, depth) = path(entry)
                let change = Change(path: steps, depth: depth, a: ta.side(i), b: tb.side(j),
                                    attributes: Self.attributeChanges(ta.nodes[i].span.attributes, tb.nodes[j].span.attributes))
                if change.deltaNanos != 0 || change.statusChanged || !change.attributes.isEmpty { changed.append(change) }
                pending.append((ta.nodes[i].children, tb.nodes[j].children, entry))
            }
            for (j, step) in stepsB where !matchedB.contains(j) && !seenB.contains(j) {
                only(tb, j, place(parent, step), into: &onlyB, seen: &seenB)
            }
        }
        traceA = ta.traceID
        traceB = tb.traceID
        durationA = ta.duration
        durationB = tb.duration
        self.changed = changed.sorted { x, y in
            x.deltaNanos.magnitude != y.deltaNanos.magnitude ? x.deltaNanos.magnitude > y.deltaNanos.magnitude : Self.precedes(x.path, y.path)
        }
        let longest: (Only, Only) -> Bool = { x, y in
            x.side.durationNanos != y.side.durationNanos ? x.side.durationNanos > y.side.durationNanos : Self.precedes(x.path, y.path)
        }
        onlyInA = onlyA.sorted(by: longest)
        onlyInB = onlyB.sorted(by: longest)
    }

    /// Each span of `list` (in start order) with its step: the occurrence index counts earlier same-named siblings.
    private static func steps(_ tree: Tree, _ list: [Int]) -> [(Int, Step)] {
        var seen: [String: Int] = [:]
        return list.map { i in
            let n = tree.nodes[i]
            let k = n.service + "\u{0}" + n.span.name
            let index = seen[k, default: 0]
            seen[k] = index + 1
            return (i, Step(service: n.service, operation: n.span.name, index: index))
        }
    }

    private static func key(_ step: Step) -> String { step.service + "\u{0}" + step.operation }

    private static func precedes(_ x: [Step], _ y: [Step]) -> Bool {
        for (s, t) in zip(x, y) where s != t {
            return (s.service, s.operation, s.index) < (t.service, t.operation, t.index)
        }
        return x.count < y.count
    }

    /// Attributes added, removed or changed from `a` to `b`, in key order (the first of a repeated key counts).
    static func attributeChanges(_ a: [KeyValue], _ b: [KeyValue]) -> [AttributeChange] {
        var left: [String: AnyValue] = [:], right: [String: AnyValue] = [:]
        for kv in a where left[kv.key] == nil { left[kv.key] = kv.value }
        for kv in b where right[kv.key] == nil { right[kv.key] = kv.value }
        return Set(left.keys).union(right.keys).sorted().compactMap { key in
            left[key] == right[key] ? nil : AttributeChange(key: key, a: left[key], b: right[key])
        }
    }
}
