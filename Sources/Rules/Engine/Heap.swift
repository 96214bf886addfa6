/// What a `Heap` orders by: a static test, so that the heap's loops are specialized and the test inlined.
protocol HeapOrdered {
    static func precedes(_ a: Self, _ b: Self) -> Bool
}

/// A binary min-heap.
struct Heap<Element: HeapOrdered> {
    private(set) var items: [Element] = []

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }
    var min: Element? { items.first }
    var capacity: Int { items.capacity }

    /// Gives back the array's spare capacity.
    mutating func shrinkToFit() {
        var fitted: [Element] = []
        fitted.reserveCapacity(items.count)
        fitted.append(contentsOf: items)
        items = fitted
    }

    mutating func insert(_ e: Element) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard Element.precedes(items[i], items[p]) else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    /// Removes the elements `shouldBeRemoved` accepts; the rest are in heap order again (Floyd's bottom-up build).
    mutating func removeAll(where shouldBeRemoved: (Element) -> Bool) {
        items.removeAll(where: shouldBeRemoved)
        var i = items.count / 2
        while i > 0 {
            i -= 1
            siftDown(i)
        }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        let n = items.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n, Element.precedes(items[l], items[m]) { m = l }
            if r < n, Element.precedes(items[r], items[m]) { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
    }

    @discardableResult
    mutating func popMin() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        siftDown(0)
        return top
    }
}
