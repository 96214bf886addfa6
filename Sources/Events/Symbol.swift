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
///
/// Two indexes share one lock: by `String`, and by UTF-8 bytes (`ByteMap`), so that the event decoder interns a
/// symbol it has seen before without building a `String`.
public final class SymbolTable: Sendable {
    public static let shared = SymbolTable()

    private struct Storage {
        var byString: [String: Symbol] = [:]
        var byBytes = ByteMap(minimumCapacity: 64)
        var symbols: [Symbol] = []

        mutating func add(_ string: String) -> Symbol {
            let symbol = Symbol(id: UInt32(symbols.count), string: string)
            symbols.append(symbol)
            byString[string] = symbol
            var utf8 = string
            utf8.withUTF8 { byBytes.insert(UnsafeRawBufferPointer($0), value: Int32(symbol.id)) }
            return symbol
        }

        mutating func intern(_ bytes: UnsafeRawBufferPointer) -> Symbol {
            if let id = byBytes.find(bytes) { return symbols[Int(id)] }
            let string = String(decoding: bytes, as: UTF8.self)
            if let symbol = byString[string] {
                byBytes.insert(bytes, value: Int32(symbol.id))
                return symbol
            }
            return add(string)
        }
    }
    private let storage = Mutex(Storage())

    public func intern(_ string: String) -> Symbol {
        storage.withLock { s in
            if let symbol = s.byString[string] { return symbol }
            return s.add(string)
        }
    }

    /// Interns UTF-8 bytes; a hit compares bytes only. Invalid UTF-8 is repaired (U+FFFD) as `String(decoding:)`
    /// does, and such bytes become an alias of the repaired string's symbol.
    public func intern(_ bytes: UnsafeRawBufferPointer) -> Symbol {
        storage.withLock { $0.intern(bytes) }
    }

    /// Interns the symbol fields of an event under one acquisition of the lock, into the caller's variables (a
    /// returned tuple or struct would be copied and destroyed again on the way out).
    func intern(
        _ actor: UnsafeRawBufferPointer?, _ role: UnsafeRawBufferPointer?, _ system: UnsafeRawBufferPointer?,
        _ recipient: UnsafeRawBufferPointer?, _ source: UnsafeRawBufferPointer?,
        into actorSymbol: inout Symbol?, _ roleSymbol: inout Symbol?, _ systemSymbol: inout Symbol?,
        _ recipientSymbol: inout Symbol?, _ sourceSymbol: inout Symbol?
    ) {
        storage.withLock { s in
            if let actor { actorSymbol = s.intern(actor) }
            if let role { roleSymbol = s.intern(role) }
            if let system { systemSymbol = s.intern(system) }
            if let recipient { recipientSymbol = s.intern(recipient) }
            if let source { sourceSymbol = s.intern(source) }
        }
    }

    public var count: Int { storage.withLock { $0.symbols.count } }

    /// The symbol with this id (one this table gave out).
    public func symbol(id: UInt32) -> Symbol { storage.withLock { $0.symbols[Int(id)] } }

    /// Every symbol so far, indexed by id: a snapshot for turning many ids back into strings under one lock.
    public var all: [Symbol] { storage.withLock { $0.symbols } }
}
