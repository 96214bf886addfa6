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
}
