/// A binary heap: elements come out first by `precedes`. For merging sorted sources a few at a time.
struct OrderedHeap<Element> {
    private var items: [Element] = []
    private let precedes: (Element, Element) -> Bool

    /// `precedes(a, b)`: whether `a` comes out before `b`.
    init(precedes: @escaping (Element, Element) -> Bool) { self.precedes = precedes }

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    /// The element that comes out next.
    var first: Element? { items.first }

    mutating func insert(_ element: Element) {
        items.append(element)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard precedes(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    /// Removes and returns the element that comes out next.
    mutating func removeFirst() -> Element? {
        guard !items.isEmpty else { return nil }
        let last = items.removeLast()
        guard !items.isEmpty else { return last }
        let top = items[0]
        items[0] = last
        siftDown()
        return top
    }

    /// Replaces the element that comes out next (cheaper than removing it and inserting another).
    mutating func replaceFirst(with element: Element) {
        guard !items.isEmpty else { return insert(element) }
        items[0] = element
        siftDown()
    }

    private mutating func siftDown() {
        var i = 0
        while true {
            let left = 2 * i + 1
            let right = left + 1
            var first = i
            if left < items.count, precedes(items[left], items[first]) { first = left }
            if right < items.count, precedes(items[right], items[first]) { first = right }
            if first == i { return }
            items.swapAt(i, first)
            i = first
        }
    }
}
