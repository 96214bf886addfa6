import Events

/// A field of an event that rules can name: `event.FIELD` or `event.attributes.KEY`.
public enum EventField: Hashable, Sendable, CustomStringConvertible {
    case id, type, time, subject, actor, role, system, purpose, categories, recipient, status, source
    case attribute(String)

    public static let named: [String: EventField] = [
        "id": .id, "type": .type, "time": .time, "subject": .subject, "actor": .actor, "role": .role,
        "system": .system, "purpose": .purpose, "categories": .categories, "recipient": .recipient,
        "status": .status, "source": .source,
    ]

    /// Parses `subject`, `event.subject`, `attributes.ticket` or `event.attributes.ticket`.
    public init?(path: String) {
        var p = Substring(path)
        if p.hasPrefix("event.") { p = p.dropFirst(6) }
        if p.hasPrefix("attributes.") {
            let key = p.dropFirst(11)
            guard !key.isEmpty else { return nil }
            self = .attribute(String(key))
            return
        }
        guard let f = EventField.named[String(p)] else { return nil }
        self = f
    }

    public var description: String {
        switch self {
        case .attribute(let key): "event.attributes.\(key)"
        case .id: "event.id"
        case .type: "event.type"
        case .time: "event.time"
        case .subject: "event.subject"
        case .actor: "event.actor"
        case .role: "event.role"
        case .system: "event.system"
        case .purpose: "event.purpose"
        case .categories: "event.categories"
        case .recipient: "event.recipient"
        case .status: "event.status"
        case .source: "event.source"
        }
    }

    /// The field's value as text, for grouping keys and evidence; nil when the event lacks it.
    /// Categories join their keys with `,` (sorted), `"*"` for a delete of everything.
    public func text(of event: Event) -> String? {
        switch self {
        case .id: event.id
        case .type: event.type.name
        case .time: event.time.rfc3339
        case .subject: event.subject
        case .actor: event.actor?.string
        case .role: event.role?.string
        case .system: event.system?.string
        case .purpose: event.purpose?.key
        case .categories:
            event.deletesAll ? "*" : (event.categories.isEmpty ? nil : event.categories.map(\.key).sorted().joined(separator: ","))
        case .recipient: event.recipient?.string
        case .status: event.status?.description
        case .source: event.source?.string
        case .attribute(let key): event.attribute(key)
        }
    }
}
