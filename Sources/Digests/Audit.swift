import Events

/// The privacy office's audit of a month's weak points, from the organisation digests of that month and the one
/// before: violations ranked by role, actor, system, rule and category with the change since last month, what got
/// worse, erasure requests by outcome, data kept past its time by category, sensitive data read without a ticket.
public struct Audit: Sendable, Equatable {
    /// One line of a ranking: a role, actor, … with its violations this month and last month (nil: no previous month).
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var count: Int
        public var previous: Int?
        public var change: Int? { previous.map { count - $0 } }
    }

    public enum Dimension: String, CaseIterable, Sendable {
        case role, actor, system, rule, category
    }

    /// The reason code of a read of sensitive data without a ticket (the default pipeline's `sensitive-needs-ticket`).
    public static let missingTicket = "missing_ticket"

    public var month: String
    public var previousMonth: String?
    public var total: Int
    public var previousTotal: Int?
    public var subjectsAffected: Int
    /// Largest first, then by key; keys with violations only last month are kept (count 0), so that an improvement shows.
    public var rankings: [Dimension: [Entry]]
    /// The entries of every ranking whose count rose since last month, the largest rise first.
    public var worse: [(dimension: Dimension, entry: Entry)]
    public var erasure: ErasureSummary
    public var previousErasure: ErasureSummary?
    public var retentionOverdue: [Entry]
    public var sensitiveWithoutTicket: [Entry]

    public static func == (a: Audit, b: Audit) -> Bool { a.json == b.json }

    public init(_ org: OrgDigest, previous: OrgDigest?) {
        month = org.month
        previousMonth = previous?.month
        total = org.violationTotal
        previousTotal = previous?.violationTotal
        subjectsAffected = org.subjectsWithViolations
        func counts(_ digest: OrgDigest, _ dimension: Dimension) -> [String: Int] {
            switch dimension {
            case .role: digest.breakdown.byRole
            case .actor: digest.breakdown.byActor
            case .system: digest.breakdown.bySystem
            case .rule: digest.violationsByRule
            case .category: digest.breakdown.byCategory
            }
        }
        var rankings: [Dimension: [Entry]] = [:]
        var worse: [(dimension: Dimension, entry: Entry)] = []
        for dimension in Dimension.allCases {
            let ranked = Self.rank(counts(org, dimension), previous: previous.map { counts($0, dimension) })
            rankings[dimension] = ranked
            worse += ranked.filter { ($0.change ?? 0) > 0 }.map { (dimension, $0) }
        }
        self.rankings = rankings
        self.worse = worse.sorted { a, b in
            (a.entry.change!, b.dimension.order, b.entry.key) > (b.entry.change!, a.dimension.order, a.entry.key)
        }
        erasure = org.erasure
        previousErasure = previous?.erasure
        retentionOverdue = Self.rank(org.breakdown.retentionOverdueByCategory, previous: previous?.breakdown.retentionOverdueByCategory)
        sensitiveWithoutTicket = Self.rank(org.breakdown.byReasonAndRole[Self.missingTicket] ?? [:],
                                           previous: previous.map { $0.breakdown.byReasonAndRole[Self.missingTicket] ?? [:] })
    }

    static func rank(_ counts: [String: Int], previous: [String: Int]?) -> [Entry] {
        let keys = Set(counts.keys).union(previous.map { Array($0.keys) } ?? [])
        return keys.map { key in Entry(key: key, count: counts[key] ?? 0, previous: previous.map { $0[key] ?? 0 }) }
            .sorted { a, b in a.count != b.count ? a.count > b.count : (a.previous ?? 0, b.key) > (b.previous ?? 0, a.key) }
    }

    /// The audit as JSON (`consentinel audit --format json`; docs/schemas/audit.schema.json).
    public var json: JSONValue {
        func int(_ n: Int?) -> JSONValue { n.map { .int(Int64($0)) } ?? .null }
        func entries(_ list: [Entry]) -> JSONValue {
            .array(list.enumerated().map { i, e in
                .object([("rank", .int(Int64(i + 1))), ("key", .string(e.key)), ("count", .int(Int64(e.count))),
                         ("previous", int(e.previous)), ("change", int(e.change))])
            })
        }
        return .object([
            ("month", .string(month)),
            ("previous_month", previousMonth.map { .string($0) } ?? .null),
            ("violations", .object([("total", .int(Int64(total))), ("previous", int(previousTotal)),
                                    ("change", int(previousTotal.map { total - $0 })),
                                    ("subjects_affected", .int(Int64(subjectsAffected)))])),
            ("rankings", .object(Dimension.allCases.map { ($0.rawValue, entries(rankings[$0] ?? [])) })),
            ("worse", .array(worse.map { w in
                .object([("dimension", .string(w.dimension.rawValue)), ("key", .string(w.entry.key)),
                         ("count", .int(Int64(w.entry.count))), ("previous", int(w.entry.previous)), ("change", int(w.entry.change))])
            })),
            ("erasure", erasure.json),
            ("retention_overdue", entries(retentionOverdue)),
            ("sensitive_without_ticket", entries(sensitiveWithoutTicket)),
        ])
    }
}

extension Audit.Dimension {
    /// The order the page shows the rankings in.
    var order: Int { Self.allCases.firstIndex(of: self)! }
}
