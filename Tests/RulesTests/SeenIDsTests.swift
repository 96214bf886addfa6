import Events
@testable import Rules
import Testing

/// The dedup window's table against a dictionary doing the same, through inserts, sweeps and growth of a table small
/// enough that most ids share their first slot with others (so that removals move entries back).
@Suite struct SeenIDsTests {
    @Test func agreesWithADictionaryThroughInsertsRemovalsAndGrowth() {
        let table = SeenIDs(capacity: 16)
        var model: [String: Int64] = [:]
        var rng = SplitMix64(seed: 7)
        var horizon: Int64 = 0
        for step in 0..<20_000 {
            let id = "evt-\(rng.next() % 300)"
            let time = Int64(step) + Int64(rng.next() % 50)
            let isNew = table.insert(id, hash: SeenIDs.hash(id), time: Timestamp(microseconds: time),
                                     horizon: Timestamp(microseconds: horizon))
            let expected = model[id].map { $0 < horizon } ?? true
            #expect(isNew == expected, "\(id) at step \(step)")
            if expected { model[id] = time }
            if step % 97 == 0 {
                horizon = Int64(step) - 200
                for candidate in model.keys.shuffled(using: &rng).prefix(40) {
                    table.removeStale(hash: SeenIDs.hash(candidate), before: Timestamp(microseconds: horizon))
                    if model[candidate]! < horizon { model[candidate] = nil }
                }
                #expect(table.count == model.count)
                for (id, time) in model { #expect(table.time(of: id) == Timestamp(microseconds: time)) }
            }
        }
        #expect(model.count > 100, "the table grew past its first capacity")
    }

    @Test func setReplacesATimeAndRemovalKeepsIdsAtOrAfterTheHorizon() {
        let table = SeenIDs()
        table.set("a", time: Timestamp(microseconds: 5))
        table.set("a", time: Timestamp(microseconds: 9))
        #expect(table.count == 1)
        table.removeStale(hash: SeenIDs.hash("a"), before: Timestamp(microseconds: 9))
        #expect(table.time(of: "a") == Timestamp(microseconds: 9))
        table.removeStale(hash: SeenIDs.hash("a"), before: Timestamp(microseconds: 10))
        #expect(table.time(of: "a") == nil)
        #expect(table.count == 0)
    }

    @Test func idsEqualAsStringsButSpelledWithOtherBytesAreOneId() {
        let table = SeenIDs()
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        #expect(table.insert(composed, hash: SeenIDs.hash(composed), time: Timestamp(microseconds: 1), horizon: .distantPast))
        #expect(!table.insert(decomposed, hash: SeenIDs.hash(decomposed), time: Timestamp(microseconds: 2), horizon: .distantPast))
    }
}
