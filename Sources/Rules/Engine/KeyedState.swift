/// The state of one rule, keyed (by subject, by group, …). The engine's only view of state, so that a durable
/// store can load keys before a batch and persist the changed ones after it.
public final class KeyedState<Key: Hashable & Sendable, Value> {
    private var values: [Key: Value] = [:]
    /// Keys changed since the last `takeChanges()`, when tracking is on, with whether each held a value before its
    /// first change (as the store does): a key created and removed between two calls is no change at all.
    private var changed: [Key: Bool] = [:]
    public var tracksChanges = false

    public init() {}

    public subscript(key: Key) -> Value? {
        get { values[key] }
        set {
            if tracksChanges { noteChange(key) }
            values[key] = newValue
        }
    }

    /// Edits a value in place, creating it with `make` when absent.
    public func update<R>(_ key: Key, default make: @autoclosure () -> Value, _ body: (inout Value) -> R) -> R {
        if tracksChanges { noteChange(key) }
        return body(&values[key, default: make()])
    }

    /// Stores `value` when the key holds none, or holds one that `replaces` says may go (one hash look-up); false
    /// when the key keeps its value.
    public func insert(_ key: Key, _ value: Value, replacing replaces: (Value) -> Bool) -> Bool {
        var created = false, replaced = false
        Self.edit(&values[key, default: { created = true; return value }()]) { old in
            if !created, replaces(old) {
                old = value
                replaced = true
            }
        }
        if tracksChanges, created || replaced, changed[key] == nil { changed[key] = replaced }
        return created || replaced
    }

    @inline(__always) private static func edit(_ value: inout Value, _ body: (inout Value) -> Void) { body(&value) }

    /// Removes every value `matches` says to.
    public func removeAll(where matches: (Value) -> Bool) {
        if tracksChanges {
            for (key, value) in values where matches(value) && changed[key] == nil { changed[key] = true }
        }
        values = values.filter { !matches($0.value) }
    }

    /// Removes the key's value when `matches` says to, with one hash look-up.
    public func removeValue(forKey key: Key, if matches: (Value) -> Bool) {
        guard let i = values.index(forKey: key), matches(values[i].value) else { return }
        values.remove(at: i)
        if tracksChanges, changed[key] == nil { changed[key] = true }
    }

    public func removeValue(forKey key: Key) {
        if values.removeValue(forKey: key) != nil, tracksChanges, changed[key] == nil { changed[key] = true }
    }

    public var count: Int { values.count }
    public var keys: Dictionary<Key, Value>.Keys { values.keys }

    private func noteChange(_ key: Key) {
        if changed[key] == nil { changed[key] = values[key] != nil }
    }

    /// The keys changed since the last call, with their values (nil = removed); a key that was created and removed
    /// since then is left out.
    public func takeChanges() -> [(Key, Value?)] {
        defer { changed.removeAll(keepingCapacity: true) }
        var out: [(Key, Value?)] = []
        out.reserveCapacity(changed.count)
        for (key, existed) in changed {
            let value = values[key]
            if value != nil || existed { out.append((key, value)) }
        }
        return out
    }

    /// Puts values loaded from a store, without marking them changed.
    public func restore(_ key: Key, _ value: Value) { values[key] = value }
}
