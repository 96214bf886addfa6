/// The kinds of event (docs/events.md).
public enum EventType: UInt8, Sendable, CaseIterable, CustomStringConvertible, Comparable {
    case access, use, share, collect, delete, consent, erasureRequest, relationshipEnd

    /// The wire spelling (`erasure_request`, `relationship_end`, …).
    public var name: String {
        switch self {
        case .access: "access"
        case .use: "use"
        case .share: "share"
        case .collect: "collect"
        case .delete: "delete"
        case .consent: "consent"
        case .erasureRequest: "erasure_request"
        case .relationshipEnd: "relationship_end"
        }
    }

    /// The type's bit in a set of types held as a mask.
    @inlinable public var bit: UInt32 { 1 << UInt32(rawValue) }

    public init?(name: String) {
        guard let t = EventType.allCases.first(where: { $0.name == name }) else { return nil }
        self = t
    }

    public var description: String { name }
    public static func < (a: EventType, b: EventType) -> Bool { a.rawValue < b.rawValue }
}

public enum ConsentStatus: UInt8, Sendable, CustomStringConvertible {
    case granted, withdrawn
    public var description: String { self == .granted ? "granted" : "withdrawn" }
}

/// A validated event. Purposes and categories are nodes of the pipeline's taxonomy.
///
/// The public initializer lives in an extension and delegates to the implicit memberwise one, whose label order
/// differs because `attributes` is declared first: an initializer that assigns the fields one by one leaves a
/// whole-struct copy and destroy behind in optimized code (about 6% of the event decoder's time).
public struct Event: Sendable {
    /// Attributes in the order they appeared, last value kept for a repeated key.
    public var attributes: [Attribute]
    public var id: String
    public var type: EventType
    public var time: Timestamp
    public var subject: String
    public var actor: Symbol?
    public var role: Symbol?
    public var system: Symbol?
    public var purpose: TaxonomyNode?
    /// Data categories, each once, in the order first listed; empty for types that carry none. A `delete` listing
    /// `"*"` has `deletesAll` set (any other keys it lists stay here).
    public var categories: [TaxonomyNode]
    public var deletesAll: Bool
    public var recipient: Symbol?
    public var status: ConsentStatus?
    public var source: Symbol?

    public struct Attribute: Sendable, Hashable {
        public var key: String
        public var value: String
        public init(key: String, value: String) { self.key = key; self.value = value }
    }

    public func attribute(_ key: String) -> String? {
        for a in attributes where a.key == key { return a.value }
        return nil
    }
}

extension Event {
    @inline(__always)
    public init(
        id: String, type: EventType, time: Timestamp, subject: String,
        actor: Symbol? = nil, role: Symbol? = nil, system: Symbol? = nil, purpose: TaxonomyNode? = nil,
        categories: [TaxonomyNode] = [], deletesAll: Bool = false, recipient: Symbol? = nil,
        status: ConsentStatus? = nil, source: Symbol? = nil, attributes: [Attribute] = []
    ) {
        self.init(
            attributes: attributes, id: id, type: type, time: time, subject: subject, actor: actor, role: role,
            system: system, purpose: purpose, categories: categories, deletesAll: deletesAll, recipient: recipient,
            status: status, source: source
        )
    }
}

/// Where a raw event came from, for dead letters and evidence.
public enum Origin: Sendable, Hashable, CustomStringConvertible {
    case kafka(topic: String, partition: Int32, offset: Int64)
    case file(path: String, line: Int)

    public var description: String {
        switch self {
        case let .kafka(topic, partition, offset): "\(topic)/\(partition)/\(offset)"
        case let .file(path, line): "\(path):\(line)"
        }
    }
}
