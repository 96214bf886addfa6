import Events
@testable import Rules
import Testing

/// Ids are forgotten by period at sweeps, never by rebuilding the set; what counts as a duplicate depends only on the
/// window, whenever the ids behind it go.
@Suite struct DedupWindowTests {
    static let t = Timestamp(rfc3339: "2026-03-01T00:00:00Z")!

    /// Inserts `id`: true when it is new within the window.
    func new(_ window: inout DedupWindow, _ id: String, time: Timestamp) -> Bool {
        window.insert(id, time: time)
    }

    @Test func aSweepForgetsTheIdsWhollyBehindTheHorizonAndKeepsTheRest() {
        var window = DedupWindow(window: .days(7))
        #expect(new(&window, "a", time: Self.t))
        #expect(new(&window, "b", time: Self.t + .days(3)))
        #expect(!new(&window, "b", time: Self.t + .days(3)), "a duplicate within the window")
        window.evict(before: Self.t + .days(8))
        #expect(window.count == 1, "a went, b stays")
        #expect(!new(&window, "b", time: Self.t + .days(4)))
        #expect(new(&window, "a", time: Self.t + .days(5)), "a is new again once forgotten")
    }

    @Test func anIdSeenAgainAfterTheHorizonOutlivesItsFirstPeriod() {
        var window = DedupWindow(window: .days(7))
        window.evict(before: Self.t + .days(8))  // a first sweep: the next one is 21 h of event time later
        #expect(new(&window, "d", time: Self.t + .hours(36)))
        window.evict(before: Self.t + .days(7) + .hours(38))  // d is behind the horizon, but no sweep yet
        #expect(window.count == 1)
        #expect(new(&window, "d", time: Self.t + .days(4)), "behind the horizon: new")
        window.evict(before: Self.t + .days(10))  // sweeps the period of d's first time
        #expect(window.count == 1, "d's later time keeps it")
        #expect(!new(&window, "d", time: Self.t + .days(4)))
    }

    @Test func restoredIdsAreSweptLikeInsertedOnes() {
        var window = DedupWindow(window: .days(7))
        window.restore("old", time: Self.t)
        window.restore("recent", time: Self.t + .days(6))
        #expect(!new(&window, "old", time: Self.t))
        window.evict(before: Self.t + .days(9))
        #expect(window.count == 1)
        #expect(!new(&window, "recent", time: Self.t + .days(6)))
    }

    /// Stores `changes` into `rows` (keyed by namespace and key) as a store would.
    func apply(_ changes: [StateChange], to rows: inout [String: StateChange]) {
        for c in changes {
            if c.value == nil { rows.removeValue(forKey: c.namespace + "/" + c.key) } else { rows[c.namespace + "/" + c.key] = c }
        }
    }

    func restored(_ rows: [String: StateChange], watermark: Timestamp) throws -> DedupWindow {
        var window = DedupWindow(window: .days(7))
        let logs = rows.values.filter { $0.namespace == DedupWindow.logNamespace }.map { (key: $0.key, value: $0.value!) }
        let legacy = rows.values.filter { $0.namespace == DedupWindow.legacyNamespace }
            .map { (id: $0.key, time: Timestamp(microseconds: Int64(String(decoding: $0.value!, as: UTF8.self))!)) }
        try window.restore(logs: logs, legacy: legacy, watermark: watermark)
        window.tracksChanges = true
        return window
    }

    @Test func theIdsABatchInsertedAreOneRowAndARestoredWindowFindsTheSameDuplicates() throws {
        var window = DedupWindow(window: .days(7))
        window.tracksChanges = true
        for i in 0..<Int64(100) { #expect(new(&window, "id-\(i)", time: Self.t + .minutes(i))) }
        var rows: [String: StateChange] = [:]
        let changes = window.takeChanges()
        #expect(changes.count == 1)
        #expect(changes.first?.namespace == DedupWindow.logNamespace)
        apply(changes, to: &rows)
        #expect(window.takeChanges().isEmpty, "nothing new, nothing written")

        var again = try restored(rows, watermark: Self.t + .hours(2))
        #expect(again.count == 100)
        #expect(!new(&again, "id-42", time: Self.t + .minutes(42)), "a duplicate across the restart")
        #expect(new(&again, "id-100", time: Self.t + .hours(2)))
        apply(again.takeChanges(), to: &rows)
        #expect(rows.count == 2, "a second log for the second batch")
        let third = try restored(rows, watermark: Self.t + .hours(2))
        #expect(third.count == 101)
    }

    @Test func aLogWhollyBehindTheHorizonIsDeletedAndAnIdInsertedAgainKeepsItsLaterTime() throws {
        var window = DedupWindow(window: .days(7))
        window.tracksChanges = true
        var rows: [String: StateChange] = [:]
        #expect(new(&window, "a", time: Self.t))
        #expect(new(&window, "b", time: Self.t + .days(1)))
        apply(window.takeChanges(), to: &rows)  // log 1: a, b
        window.evict(before: Self.t + .days(7) + .hours(12))  // a is behind the horizon, b is not
        #expect(new(&window, "a", time: Self.t + .days(7)), "a is new again")
        apply(window.takeChanges(), to: &rows)  // log 2: a again
        #expect(rows.count == 2, "log 1 still holds b")

        let restarted = try restored(rows, watermark: Self.t + .days(7) + .hours(12))
        var copy = restarted
        #expect(!new(&copy, "a", time: Self.t + .days(7)), "the later time of a, from the later log")
        #expect(!new(&copy, "b", time: Self.t + .days(1)))

        window.evict(before: Self.t + .days(9))  // b goes behind the horizon: log 1 holds nothing live
        let changes = window.takeChanges()
        #expect(changes.map(\.key) == ["1"] && changes.allSatisfy { $0.value == nil })
        apply(changes, to: &rows)
        #expect(rows.keys.sorted() == [DedupWindow.logNamespace + "/2"])
    }

    @Test func rowsOfOneIdEachFromAnEarlierVersionAreReadThenReplacedByALog() throws {
        var rows: [String: StateChange] = [:]
        for (id, days) in [("old", 0), ("recent", 6)] as [(String, Int64)] {
            let us = (Self.t + .days(days)).microseconds
            rows[DedupWindow.legacyNamespace + "/" + id] = StateChange(namespace: DedupWindow.legacyNamespace, key: id,
                                                                        value: Array(String(us).utf8))
        }
        var window = try restored(rows, watermark: Self.t + .days(8))
        #expect(!new(&window, "recent", time: Self.t + .days(6)))
        #expect(new(&window, "old", time: Self.t + .days(8)), "behind the horizon when restored")
        apply(window.takeChanges(), to: &rows)
        #expect(rows.keys.sorted() == [DedupWindow.logNamespace + "/1"], "the old rows are gone")
        var again = try restored(rows, watermark: Self.t + .days(8))
        #expect(!new(&again, "recent", time: Self.t + .days(6)))
        #expect(!new(&again, "old", time: Self.t + .days(8)))
    }

    @Test(arguments: [[], [2], [1, 5, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 65]] as [[UInt8]])
    func anUnreadableLogIsAnError(_ bytes: [UInt8]) {
        var window = DedupWindow(window: .days(7))
        var failed = false
        do {
            try window.restore(logs: [(key: "1", value: bytes)], legacy: [], watermark: Self.t)
        } catch {
            failed = true
        }
        #expect(failed)
    }
}
