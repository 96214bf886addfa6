import Events

final class MatchEvaluator: RuleEvaluator {
    let rule: Rule
    let index: Int
    let when: CompiledExpression
    let reason: String

    var eventTypes: UInt32 { when.eventTypes }

    init(rule: Rule, index: Int, when: CompiledExpression, reason: String) {
        self.rule = rule
        self.index = index
        self.when = when
        self.reason = reason
    }

    func process(_ event: Event, _ context: EngineContext) {
        guard when.test(event) else { return }
        context.emit(rule, reason: reason, time: event.time, subject: event.subject, actor: event.actor?.string,
                     event: event.id, idParts: [event.id], message: sentence(event), evidence: eventEvidence(event))
    }

    /// The engine's own message, for a rule without one.
    private func sentence(_ event: Event) -> String {
        let what = rule.description.map { "\($0)." } ?? "Event \(event.id) matched rule \(rule.id)."
        return "\(event.type.name.capitalizedFirst) event \(event.id) broke rule \(rule.id): \(what)"
    }
}

final class ConsentEvaluator: RuleEvaluator {
    let rule: Rule
    let index: Int
    let when: CompiledExpression
    let grace: Duration

    var eventTypes: UInt32 { when.eventTypes }

    init(rule: Rule, index: Int, when: CompiledExpression, grace: Duration) {
        self.rule = rule
        self.index = index
        self.when = when
        self.grace = grace
    }

    func process(_ event: Event, _ context: EngineContext) {
        guard let purpose = event.purpose, when.test(event) else { return }
        let decision = context.ledger.decision(subject: event.subject, purpose: purpose, at: event.time)
        if let decision {
            guard decision.status == .withdrawn, event.time >= decision.time + grace else { return }
        }
        var evidence = eventEvidence(event)
        let reason: String
        if let decision {
            reason = "consent_withdrawn"
            var d: [(String, JSONValue)] = [
                ("event", .string(decision.event)), ("time", .string(decision.time.rfc3339)),
                ("purpose", .string(decision.purpose(in: context.taxonomy.uses).key)), ("status", "withdrawn"),
            ]
            if let source = decision.source { d.append(("source", .string(source.string))) }
            evidence.append(("decision", .object(d)))
            evidence.append(("grace", .string(grace.description)))
        } else {
            reason = "no_consent"
        }
        context.emit(rule, reason: reason, time: event.time, subject: event.subject, actor: event.actor?.string,
                     event: event.id, idParts: [event.id], message: sentence(event, purpose, decision, context.taxonomy),
                     evidence: evidence)
    }

    /// The engine's own message, for a rule without one.
    private func sentence(
        _ event: Event, _ purpose: TaxonomyNode, _ decision: ConsentLedger.Decision?, _ taxonomy: Taxonomy
    ) -> String {
        guard let decision else {
            return "\(event.subject) never gave consent for \(purpose.key), but their data was used for it at \(event.time.rfc3339)."
        }
        return "\(event.subject) withdrew consent for \(decision.purpose(in: taxonomy.uses).key) at \(decision.time.rfc3339), "
            + "but their data was used for \(purpose.key) at \(event.time.rfc3339)."
    }
}

final class RetentionEvaluator: RuleEvaluator {
    /// A category's clock, in 72 bytes: a million customers' clocks are kept, and copied as their arrays change.
    struct Clock {
        var startedBy: String
        var deadlineSetBy: String
        var startedAt: Timestamp
        /// `Int64.min`: waiting for the subject's relationship to end.
        private var deadlineMicroseconds: Int64
        var generation: UInt64
        /// The category's pre-order interval in the categories tree.
        let categoryIndex: Int32
        private let categoryEnd: Int32
        var overdue = false

        init(category: TaxonomyNode, startedBy: String, startedAt: Timestamp, deadline: Timestamp?,
             deadlineSetBy: String, generation: UInt64, overdue: Bool = false) {
            self.startedBy = startedBy
            self.deadlineSetBy = deadlineSetBy
            self.startedAt = startedAt
            deadlineMicroseconds = deadline?.microseconds ?? .min
            self.generation = generation
            categoryIndex = category.index
            categoryEnd = category.end
            self.overdue = overdue
        }

        /// nil while waiting for the subject's relationship to end.
        var deadline: Timestamp? {
            get { deadlineMicroseconds == .min ? nil : Timestamp(microseconds: deadlineMicroseconds) }
            set { deadlineMicroseconds = newValue?.microseconds ?? .min }
        }

        func category(in tree: Taxonomy.Tree) -> TaxonomyNode { tree.node(at: categoryIndex) }

        /// Whether the clock's category is `node` or under it.
        func isUnder(_ node: TaxonomyNode) -> Bool { node.index <= categoryIndex && categoryIndex < node.end }

        /// Whether `node` is the clock's category or under it.
        func covers(_ node: TaxonomyNode) -> Bool { categoryIndex <= node.index && node.index < categoryEnd }
    }

    /// When the subject's relationship ended, and by which event.
    struct RelationshipEnd {
        let time: Timestamp
        let event: String
    }

    /// A subject's state as it is stored.
    struct SubjectState {
        var clocks: [Clock] = []
        var relationshipEnded: RelationshipEnd?
    }

    let rule: Rule
    let index: Int
    let categories: [TaxonomyNode]
    let keep: Duration
    let from: RetentionStart
    let state = RetentionState()
    private(set) lazy var persistence: RulePersistence = KeyedPersistence(
        state, toRecord: { [tree] in RetentionRecord($0, tree: tree) }, fromRecord: { try $0.state($1) },
        timers: { [index] subject, s, context in
            for clock in s.clocks where !clock.overdue {
                if let deadline = clock.deadline {
                    context.schedule(at: deadline, evaluator: index,
                                     payload: .retention(subject: subject, generation: clock.generation, category: clock.categoryIndex))
                }
            }
        })

    let eventTypes = [EventType.collect, .relationshipEnd, .delete, .access, .use, .share]
        .reduce(UInt32(0)) { $0 | $1.bit }

    let tree: Taxonomy.Tree

    init(rule: Rule, index: Int, categories: [TaxonomyNode], keep: Duration, from: RetentionStart, tree: Taxonomy.Tree) {
        self.rule = rule
        self.index = index
        self.categories = categories
        self.keep = keep
        self.from = from
        self.tree = tree
    }

    func process(_ event: Event, _ context: EngineContext) {
        switch event.type {
        case .collect: collect(event, context)
        case .relationshipEnd: relationshipEnded(event, context)
        case .delete: delete(event)
        case .access, .use, .share: checkAccess(event, context)
        default: break
        }
    }

    private func collect(_ event: Event, _ context: EngineContext) {
        let covered = event.categories.filter { c in categories.contains { c.isUnder($0) } }
        guard !covered.isEmpty else { return }
        state.noteChange(event.subject)
        let ended = state.ends[event.subject]
        for category in Set(covered).sorted(by: { $0.index < $1.index }) {
            state.clocks.removeAll(for: event.subject) { $0.categoryIndex == category.index }
            var clock = Clock(category: category, startedBy: event.id, startedAt: event.time, deadline: nil,
                              deadlineSetBy: event.id, generation: context.nextGeneration())
            if from == .collect || ended.map({ $0.time <= event.time }) == true {
                clock.deadline = event.time + keep
            }
            if let deadline = clock.deadline {
                context.schedule(at: deadline, evaluator: index,
                                 payload: .retention(subject: event.subject, generation: clock.generation, category: category.index))
            }
            state.clocks.append(clock, for: event.subject)
        }
    }

    private func relationshipEnded(_ event: Event, _ context: EngineContext) {
        guard from == .relationshipEnd else { return }
        state.noteChange(event.subject)
        state.ends[event.subject] = RelationshipEnd(time: event.time, event: event.id)
        let deadline = event.time + keep
        state.clocks.update(for: event.subject) { clock in
            guard clock.deadline == nil else { return false }
            clock.deadline = deadline
            clock.deadlineSetBy = event.id
            context.schedule(at: deadline, evaluator: index,
                             payload: .retention(subject: event.subject, generation: clock.generation, category: clock.categoryIndex))
            return true
        }
    }

    private func delete(_ event: Event) {
        guard state.holds(event.subject) else { return }
        state.noteChange(event.subject)
        if event.deletesAll {
            state.clocks.removeValue(forKey: event.subject)
        } else {
            state.clocks.removeAll(for: event.subject) { clock in event.categories.contains { clock.isUnder($0) } }
        }
    }

    private func checkAccess(_ event: Event, _ context: EngineContext) {
        // A clock's category is under one of the rule's: an event whose categories are on no path through them
        // cannot touch a clock, and needs no look-up.
        guard event.categories.contains(where: { c in categories.contains { c.isUnder($0) || $0.isUnder(c) } }),
              state.clocks.contains(event.subject) else { return }
        let expired = state.clocks[event.subject].filter { clock in
            guard let deadline = clock.deadline, event.time >= deadline else { return false }
            return event.categories.contains { clock.covers($0) || clock.isUnder($0) }
        }
        guard let first = expired.first else { return }
        var evidence = eventEvidence(event)
        evidence.append(("expired", .array(expired.map { clockEvidence($0) })))
        context.emit(rule, reason: "expired_access", time: event.time, subject: event.subject, actor: event.actor?.string,
                     event: event.id, idParts: [event.id],
                     message: "\(event.subject)'s \(first.category(in: tree).key) data was past its retention deadline of "
                        + "\(first.deadline!.rfc3339) and not deleted, but was used by a \(event.type.name) event at \(event.time.rfc3339).",
                     evidence: evidence)
    }

    /// Whether a timer's clock is there to be made overdue: not restarted, cleared or overdue already.
    private func isDue(_ clock: Clock, _ category: Int32, _ generation: UInt64, at time: Timestamp) -> Bool {
        clock.categoryIndex == category && clock.generation == generation && !clock.overdue && clock.deadline == time
    }

    func isLive(_ payload: EngineContext.TimerPayload, at time: Timestamp) -> Bool {
        let (subject, generation, category) = (payload.key, payload.generation, payload.category)
        return state.clocks[subject].contains { isDue($0, category, generation, at: time) }
    }

    func fire(_ payload: EngineContext.TimerPayload, at time: Timestamp, _ context: EngineContext) {
        let (subject, generation, categoryIndex) = (payload.key, payload.generation, payload.category)
        var due: Clock?
        state.clocks.update(for: subject) { clock in
            guard due == nil, isDue(clock, categoryIndex, generation, at: time) else { return false }
            clock.overdue = true
            due = clock
            return true
        }
        guard let clock = due else { return }
        state.noteChange(subject)
        let category = clock.category(in: tree)
        context.emit(rule, reason: "overdue", time: time, subject: subject, actor: nil, event: clock.deadlineSetBy,
                     idParts: [subject, category.key, clock.deadlineSetBy, clock.startedBy, time.rfc3339],
                     message: "\(subject)'s \(category.key) data had to be deleted by \(time.rfc3339) (kept \(keep) "
                        + "from \(from == .collect ? "collection" : "the end of the relationship")) and was not.",
                     evidence: [("clock", clockEvidence(clock)), ("keep", .string(keep.description)),
                                ("from", .string(from.rawValue))])
    }

    private func clockEvidence(_ clock: Clock) -> JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("category", .string(clock.category(in: tree).key)), ("collected_by", .string(clock.startedBy)),
            ("collected_at", .string(clock.startedAt.rfc3339)),
        ]
        if let deadline = clock.deadline { pairs.append(("deadline", .string(deadline.rfc3339))) }
        if clock.deadlineSetBy != clock.startedBy { pairs.append(("deadline_set_by", .string(clock.deadlineSetBy))) }
        return .object(pairs)
    }
}

final class DeadlineEvaluator: RuleEvaluator {
    struct Clock: Codable {
        var deadline: Timestamp
        var startedBy: String
        var startedAt: Timestamp
        var subject: String
        var actor: String?
        var generation: UInt64
    }

    let rule: Rule
    let index: Int
    let start: CompiledExpression
    let satisfiedBy: CompiledExpression
    let within: Duration
    let key: EventField
    let state = KeyedState<String, Clock>()
    private(set) lazy var persistence: RulePersistence = KeyedPersistence(
        state, toRecord: { $0 }, fromRecord: { r, _ in r },
        timers: { [index] key, clock, context in
            context.schedule(at: clock.deadline, evaluator: index, payload: .deadline(key: key, generation: clock.generation))
        })

    var eventTypes: UInt32 { start.eventTypes | satisfiedBy.eventTypes }

    init(rule: Rule, index: Int, start: CompiledExpression, satisfiedBy: CompiledExpression, within: Duration, key: EventField) {
        self.rule = rule
        self.index = index
        self.start = start
        self.satisfiedBy = satisfiedBy
        self.within = within
        self.key = key
    }

    func process(_ event: Event, _ context: EngineContext) {
        let starts = start.test(event), satisfies = satisfiedBy.test(event)
        guard starts || satisfies, let k = key.text(of: event) else { return }
        var open = state[k]
        if let clock = open, satisfies, event.time < clock.deadline {
            state.removeValue(forKey: k)
            open = nil
        }
        if open == nil, starts {
            let clock = Clock(deadline: event.time + within, startedBy: event.id, startedAt: event.time,
                              subject: event.subject, actor: event.actor?.string, generation: context.nextGeneration())
            state[k] = clock
            context.schedule(at: clock.deadline, evaluator: index, payload: .deadline(key: k, generation: clock.generation))
        }
    }

    func fire(_ payload: EngineContext.TimerPayload, at time: Timestamp, _ context: EngineContext) {
        let (k, generation) = (payload.key, payload.generation)
        guard let clock = state[k], clock.generation == generation,
              clock.deadline == time else { return }
        state.removeValue(forKey: k)
        context.emit(rule, reason: "overdue", time: time, subject: clock.subject, actor: clock.actor, event: clock.startedBy,
                     idParts: [k, clock.startedBy],
                     message: "Event \(clock.startedBy) at \(clock.startedAt.rfc3339) had to be followed within \(within) "
                        + "(by \(time.rfc3339)) and was not.",
                     evidence: [("key", .string(k)), ("started_by", .string(clock.startedBy)),
                                ("started_at", .string(clock.startedAt.rfc3339)), ("within", .string(within.description)),
                                ("deadline", .string(time.rfc3339))])
    }
}

final class ThresholdEvaluator: RuleEvaluator {
    struct Window: Codable {
        var group: [String]
        var start: Int64
        var count = 0
        var distinct: Set<String> = []
        var fired = false
    }

    let rule: Rule
    let index: Int
    let when: CompiledExpression
    let groupBy: [EventField]
    let distinct: EventField?
    let window: Duration
    let limit: Int
    /// Keyed by window start and group values.
    let state = KeyedState<String, Window>()
    private(set) lazy var persistence: RulePersistence = KeyedPersistence(
        state, toRecord: { $0 }, fromRecord: { r, _ in r },
        timers: { [index, window] key, w, context in
            context.schedule(at: Timestamp(microseconds: w.start + window.microseconds), evaluator: index, payload: .windowEnd(key: key))
        })

    var eventTypes: UInt32 { when.eventTypes }

    init(rule: Rule, index: Int, when: CompiledExpression, groupBy: [EventField], distinct: EventField?, window: Duration, limit: Int) {
        self.rule = rule
        self.index = index
        self.when = when
        self.groupBy = groupBy
        self.distinct = distinct
        self.window = window
        self.limit = limit
    }

    func process(_ event: Event, _ context: EngineContext) {
        guard when.test(event) else { return }
        var group: [String] = []
        for field in groupBy {
            guard let v = field.text(of: event) else { return }
            group.append(v)
        }
        let value = distinct.map { $0.text(of: event) }
        if let value, value == nil { return }
        let size = window.microseconds
        let t = event.time.microseconds
        let start = t >= 0 ? t - t % size : t - ((t % size) + size) % size
        let key = Self.key(start: start, group: group)
        if state[key] == nil {
            context.schedule(at: Timestamp(microseconds: start + size), evaluator: index, payload: .windowEnd(key: key))
        }
        let crossed = state.update(key, default: Window(group: group, start: start)) { w -> Bool in
            if let value, let v = value { w.distinct.insert(v); w.count = w.distinct.count } else { w.count += 1 }
            guard w.count > limit, !w.fired else { return false }
            w.fired = true
            return true
        }
        guard crossed else { return }
        let windowStart = Timestamp(microseconds: start)
        var groupEvidence: [(String, JSONValue)] = []
        for (f, v) in zip(groupBy, group) { groupEvidence.append((f.description.replacingPrefix("event.", ""), .string(v))) }
        context.emit(rule, reason: "limit_exceeded", time: event.time, subject: event.subject, actor: event.actor?.string,
                     event: event.id, idParts: group + [String(start)], message: sentence(group, windowStart),
                     evidence: [("group", .object(groupEvidence)), ("window_start", .string(windowStart.rfc3339)),
                                ("window_end", .string((windowStart + window).rfc3339)), ("window", .string(window.description)),
                                ("limit", .int(Int64(limit))), ("count", .int(Int64(limit + 1)))])
    }

    /// The engine's own message, for a rule without one.
    private func sentence(_ group: [String], _ windowStart: Timestamp) -> String {
        let counted = distinct.map { "distinct \($0.description.replacingPrefix("event.", "")) values" } ?? "events"
        let who = group.isEmpty ? "" : " for " + zip(groupBy, group).map { "\($0.description.replacingPrefix("event.", "")) \($1)" }.joined(separator: ", ")
        return "More than \(limit) \(counted) within \(window)\(who), in the window from \(windowStart.rfc3339)."
    }

    /// The state key of a window: the JSON array `[start, group values…]`.
    static func key(start: Int64, group: [String]) -> String {
        var bytes: [UInt8] = [91]
        bytes.reserveCapacity(64)
        JSONValue.writeInt(start, into: &bytes)
        for g in group {
            bytes.append(44)
            JSONValue.writeString(g, into: &bytes)
        }
        bytes.append(93)
        return String(decoding: bytes, as: UTF8.self)
    }

    func fire(_ payload: EngineContext.TimerPayload, at time: Timestamp, _ context: EngineContext) {
        let key = payload.key
        state.removeValue(forKey: key)
    }
}

final class AccessEvaluator: RuleEvaluator {
    let rule: Rule
    let index: Int
    let when: CompiledExpression
    let roles: [Symbol: RoleGrant]

    var eventTypes: UInt32 { when.eventTypes }

    init(rule: Rule, index: Int, when: CompiledExpression, roles: [Symbol: RoleGrant]) {
        self.rule = rule
        self.index = index
        self.when = when
        self.roles = roles
    }

    func process(_ event: Event, _ context: EngineContext) {
        guard when.test(event) else { return }
        var denied: [TaxonomyNode] = []
        if let role = event.role, let grant = roles[role], let purpose = event.purpose,
           grant.purposes.contains(where: { purpose.isUnder($0) }) {
            denied = event.categories.filter { c in !grant.categories.contains { c.isUnder($0) } }
            guard !denied.isEmpty else { return }
        }
        var evidence = eventEvidence(event)
        let reason: String
        if let role = event.role, let grant = roles[role] {
            if let purpose = event.purpose, grant.purposes.contains(where: { purpose.isUnder($0) }) {
                reason = "category_not_allowed"
                evidence.append(("denied_categories", keyList(denied)))
                evidence.append(("allowed_categories", keyList(grant.categories)))
            } else {
                reason = "purpose_not_allowed"
                evidence.append(("allowed_purposes", keyList(grant.purposes)))
            }
        } else {
            reason = "unknown_role"
            evidence.append(("known_roles", .array(roles.keys.map(\.string).sorted().map { .string($0) })))
        }
        context.emit(rule, reason: reason, time: event.time, subject: event.subject, actor: event.actor?.string,
                     event: event.id, idParts: [event.id], message: sentence(event, reason, denied), evidence: evidence)
    }

    /// The engine's own message, for a rule without one.
    private func sentence(_ event: Event, _ reason: String, _ denied: [TaxonomyNode]) -> String {
        let who = event.actor.map { "\($0.string)" } ?? "someone"
        let role = event.role?.string ?? ""
        switch reason {
        case "category_not_allowed":
            return "\(who) (role \(role)) accessed \(denied.map(\.key).joined(separator: ", ")) of "
                + "\(event.subject), which the role may not see."
        case "purpose_not_allowed":
            return "\(who) (role \(role)) accessed \(event.subject)'s data for "
                + "\(event.purpose?.key ?? "no stated purpose"), which the role may not do."
        default:
            return "\(who) accessed \(event.subject)'s data with role \(event.role?.string ?? "(none)"), which no access policy knows."
        }
    }
}

/// The facts of the triggering event that a reader of a violation needs.
func eventEvidence(_ event: Event) -> [(String, JSONValue)] {
    var pairs: [(String, JSONValue)] = [("type", .string(event.type.name))]
    if let role = event.role { pairs.append(("role", .string(role.string))) }
    if let purpose = event.purpose { pairs.append(("purpose", .string(purpose.key))) }
    if event.deletesAll { pairs.append(("categories", ["*"])) } else if !event.categories.isEmpty {
        pairs.append(("categories", keyList(event.categories)))
    }
    if let recipient = event.recipient { pairs.append(("recipient", .string(recipient.string))) }
    if let system = event.system { pairs.append(("system", .string(system.string))) }
    if !event.attributes.isEmpty {
        pairs.append(("attributes", .object(event.attributes.map { ($0.key, .string($0.value)) })))
    }
    return pairs
}

extension String {
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
    func replacingPrefix(_ prefix: String, _ with: String) -> String {
        hasPrefix(prefix) ? with + dropFirst(prefix.count) : self
    }
}

struct RetentionRecord: Codable {
    struct ClockRecord: Codable {
        var category: String
        var startedBy: String
        var startedAt: Timestamp
        var deadline: Timestamp?
        var deadlineSetBy: String
        var generation: UInt64
        var overdue: Bool
    }

    var clocks: [ClockRecord]
    var endedAt: Timestamp?
    var endedBy: String?

    init(_ s: RetentionEvaluator.SubjectState, tree: Taxonomy.Tree) {
        clocks = s.clocks.map {
            ClockRecord(category: tree.node(at: $0.categoryIndex).key, startedBy: $0.startedBy, startedAt: $0.startedAt, deadline: $0.deadline,
                        deadlineSetBy: $0.deadlineSetBy, generation: $0.generation, overdue: $0.overdue)
        }
        endedAt = s.relationshipEnded?.time
        endedBy = s.relationshipEnded?.event
    }

    func state(_ taxonomy: Taxonomy) throws -> RetentionEvaluator.SubjectState {
        var s = RetentionEvaluator.SubjectState()
        for c in clocks {
            guard let node = taxonomy.categories.node(c.category) else {
                throw PersistenceError(description: "unknown category \(c.category)")
            }
            s.clocks.append(RetentionEvaluator.Clock(
                category: node, startedBy: c.startedBy, startedAt: c.startedAt, deadline: c.deadline,
                deadlineSetBy: c.deadlineSetBy, generation: c.generation, overdue: c.overdue))
        }
        if let endedAt, let endedBy { s.relationshipEnded = RetentionEvaluator.RelationshipEnd(time: endedAt, event: endedBy) }
        return s
    }
}
