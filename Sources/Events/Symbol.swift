import Synchronization

/// An interned string: equal symbols share one `id`, so the engine compares and hashes them as integers.
///
/// Symbols live in one process-wide table and are never freed. They are used for values drawn from small
/// vocabularies (actors, roles, systems, sources, recipients); subjects and event ids are not interned.
public struct Symbol: Hashable, Sendable, CustomStringConvertible, Comparable {
    public let id: UInt32
    public let string: String

    public static func == (lhs: Symbol, rhs: Symbol) -> Bool { lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
    public static func < (lhs: Symbol, rhs: Symbol) -> Bool { lhs.string < rhs.string }
    public var description: String { string }

    public init(_ string: String) {
        self = SymbolTable.shared.intern(string)
    }

    init(id: UInt32, string: String) {
        self.id = id
        self.string = string
    }

    /// Interns the UTF-8 bytes without building a `String` when the symbol is already known.
    public static func intern(_ bytes: UnsafeRawBufferPointer) -> Symbol {
        SymbolTable.shared.intern(bytes)
    }
}

/// The process-wide intern table behind `Symbol`.
public final class SymbolTable: Sendable {
    public static let shared = SymbolTable()

    private struct Storage {
        var byString: [String: Symbol] = [:]
        var count: UInt32 = 0
    }
    private let storage = Mutex(Storage())

    public func intern(_ string: String) -> Symbol {
        storage.withLock { s in
            if let symbol = s.byString[string] { return symbol }
            let symbol = Symbol(id: s.count, string: string)
            s.count += 1
            s.byString[string] = symbol
            return symbol
        }
    }

    public func intern(_ bytes: UnsafeRawBufferPointer) -> Symbol {
        intern(String(decoding: bytes, as: UTF8.self))
    }

    public var count: Int { storage.withLock { Int($0.count) } }
}
