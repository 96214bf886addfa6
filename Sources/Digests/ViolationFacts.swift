import Events

/// What the organisation digest keeps of one violation: its rule and how it was broken, and who, where and which data
/// the event behind it names (from the violation's `actor` and `evidence`).
public struct ViolationFacts: Sendable, Equatable {
    public var rule: String
    public var kind: String
    public var reason: String
    public var severity: String
    public var time: Timestamp
    public var subject: String
    public var actor: String?
    public var role: String?
    public var system: String?
    /// The data categories it is about (each once): the event's, or a retention clock's.
    public var categories: [String]

    public init(rule: String, kind: String, reason: String, severity: String, time: Timestamp, subject: String,
                actor: String? = nil, role: String? = nil, system: String? = nil, categories: [String] = []) {
        self.rule = rule
        self.kind = kind
        self.reason = reason
        self.severity = severity
        self.time = time
        self.subject = subject
        self.actor = actor
        self.role = role
        self.system = system
        self.categories = categories
    }

    /// Data kept past its time: a retention rule's deadline passed without a deletion.
    var isRetentionOverdue: Bool { kind == "retention" && reason == "overdue" }
}

/// The organisation's violations of a month broken down by what the privacy office looks for weak points in
/// (`violations.by_kind` … `by_reason_and_role` of `org.json`).
public struct ViolationBreakdown: Sendable, Equatable {
    public var byKind: [String: Int] = [:]
    public var byReason: [String: Int] = [:]
    public var byRole: [String: Int] = [:]
    public var byActor: [String: Int] = [:]
    public var bySystem: [String: Int] = [:]
    public var byCategory: [String: Int] = [:]
    public var byRuleAndRole: [String: [String: Int]] = [:]
    public var byReasonAndRole: [String: [String: Int]] = [:]
    /// Retention rules' overdue deadlines, by the category kept too long.
    public var retentionOverdueByCategory: [String: Int] = [:]

    public init() {}

    mutating func count(_ v: ViolationFacts) {
        // A violation read from an older store may lack kind and reason: it is left out of those breakdowns only.
        if !v.kind.isEmpty { byKind[v.kind, default: 0] += 1 }
        if !v.reason.isEmpty { byReason[v.reason, default: 0] += 1 }
        if let actor = v.actor { byActor[actor, default: 0] += 1 }
        if let system = v.system { bySystem[system, default: 0] += 1 }
        if let role = v.role {
            byRole[role, default: 0] += 1
            byRuleAndRole[v.rule, default: [:]][role, default: 0] += 1
            if !v.reason.isEmpty { byReasonAndRole[v.reason, default: [:]][role, default: 0] += 1 }
        }
        for category in v.categories {
            byCategory[category, default: 0] += 1
            if v.isRetentionOverdue { retentionOverdueByCategory[category, default: 0] += 1 }
        }
    }

    mutating func add(_ other: ViolationBreakdown) {
        func sum(_ a: inout [String: Int], _ b: [String: Int]) { a.merge(b, uniquingKeysWith: +) }
        func sum(_ a: inout [String: [String: Int]], _ b: [String: [String: Int]]) {
            for (key, counts) in b { sum(&a[key, default: [:]], counts) }
        }
        sum(&byKind, other.byKind)
        sum(&byReason, other.byReason)
        sum(&byRole, other.byRole)
        sum(&byActor, other.byActor)
        sum(&bySystem, other.bySystem)
        sum(&byCategory, other.byCategory)
        sum(&byRuleAndRole, other.byRuleAndRole)
        sum(&byReasonAndRole, other.byReasonAndRole)
        sum(&retentionOverdueByCategory, other.retentionOverdueByCategory)
    }

    /// The members of `violations` after `subjects_affected`.
    var jsonMembers: [(String, JSONValue)] {
        func nested(_ n: [String: [String: Int]]) -> JSONValue {
            .object(n.sorted { $0.key < $1.key }.map { ($0.key, .counts($0.value)) })
        }
        return [
            ("by_kind", .counts(byKind)), ("by_reason", .counts(byReason)), ("by_role", .counts(byRole)),
            ("by_actor", .counts(byActor)), ("by_system", .counts(bySystem)), ("by_category", .counts(byCategory)),
            ("by_rule_and_role", nested(byRuleAndRole)), ("by_reason_and_role", nested(byReasonAndRole)),
        ]
    }
}

/// A month's erasure requests (`erasure` of `org.json`): those made, those answered (by a deletion of all the
/// subject's data) on time or late and after how many days, and those still open at the month's end with their ages.
/// On time and overdue are measured against the pipeline's erasure deadline (a `deadline` rule tagged `erasure`);
/// without one they are not told apart.
public struct ErasureSummary: Sendable, Equatable {
    public var deadline: Duration?
    public var requested = 0
    public var completed = 0
    public var completedOnTime = 0
    public var completedLate = 0
    /// Whole days from request to deletion → requests.
    public var daysToComplete: [Int: Int] = [:]
    public var open = 0
    public var openOverdue = 0
    /// Whole days from request to the month's end → requests still open.
    public var openAgeDays: [Int: Int] = [:]

    public init(deadline: Duration? = nil) { self.deadline = deadline }

    public var isEmpty: Bool { requested == 0 && completed == 0 && open == 0 }

    static func days(from start: Timestamp, to end: Timestamp) -> Int {
        Int((end.microseconds - start.microseconds) / 86_400_000_000)
    }

    mutating func complete(requestedAt: Timestamp, at time: Timestamp) {
        completed += 1
        daysToComplete[Self.days(from: requestedAt, to: time), default: 0] += 1
        if let deadline {
            // As the deadline rule has it: a deletion at exactly the deadline is too late.
            if time < requestedAt + deadline { completedOnTime += 1 } else { completedLate += 1 }
        }
    }

    mutating func stillOpen(requestedAt: Timestamp, monthEnd: Timestamp) {
        open += 1
        openAgeDays[Self.days(from: requestedAt, to: monthEnd), default: 0] += 1
        if let deadline, requestedAt + deadline <= monthEnd { openOverdue += 1 }
    }

    mutating func add(_ other: ErasureSummary) {
        deadline = deadline ?? other.deadline
        requested += other.requested
        completed += other.completed
        completedOnTime += other.completedOnTime
        completedLate += other.completedLate
        daysToComplete.merge(other.daysToComplete, uniquingKeysWith: +)
        open += other.open
        openOverdue += other.openOverdue
        openAgeDays.merge(other.openAgeDays, uniquingKeysWith: +)
    }

    var json: JSONValue {
        func histogram(_ h: [Int: Int]) -> JSONValue {
            .array(h.sorted { $0.key < $1.key }.map { .object([("days", .int(Int64($0.key))), ("count", .int(Int64($0.value)))]) })
        }
        var completedMembers: [(String, JSONValue)] = [("total", .int(Int64(completed)))]
        var openMembers: [(String, JSONValue)] = [("total", .int(Int64(open)))]
        if deadline != nil {
            completedMembers += [("on_time", .int(Int64(completedOnTime))), ("late", .int(Int64(completedLate)))]
            openMembers.append(("overdue", .int(Int64(openOverdue))))
        }
        completedMembers.append(("days", histogram(daysToComplete)))
        openMembers.append(("age_days", histogram(openAgeDays)))
        var members: [(String, JSONValue)] = []
        if let deadline { members.append(("deadline", .string(deadline.description))) }
        members += [("requested", .int(Int64(requested))), ("completed", .object(completedMembers)), ("open", .object(openMembers))]
        return .object(members)
    }
}

/// A subject's erasure request, kept until it is answered and every month it was open in has closed.
public struct ErasureRequest: Sendable, Equatable {
    public var time: Timestamp
    public var event: String
    public var answered: Timestamp?

    public init(time: Timestamp, event: String, answered: Timestamp? = nil) {
        self.time = time
        self.event = event
        self.answered = answered
    }

    /// Still open at `end`: made before it and not answered before it.
    func isOpen(at end: Timestamp) -> Bool { time < end && (answered.map { $0 >= end } ?? true) }
}
