import Events

/// The organisation's month in aggregate (SPEC §5, plus what a privacy office publishes).
public struct OrgDigest: Sendable {
    public var month: String
    public var subjects = 0
    public var eventsByType: [String: Int] = [:]
    public var violationTotal = 0
    public var violationsByRule: [String: Int] = [:]
    public var violationsBySeverity: [String: Int] = [:]
    public var accessesByPurpose: [String: Int] = [:]
    public var accessesByRole: [String: Int] = [:]
    public var accessesByCategory: [String: Int] = [:]
    public var sharesByRecipient: [String: Int] = [:]
    public var consentGranted: [String: Int] = [:]
    public var consentWithdrawn: [String: Int] = [:]
    public var subjectsWithViolations = 0
    public var lateEvents = 0

    public init(month: String) { self.month = month }

    /// Adds another part of the same month (the daemon's partitions each hold one part; subjects are disjoint).
    public mutating func add(_ part: OrgDigest) {
        func sum(_ a: inout [String: Int], _ b: [String: Int]) { a.merge(b, uniquingKeysWith: +) }
        subjects += part.subjects
        sum(&eventsByType, part.eventsByType)
        violationTotal += part.violationTotal
        sum(&violationsByRule, part.violationsByRule)
        sum(&violationsBySeverity, part.violationsBySeverity)
        sum(&accessesByPurpose, part.accessesByPurpose)
        sum(&accessesByRole, part.accessesByRole)
        sum(&accessesByCategory, part.accessesByCategory)
        sum(&sharesByRecipient, part.sharesByRecipient)
        sum(&consentGranted, part.consentGranted)
        sum(&consentWithdrawn, part.consentWithdrawn)
        subjectsWithViolations += part.subjectsWithViolations
        lateEvents += part.lateEvents
    }

    public var json: JSONValue {
        .object([
            ("month", .string(month)),
            ("subjects", .int(Int64(subjects))),
            ("events", .object([("total", .int(Int64(eventsByType.values.reduce(0, +)))), ("by_type", .counts(eventsByType))])),
            ("violations", .object([
                ("total", .int(Int64(violationTotal))), ("by_rule", .counts(violationsByRule)),
                ("by_severity", .counts(violationsBySeverity)), ("subjects_affected", .int(Int64(subjectsWithViolations))),
            ])),
            ("accesses", .object([
                ("by_purpose", .counts(accessesByPurpose)), ("by_role", .counts(accessesByRole)),
                ("by_category", .counts(accessesByCategory)),
            ])),
            ("shares", .object([("by_recipient", .counts(sharesByRecipient))])),
            ("consent", .object([("granted", .counts(consentGranted)), ("withdrawn", .counts(consentWithdrawn))])),
            ("late_events", .int(Int64(lateEvents))),
        ])
    }
}

/// Monthly digests kept incrementally: events and violations are added as the engine meets them, and a month
/// is closed when the watermark passes its end.
public struct MonthlyDigests: Sendable {
    public struct Month: Sendable {
        public var subjects: [String: SubjectDigest] = [:]
        public var org: OrgDigest
    }

    public private(set) var open: [String: Month] = [:]
    /// Months already closed; activity that arrives for them later is counted here instead of being lost silently.
    public private(set) var closed: Set<String> = []
    public private(set) var lateForClosedMonths = 0
    /// Months before this one (`YYYY-MM`) count as closed too: a durable owner restored from a store knows only
    /// how far it has closed, not each month.
    public var closedBefore: String?
    /// When true, the months and subjects changed since `takeChanges()` are remembered (for a durable store).
    public var tracksChanges = false
    public private(set) var changed: [String: Set<String>] = [:]

    public init() {}

    private func isClosed(_ month: String) -> Bool {
        closed.contains(month) || closedBefore.map { month < $0 } ?? false
    }

    /// The subjects changed since the last call, by month (a month's organisation part changes with any of them).
    public mutating func takeChanges() -> [String: Set<String>] {
        defer { changed = [:] }
        return changed
    }

    /// Puts back a subject's digest of an open month, loaded from a store.
    public mutating func restore(_ digest: SubjectDigest) {
        open[digest.month, default: Month(org: OrgDigest(month: digest.month))].subjects[digest.subject] = digest
    }

    /// Puts back an open month's organisation part, loaded from a store.
    public mutating func restore(_ org: OrgDigest) {
        open[org.month, default: Month(org: OrgDigest(month: org.month))].org = org
    }

    public mutating func record(_ event: Event, late: Bool) {
        let month = event.time.monthKey
        guard !isClosed(month) else {
            lateForClosedMonths += 1
            return
        }
        // Mutated in place: copying a month out and back would copy its dictionaries on every event.
        Self.update(&open[month, default: Month(org: OrgDigest(month: month))], with: event, late: late)
        if tracksChanges { changed[month, default: []].insert(event.subject) }
    }

    private static func update(_ m: inout Month, with event: Event, late: Bool) {
        m.subjects[event.subject, default: SubjectDigest(subject: event.subject, month: m.org.month)].record(event)
        m.org.eventsByType[event.type.name, default: 0] += 1
        if late { m.org.lateEvents += 1 }
        switch event.type {
        case .access:
            if let p = event.purpose { m.org.accessesByPurpose[p.key, default: 0] += 1 }
            if let r = event.role { m.org.accessesByRole[r.string, default: 0] += 1 }
            for key in Set(event.categories.map(\.key)) { m.org.accessesByCategory[key, default: 0] += 1 }
        case .share:
            if let r = event.recipient { m.org.sharesByRecipient[r.string, default: 0] += 1 }
        case .consent:
            if let p = event.purpose {
                if event.status == .granted { m.org.consentGranted[p.key, default: 0] += 1 } else { m.org.consentWithdrawn[p.key, default: 0] += 1 }
            }
        default: break
        }
    }

    public mutating func recordViolation(subject: String, rule: String, severity: String, time: Timestamp) {
        let month = time.monthKey
        guard !isClosed(month) else {
            lateForClosedMonths += 1
            return
        }
        if tracksChanges { changed[month, default: []].insert(subject) }
        open[month, default: Month(org: OrgDigest(month: month))].subjects[subject, default: SubjectDigest(subject: subject, month: month)]
            .recordViolation(rule: rule)
        open[month]!.org.violationTotal += 1
        open[month]!.org.violationsByRule[rule, default: 0] += 1
        open[month]!.org.violationsBySeverity[severity, default: 0] += 1
    }

    /// Closes every open month that ends at or before `end`, oldest first: subject digests sorted by subject
    /// (byte order), and the organisation digest.
    public mutating func close(endingBy end: Timestamp) -> [(month: String, subjects: [SubjectDigest], org: OrgDigest)] {
        let due = open.keys.filter { key in
            guard let start = Timestamp(rfc3339: key + "-01T00:00:00Z") else { return false }
            return start.startOfNextMonth <= end
        }.sorted()
        return due.map { key in
            let month = open.removeValue(forKey: key)!
            closed.insert(key)
            changed.removeValue(forKey: key)
            let subjects = month.subjects.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { month.subjects[$0]! }
            var org = month.org
            org.subjects = subjects.count
            org.subjectsWithViolations = subjects.filter { $0.violationTotal > 0 }.count
            return (key, subjects, org)
        }
    }
}
