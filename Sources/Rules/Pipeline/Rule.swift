import Events

public enum Severity: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
    case low, medium, high, critical

    public var name: String {
        switch self {
        case .low: "low"
        case .medium: "medium"
        case .high: "high"
        case .critical: "critical"
        }
    }

    public init?(name: String) {
        guard let s = Severity.allCases.first(where: { $0.name == name }) else { return nil }
        self = s
    }

    public var description: String { name }
    public static func < (a: Severity, b: Severity) -> Bool { a.rawValue < b.rawValue }
}

public enum RuleKind: String, Sendable, CaseIterable, CustomStringConvertible {
    case match, consent, retention, deadline, threshold, access
    public var description: String { rawValue }
}

public enum RetentionStart: String, Sendable {
    case collect
    case relationshipEnd = "relationship_end"
}

/// What a role may touch, for `access` rules.
public struct RoleGrant: Sendable {
    public var purposes: [TaxonomyNode]
    public var categories: [TaxonomyNode]
    public init(purposes: [TaxonomyNode], categories: [TaxonomyNode]) {
        self.purposes = purposes
        self.categories = categories
    }
}

/// The kind-specific part of a rule, compiled.
public enum RuleSpec: Sendable {
    case match(when: CompiledExpression, reason: String)
    case consent(when: CompiledExpression, grace: Duration)
    case retention(categories: [TaxonomyNode], keep: Duration, from: RetentionStart)
    case deadline(start: CompiledExpression, satisfiedBy: CompiledExpression, within: Duration, key: EventField)
    case threshold(when: CompiledExpression, groupBy: [EventField], distinct: EventField?, window: Duration, limit: Int)
    case access(when: CompiledExpression, roles: [Symbol: RoleGrant])
}

public struct Rule: Sendable {
    public var id: String
    public var kind: RuleKind
    public var severity: Severity
    public var description: String?
    public var tags: [String]
    public var enabled: Bool
    public var alert: [String]
    public var spec: RuleSpec
    /// The sentence of its violations; nil: the engine's own.
    public var message: RuleMessage?
    public var location: SourceLocation

    public init(
        id: String, kind: RuleKind, severity: Severity, description: String? = nil, tags: [String] = [],
        enabled: Bool = true, alert: [String] = [], spec: RuleSpec, message: RuleMessage? = nil, location: SourceLocation
    ) {
        self.id = id
        self.kind = kind
        self.severity = severity
        self.description = description
        self.tags = tags
        self.enabled = enabled
        self.alert = alert
        self.spec = spec
        self.message = message
        self.location = location
    }
}
