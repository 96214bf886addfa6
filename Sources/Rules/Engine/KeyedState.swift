/// The state of one rule, keyed (by subject, by group, …). The engine's only view of state, so that a durable
/// store can load keys before a batch and persist the changed ones after it.
public final class KeyedState<Key: Hashable & Sendable, Value> {
    private var values: [Key: Value] = [:]
    /// Keys changed since the last `takeChanges()`, when tracking is on.
    private var changed: Set<Key> = []
    public var tracksChanges = false

    public init() {}

    public subscript(key: Key) -> Value? {
        get { values[key] }
        set {
            values[key] = newValue
            if tracksChanges { changed.insert(key) }
        }
    }

    /// Edits a value in place, creating it with `make` when absent.
    public func update<R>(_ key: Key, default make: @autoclosure () -> Value, _ body: (inout Value) -> R) -> R {
        if tracksChanges { changed.insert(key) }
        return body(&values[key, default: make()])
    }

    /// Stores `value` unless the key holds one already (one hash lookup); false when it did.
    public func insertIfAbsent(_ key: Key, _ value: Value) -> Bool {
        var inserted = false
        Self.touch(&values[key, default: { inserted = true; return value }()])
        if inserted, tracksChanges { changed.insert(key) }
        return inserted
    }

    @inline(__always) private static func touch(_ value: inout Value) {}

    /// Removes the key's value when `matches` says so (one hash lookup).
    public func removeValue(forKey key: Key, where matches: (Value) -> Bool) {
        guard let i = values.index(forKey: key), matches(values[i].value) else { return }
        values.remove(at: i)
        if tracksChanges { changed.insert(key) }
    }

    public func removeValue(forKey key: Key) {
        if values.removeValue(forKey: key) != nil, tracksChanges { changed.insert(key) }
    }

    public var count: Int { values.count }
    public var keys: Dictionary<Key, Value>.Keys { values.keys }

    /// The keys changed since the last call, with their values (nil = removed).
    public func takeChanges() -> [(Key, Value?)] {
        defer { changed.removeAll(keepingCapacity: true) }
        return changed.map { ($0, values[$0]) }
    }

    /// Puts values loaded from a store, without marking them changed.
    public func restore(_ key: Key, _ value: Value) { values[key] = value }
}
