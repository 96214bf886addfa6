/// The fields of a rule's violations that a `message` template may name: the violation's own and its evidence's
/// (nested keys dotted: `clock.category`), each with its shape and whether every violation has it. It follows what
/// the evaluators (Evaluators.swift) put in a violation; docs/rules.md has the same table.
struct ViolationFields {
    enum Shape {
        case text, time, number, list
        /// A list of times (`expired.deadline`).
        case times

        var isTime: Bool { self == .time || self == .times }
    }

    struct Field {
        var shape: Shape
        /// Whether every violation it is checked for has it.
        var always: Bool
        /// The reasons whose violations always have it, when not all do (for a message of all reasons).
        var onlyFor: [String] = []
    }

    var fields: [String: Field]
    /// Whether `attributes.KEY` (of the triggering event; any key, never always present) is a field.
    var attributes = false
    /// Whose fields these are, for messages: "this rule's violations", "this rule's no_consent violations".
    var scope: String

    /// The field named `name`, if violations have it.
    func field(_ name: String) -> Field? {
        if let f = fields[name] { return f }
        if attributes, name.hasPrefix("attributes."), name.count > 11 { return Field(shape: .text, always: false) }
        return nil
    }

    /// Every name, `attributes.KEY` standing for the attributes.
    var names: [String] { fields.keys.sorted() + (attributes ? ["attributes.KEY"] : []) }

    /// The reasons violations of a rule can have.
    static func reasons(of spec: RuleSpec) -> [String] {
        switch spec {
        case .match(_, let reason): [reason]
        case .consent: ["no_consent", "consent_withdrawn"]
        case .retention: ["overdue", "expired_access"]
        case .deadline: ["overdue"]
        case .threshold: ["limit_exceeded"]
        case .access: ["unknown_role", "purpose_not_allowed", "category_not_allowed"]
        }
    }

    /// The fields of a rule's violations for one reason.
    static func of(_ spec: RuleSpec, reason: String) -> ViolationFields {
        var f = ViolationFields(fields: common, scope: "this rule's \(reason) violations")
        switch (spec, reason) {
        case (.match, _):
            f.addEvent()
        case (.consent, _):
            f.addEvent(always: ["purpose"])
            if reason == "consent_withdrawn" {
                f.add(["decision.event", "decision.purpose", "decision.status", "grace"], .text)
                f.add(["decision.time"], .time)
                f.add(["decision.source"], .text, always: false)
            }
        case (.retention, "overdue"):
            f.add(["clock.category", "clock.collected_by", "keep", "from"], .text)
            f.add(["clock.collected_at", "clock.deadline"], .time)
            f.add(["clock.deadline_set_by"], .text, always: false)
        case (.retention, _):
            f.addEvent(always: ["categories"])
            f.add(["expired.category", "expired.collected_by"], .list)
            f.add(["expired.collected_at", "expired.deadline"], .times)
            f.add(["expired.deadline_set_by"], .list, always: false)
        case (.deadline, _):
            f.add(["key", "started_by", "within"], .text)
            f.add(["started_at", "deadline"], .time)
        case (.threshold(_, let groupBy, _, _, _), _):
            f.add(groupBy.map { "group." + $0.description.replacingPrefix("event.", "") }, .text)
            f.add(["window_start", "window_end"], .time)
            f.add(["window"], .text)
            f.add(["limit", "count"], .number)
        case (.access, "unknown_role"):
            f.addEvent()
            f.add(["known_roles"], .list)
        case (.access, "purpose_not_allowed"):
            f.addEvent(always: ["role"])
            f.add(["allowed_purposes"], .list)
        case (.access, _):
            f.addEvent(always: ["role", "purpose", "categories"])
            f.add(["denied_categories", "allowed_categories"], .list)
        }
        return f
    }

    /// The fields of every violation of a rule, whatever its reason: a field some reasons lack is not always there.
    static func of(_ spec: RuleSpec) -> ViolationFields {
        let reasons = reasons(of: spec)
        let each = reasons.map { of(spec, reason: $0) }
        var merged = ViolationFields(fields: [:], attributes: each.contains { $0.attributes }, scope: "this rule's violations")
        for name in Set(each.flatMap(\.fields.keys)) {
            let having = zip(reasons, each).filter { $0.1.fields[name]?.always == true }.map(\.0)
            let shape = each.lazy.compactMap { $0.fields[name]?.shape }.first!
            let always = having.count == reasons.count
            merged.fields[name] = Field(shape: shape, always: always, onlyFor: always ? [] : having)
        }
        return merged
    }

    /// The violation's own fields (its JSON's top level, but `message` and `evidence`).
    private static let common: [String: Field] = [
        "id": Field(shape: .text, always: true), "rule": Field(shape: .text, always: true),
        "kind": Field(shape: .text, always: true), "reason": Field(shape: .text, always: true),
        "severity": Field(shape: .text, always: true), "time": Field(shape: .time, always: true),
        "subject": Field(shape: .text, always: true), "actor": Field(shape: .text, always: false),
        "event": Field(shape: .text, always: true), "detected_at": Field(shape: .time, always: true),
    ]

    private mutating func add(_ names: [String], _ shape: Shape, always: Bool = true) {
        for name in names { fields[name] = Field(shape: shape, always: always) }
    }

    /// What `eventEvidence` gives: the event's type, and its optional fields when it has them.
    private mutating func addEvent(always present: Set<String> = []) {
        add(["type"], .text)
        for name in ["role", "purpose", "recipient", "system"] { add([name], .text, always: present.contains(name)) }
        add(["categories"], .list, always: present.contains("categories"))
        attributes = true
    }
}
