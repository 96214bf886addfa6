import Testing
@testable import Events

@Suite struct KeyedListsTests {
    /// The same operations on arrays in a dictionary, the representation the lists replace.
    struct Model {
        var lists: [String: [Int]] = [:]

        mutating func insert(_ e: Int, for key: String, after follows: (Int) -> Bool) {
            var list = lists[key] ?? []
            let i = list.lastIndex(where: follows).map { $0 + 1 } ?? 0
            list.insert(e, at: i)
            lists[key] = list
        }

        mutating func removeAll(for key: String, where matches: (Int) -> Bool) {
            guard var list = lists[key] else { return }
            list.removeAll(where: matches)
            lists[key] = list.isEmpty ? nil : list
        }
    }

    private func contents(_ lists: KeyedLists<String, Int>) -> [String: [Int]] {
        Dictionary(uniqueKeysWithValues: lists.keys.map { ($0, Array(lists[$0])) })
    }

    @Test func insertionsAndRemovalsMatchArrays() {
        var lists = KeyedLists<String, Int>()
        var model = Model()
        var seed: UInt64 = 7
        func next(_ n: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(n))
        }
        for step in 0..<20_000 {
            let key = "k\(next(50))"
            let value = next(100)
            switch next(10) {
            case 0..<6:
                lists.insert(value, for: key, beforeFirst: { $0 > value })
                model.insert(value, for: key) { $0 <= value }
            case 6..<8:
                lists.removeAll(for: key) { $0 % 3 == step % 3 }
                model.removeAll(for: key) { $0 % 3 == step % 3 }
            case 8:
                let replacement = (0..<next(4)).map { $0 * value }
                lists.set(key, replacement)
                model.lists[key] = replacement.isEmpty ? nil : replacement
            default:
                lists.removeValue(forKey: key)
                model.lists[key] = nil
            }
        }
        #expect(contents(lists) == model.lists)
        #expect(lists.count == model.lists.count)
        #expect(lists["absent"].isEmpty)
        #expect(!lists.contains("absent"))
    }

    @Test func aSortedInsertionStopsWhereTheElementBelongs() {
        var lists = KeyedLists<String, Int>()
        var model: [Int] = []
        var seed: UInt64 = 3
        for _ in 0..<500 {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            let value = Int((seed >> 33) % 40)
            var visited = 0
            lists.insert(value, for: "a", beforeFirst: { e in
                visited += 1
                return e > value
            })
            let i = model.lastIndex { $0 <= value }.map { $0 + 1 } ?? 0
            model.insert(value, at: i)
            #expect(visited <= i + 1, "reads no further than where it belongs")
        }
        #expect(Array(lists["a"]) == model)
    }

    @Test func anInsertionGoesFirstWhenItPrecedesAllAndAnAppendLast() {
        var lists = KeyedLists<String, Int>()
        lists.insert(5, for: "a", beforeFirst: { _ in true })
        lists.insert(3, for: "a", beforeFirst: { _ in true })
        lists.append(9, for: "a")
        lists.append(1, for: "b")
        #expect(Array(lists["a"]) == [3, 5, 9])
        #expect(Array(lists["b"]) == [1])
    }

    @Test func supersededElementsGoAndEachChangedKeyIsNamedOnce() {
        var lists = KeyedLists<String, Int>()
        lists.set("a", [1, 1, 2, 2, 2, 3])
        lists.set("b", [4, 5])
        lists.set("c", [6, 6])
        var changed: [String] = []
        // An element goes when the next one is equal: each run keeps its last.
        lists.removeSuperseded(by: { next, e in next == e }) { changed.append($0) }
        #expect(Array(lists["a"]) == [1, 2, 3])
        #expect(Array(lists["b"]) == [4, 5])
        #expect(Array(lists["c"]) == [6])
        #expect(changed.sorted() == ["a", "c"])
    }

    @Test func elementsAreEditedInPlaceAndVisitedOnce() {
        var lists = KeyedLists<String, Int>()
        lists.set("a", [1, 2, 3, 4])
        lists.set("b", [5])
        #expect(lists.update(for: "a") { e in
            guard e % 2 == 0 else { return false }
            e *= 10
            return true
        })
        #expect(!lists.update(for: "b") { _ in false })
        #expect(!lists.update(for: "absent") { _ in true })
        #expect(Array(lists["a"]) == [1, 20, 3, 40])
        var seen: [Int] = []
        lists.forEach { seen.append($0) }
        #expect(seen.sorted() == [1, 3, 5, 20, 40])
    }

    @Test func freedNodesAreReusedAndCopiesStayApart() {
        var lists = KeyedLists<String, Int>()
        for i in 0..<10_000 { lists.append(i, for: "k\(i % 100)") }
        let copy = lists
        for i in 0..<100 { lists.removeValue(forKey: "k\(i)") }
        for i in 0..<10_000 { lists.append(-i, for: "n\(i % 10)") }
        #expect(lists.count == 10)
        #expect(Array(lists["n3"]).count == 1_000)
        #expect(copy.count == 100)
        #expect(Array(copy["k42"]) == Array(stride(from: 42, to: 10_000, by: 100)))
    }
}
