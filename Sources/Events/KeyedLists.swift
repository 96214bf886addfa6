/// A short list of elements for each of many keys (a customer's consent decisions, …), kept as linked nodes in shared
/// chunks instead of an array per key: a million customers' lists are not a million allocations, each with its
/// header and spare capacity. Lists are read front to back; a node freed by a removal is reused by the next insertion.
public struct KeyedLists<Key: Hashable, Element> {
    struct Node {
        var element: Element
        /// The next node of the list, or of the free list; -1 at the end.
        var next: Int32
    }

    private static var chunkShift: Int { 12 }
    private static var chunkSize: Int { 1 << chunkShift }

    private var heads: [Key: Int32] = [:]
    /// Nodes in chunks of `chunkSize`, each after the first allocated at its full size: growing copies no more than
    /// the first chunk's nodes.
    private var chunks: [ContiguousArray<Node>] = []
    private var freeHead: Int32 = -1

    public init() {}

    /// Keys with a list (a list is never empty).
    public var count: Int { heads.count }
    public var keys: Dictionary<Key, Int32>.Keys { heads.keys }

    public func contains(_ key: Key) -> Bool { heads[key] != nil }

    /// The key's list, front to back (empty for a key without one).
    public subscript(key: Key) -> List { List(chunks: chunks, at: heads[key] ?? -1) }

    public struct List: Sequence, IteratorProtocol {
        fileprivate let chunks: [ContiguousArray<Node>]
        fileprivate var at: Int32

        public var isEmpty: Bool { at < 0 }

        public mutating func next() -> Element? {
            guard at >= 0 else { return nil }
            let node = chunks[Int(at) >> KeyedLists.chunkShift][Int(at) & (KeyedLists.chunkSize - 1)]
            at = node.next
            return node.element
        }
    }

    /// Appends `element` to the key's list.
    public mutating func append(_ element: Element, for key: Key) {
        insert(element, for: key, beforeFirst: { _ in false })
    }

    /// Inserts `element` before the first element of the key's list for which `precedes` is true (last when there
    /// is none), reading no further: in a sorted list, where an element belongs.
    public mutating func insert(_ element: Element, for key: Key, beforeFirst precedes: (Element) -> Bool) {
        var previous: Int32 = -1
        var at = heads[key] ?? -1
        while at >= 0 {
            let node = self.node(at)
            if precedes(node.element) { break }
            previous = at
            at = node.next
        }
        let added = allocate(element, next: at)
        if previous >= 0 { setNext(of: previous, to: added) } else { heads[key] = added }
    }

    /// Edits each element of the key's list in place, front to back; whether `edit` said it changed any.
    @discardableResult
    public mutating func update(for key: Key, _ edit: (inout Element) -> Bool) -> Bool {
        var at = heads[key] ?? -1
        var edited = false
        while at >= 0 {
            let c = Int(at) >> Self.chunkShift, o = Int(at) & (Self.chunkSize - 1)
            if edit(&chunks[c][o].element) { edited = true }
            at = chunks[c][o].next
        }
        return edited
    }

    /// Every element of every list (the lists in no particular order).
    public func forEach(_ body: (Element) -> Void) {
        for head in heads.values {
            var at = head
            while at >= 0 {
                let node = self.node(at)
                body(node.element)
                at = node.next
            }
        }
    }

    /// Removes the elements of the key's list that `matches` says to; whether any was.
    @discardableResult
    public mutating func removeAll(for key: Key, where matches: (Element) -> Bool) -> Bool {
        guard let head = heads[key] else { return false }
        var removed = false
        var previous: Int32 = -1
        var at = head
        var first = head
        while at >= 0 {
            let node = self.node(at)
            if matches(node.element) {
                removed = true
                if previous >= 0 { setNext(of: previous, to: node.next) } else { first = node.next }
                release(at)
            } else {
                previous = at
            }
            at = node.next
        }
        if first < 0 { heads.removeValue(forKey: key) } else if first != head { heads[key] = first }
        return removed
    }

    /// Removes, from every list, each element that the element after it supersedes (a list's last element stays),
    /// and calls `changed` with each key whose list lost one.
    public mutating func removeSuperseded(by supersedes: (_ next: Element, _ element: Element) -> Bool, changed: (Key) -> Void) {
        var i = heads.startIndex
        while i != heads.endIndex {
            var head = heads.values[i]
            var previous: Int32 = -1
            var at = head
            var removed = false
            while at >= 0 {
                let node = self.node(at)
                if node.next >= 0, supersedes(self.node(node.next).element, node.element) {
                    if previous >= 0 { setNext(of: previous, to: node.next) } else { head = node.next }
                    release(at)
                    removed = true
                } else {
                    previous = at
                }
                at = node.next
            }
            if removed {
                heads.values[i] = head
                changed(heads.keys[i])
            }
            heads.formIndex(after: &i)
        }
    }

    /// Replaces the key's list (an empty sequence removes it).
    public mutating func set(_ key: Key, _ elements: some Sequence<Element>) {
        removeValue(forKey: key)
        var last: Int32 = -1
        for element in elements {
            let added = allocate(element, next: -1)
            if last >= 0 { setNext(of: last, to: added) } else { heads[key] = added }
            last = added
        }
    }

    public mutating func removeValue(forKey key: Key) {
        guard var at = heads.removeValue(forKey: key) else { return }
        while at >= 0 {
            let next = node(at).next
            release(at)
            at = next
        }
    }

    private func node(_ i: Int32) -> Node { chunks[Int(i) >> Self.chunkShift][Int(i) & (Self.chunkSize - 1)] }

    private mutating func setNext(of i: Int32, to next: Int32) {
        chunks[Int(i) >> Self.chunkShift][Int(i) & (Self.chunkSize - 1)].next = next
    }

    private mutating func allocate(_ element: Element, next: Int32) -> Int32 {
        if freeHead >= 0 {
            let i = freeHead
            let c = Int(i) >> Self.chunkShift, o = Int(i) & (Self.chunkSize - 1)
            freeHead = chunks[c][o].next
            chunks[c][o] = Node(element: element, next: next)
            return i
        }
        if chunks.isEmpty {
            // The first chunk grows as an array does: many small lists' keys (a daemon's partition, a test's handful
            // of customers) need far fewer nodes than a chunk.
            chunks.append([])
        } else if chunks[chunks.count - 1].count == Self.chunkSize {
            var chunk = ContiguousArray<Node>()
            chunk.reserveCapacity(Self.chunkSize)
            chunks.append(chunk)
        }
        let c = chunks.count - 1
        let i = Int32(c << Self.chunkShift | chunks[c].count)
        chunks[c].append(Node(element: element, next: next))
        return i
    }

    /// Puts a node on the free list; its element stays until the node is reused.
    private mutating func release(_ i: Int32) { setNext(of: i, to: freeHead); freeHead = i }
}

extension KeyedLists: Sendable where Key: Sendable, Element: Sendable {}
extension KeyedLists.Node: Sendable where Key: Sendable, Element: Sendable {}
extension KeyedLists.List: Sendable where Key: Sendable, Element: Sendable {}
