import Rules
import Testing

/// What a durable store is told about keyed state: each key changed since the last call, once, with its value or
/// nil when removed, and nothing for a key created and removed in between (the store never had it).
@Suite struct KeyedStateTests {
    /// The changes as text: the value, or `removed`.
    static func changes(_ state: KeyedState<String, Int>) -> [String: String] {
        Dictionary(uniqueKeysWithValues: state.takeChanges().map { ($0.0, $0.1.map(String.init) ?? "removed") })
    }

    @Test func aKeyCreatedAndRemovedBetweenTwoCallsIsNoChange() {
        let state = KeyedState<String, Int>()
        state.restore("kept", 1)
        state.restore("gone", 2)
        state.tracksChanges = true
        state["new"] = 3
        state["new"] = nil
        _ = state.insert("brief", 4, replacing: { _ in false })
        state.removeAll { $0 == 4 }
        state["kept"] = 10
        state.removeValue(forKey: "gone")
        state["added"] = 5
        #expect(Self.changes(state) == ["kept": "10", "gone": "removed", "added": "5"])
        #expect(state.takeChanges().isEmpty)
        // Written by the last call, so now in the store: removing it is a change.
        state["added"] = nil
        #expect(Self.changes(state) == ["added": "removed"])
    }

    @Test func insertReplacesOnlyWhatItIsAllowedTo() {
        let state = KeyedState<String, Int>()
        state.tracksChanges = true
        #expect(state.insert("id", 1, replacing: { $0 < 0 }))
        #expect(!state.insert("id", 2, replacing: { $0 < 0 }), "a value that may not go stays")
        #expect(state["id"] == 1)
        #expect(state.insert("id", 3, replacing: { $0 < 2 }))
        #expect(state["id"] == 3)
        #expect(Self.changes(state) == ["id": "3"])
    }

    @Test func untrackedStateReportsNothing() {
        let state = KeyedState<String, Int>()
        state["a"] = 1
        state.removeAll { _ in true }
        #expect(state.takeChanges().isEmpty && state.count == 0)
    }
}
