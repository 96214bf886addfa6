import Events

/// Rules whose state is keyed by something other than the subject (a threshold grouped by actor, a deadline keyed by
/// system, …). Events are partitioned by subject, so the daemon moves the events such a rule uses to the owner of
/// their key (its keyed stage), as Kafka Streams repartitions a stream before a group-by on a new key.
extension Rule {
    /// The fields the rule's state is keyed by, when that is not the subject; `nil` for rules whose state is per
    /// subject (or that keep none). A threshold grouped by fields that include the subject stays per subject.
    public var repartitionKey: [EventField]? {
        guard enabled else { return nil }
        switch spec {
        case .threshold(_, let groupBy, _, _, _): return groupBy.contains(.subject) ? nil : groupBy
        case .deadline(_, _, _, let key): return key == .subject ? nil : [key]
        case .match, .consent, .retention, .access: return nil
        }
    }

    /// Whether the rule could use `event` at all: the events the daemon sends to the rule's keyed stage.
    public func uses(_ event: Event) -> Bool {
        switch spec {
        case .threshold(let when, _, _, _, _): return when.test(event)
        case .deadline(let start, let satisfiedBy, _, _): return start.test(event) || satisfiedBy.test(event)
        case .match, .consent, .retention, .access: return true
        }
    }

    /// The value of `repartitionKey` for `event` (fields joined by U+001F), or nil when the event lacks one of them
    /// (the rule then ignores it).
    public func repartitionKeyText(of event: Event) -> String? {
        guard let fields = repartitionKey else { return nil }
        var parts: [String] = []
        for field in fields {
            guard let text = field.text(of: event) else { return nil }
            parts.append(text)
        }
        return parts.joined(separator: "\u{1F}")
    }
}

extension Pipeline {
    /// The same pipeline with only the rules for which `include` holds.
    public func restricted(to include: (Rule) -> Bool) -> Pipeline {
        var copy = self
        copy.rules = rules.filter(include)
        return copy
    }

    /// The enabled rules the daemon runs in a keyed stage of their own (see `Rule.repartitionKey`), in file order.
    public var repartitionedRules: [Rule] { rules.filter { $0.repartitionKey != nil } }
}
