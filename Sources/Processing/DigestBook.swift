import Digests
import Events
import Rules

/// The monthly digests of one lane of events (a replay's whole input, or one partition of the daemon): the engine's
/// observer. Months close when the watermark passes their end (`close(through:)`), in a replay and in the daemon
/// alike. With `tracksChanges`, the subjects each batch touched become state rows, so that a partition's digests
/// move with it and survive restarts.
///
/// Rows: namespace `digest:YYYY-MM`, key the subject, value its digest (its JSON); namespace `digest-org`, key
/// the month, value the lane's part of the organisation digest. A closed month's rows are deleted. Namespace
/// `consent-decisions`, key the subject, value the consent decisions that can still stand at the end of an open month
/// (a JSON list of `{purpose, status, since, source}`, as `consent_state`), kept across months. Namespace
/// `erasure-requests`, key the subject, value its erasure requests still open or answered in an open month (a JSON
/// list of `{time, event, answered}`).
public final class DigestBook: EngineObserver {
    public static let subjectNamespacePrefix = "digest:"
    public static let orgNamespace = "digest-org"
    public static let consentNamespace = "consent-decisions"
    public static let erasureNamespace = "erasure-requests"

    /// A month this lane closed: its subjects (sorted by subject, byte order) and its part of the org digest.
    public typealias ClosedMonth = Digests.ClosedMonth

    private var digests: MonthlyDigests
    private let erasure: ErasureWatch?
    /// The event types that can start or answer an erasure request (bits `1 << rawValue`).
    private let erasureTypes: UInt32
    private var pendingDeletes: [StateChange] = []
    /// The end of the earliest open month, kept for the check after every event.
    public var earliestOpenMonthEnd: Timestamp? { digests.earliestOpenMonthEnd }

    /// How many months are open (their digests held in memory).
    public var openMonthCount: Int { digests.openMonthCount }

    /// Months before this one are closed (`YYYY-MM`), as far as this lane knows.
    public var closedBefore: String? { digests.closedBefore }

    public static func isDigestRow(namespace: String) -> Bool {
        namespace == orgNamespace || namespace == consentNamespace || namespace == erasureNamespace
            || namespace.hasPrefix(subjectNamespacePrefix)
    }

    /// An empty book (a replay's); erasure requests are followed with the pipeline's erasure deadline, if any.
    public init(erasure: ErasureWatch? = nil) {
        self.erasure = erasure
        erasureTypes = erasure.map { $0.start.eventTypes | $0.satisfiedBy.eventTypes } ?? 0
        digests = MonthlyDigests(erasureDeadline: erasure?.within)
    }

    /// A book restored from a partition's state rows (the others are ignored); tracks changes from now on.
    public init(restoring rows: [StateChange], closedBefore: String?, erasure: ErasureWatch? = nil) throws(ProcessingError) {
        self.erasure = erasure
        erasureTypes = erasure.map { $0.start.eventTypes | $0.satisfiedBy.eventTypes } ?? 0
        digests = MonthlyDigests(erasureDeadline: erasure?.within)
        digests.closedBefore = closedBefore
        for row in rows {
            guard let value = row.value else { continue }
            var origin: String { "state \(row.namespace)/\(row.key)" }
            var text: String { String(decoding: value, as: UTF8.self) }
            do {
                if row.namespace.hasPrefix(Self.subjectNamespacePrefix) {
                    if value.first == UInt8(ascii: "{") {
                        // Written before subject rows were binary.
                        digests.restore(try SubjectDigest(jsonText: text, origin: origin))
                    } else {
                        let month = String(row.namespace.dropFirst(Self.subjectNamespacePrefix.count))
                        guard digests.restoreSubject(row.key, in: month, state: value) else {
                            throw DigestError(.malformed, "\(origin) is neither a digest nor counters")
                        }
                    }
                } else if row.namespace == Self.orgNamespace {
                    digests.restore(try OrgDigest(jsonText: text, origin: origin))
                } else if row.namespace == Self.consentNamespace {
                    digests.restoreConsentDecisions(of: row.key, try SubjectDigest.ConsentStanding.list(jsonText: text, origin: origin))
                } else if row.namespace == Self.erasureNamespace {
                    digests.restoreErasureRequests(of: row.key, try ErasureRequest.list(jsonText: text, origin: origin))
                }
            } catch {
                throw ProcessingError(.input, "stored digest cannot be read: \(error)")
            }
        }
        digests.tracksChanges = true
    }

    public func processed(_ event: Event, late: Bool) {
        digests.record(event, late: late)
        // Most events can be neither a request nor an answer: tested without copying the watch out.
        if erasureTypes & event.type.bit != 0, let erasure {
            if erasure.satisfiedBy.test(event) { digests.recordErasureAnswer(subject: event.subject, time: event.time) }
            if erasure.start.test(event) { digests.recordErasureRequest(subject: event.subject, time: event.time, event: event.id) }
        }
    }

    public func violated(_ v: Violation) {
        recordViolation(ViolationFacts(v))
    }

    /// Months are closed by `close(through:)`, with the lane's watermark.
    public func monthEnded(_ end: Timestamp) {}

    public func recordViolation(_ v: ViolationFacts) {
        digests.recordViolation(v)
    }

    /// The open months that end at or before `watermark`, oldest first.
    public func months(endingBy watermark: Timestamp) -> [String] {
        digests.openMonths.filter { month in
            Timestamp(rfc3339: month + "-01T00:00:00Z").map { $0.startOfNextMonth <= watermark } ?? false
        }
    }

    /// Whether the subject has a digest in the open month.
    public func holds(_ subject: String, in month: String) -> Bool { digests.holds(subject, in: month) }

    /// Whether this lane carries the subject's consent decisions (so the subject's digests are made here).
    public func carriesDecisions(of subject: String) -> Bool { digests.carriesDecisions(of: subject) }

    /// Closes the months that end at or before `watermark`; with tracked changes their rows are deleted with the
    /// next `stateChanges()`.
    public func close(through watermark: Timestamp) -> [ClosedMonth] {
        var closed: [ClosedMonth] = []
        if let end = earliestOpenMonthEnd, end <= watermark {
            closed = digests.close(endingBy: watermark)
        }
        guard digests.tracksChanges else { return closed }
        let boundary = watermark.monthKey
        if digests.closedBefore.map({ $0 < boundary }) ?? true { digests.closedBefore = boundary }
        for month in closed {
            let namespace = Self.subjectNamespacePrefix + month.month
            pendingDeletes += month.subjects.subjectNames.map { StateChange(namespace: namespace, key: $0, value: nil) }
            pendingDeletes.append(StateChange(namespace: Self.orgNamespace, key: month.month, value: nil))
        }
        return closed
    }

    /// The rows changed since the last call: touched subjects of open months, their months' organisation parts,
    /// and the deletion of closed months.
    public func stateChanges() -> [StateChange] {
        var rows: [StateChange] = []
        let changes = digests.takeChanges()
        let names = changes.isEmpty ? [] : SymbolTable.shared.all
        for (month, subjects) in changes.sorted(by: { $0.key < $1.key }) {
            guard let org = digests.orgDigest(month) else { continue }
            let namespace = Self.subjectNamespacePrefix + month
            for subject in subjects.sorted() {
                guard let state = digests.subjectState(subject, in: month, names: names) else { continue }
                rows.append(StateChange(namespace: namespace, key: subject, value: state))
            }
            rows.append(StateChange(namespace: Self.orgNamespace, key: month, value: org.json.bytes))
        }
        for subject in digests.takeConsentChanges().sorted() {
            let list = digests.consentDecisions(of: subject)
            rows.append(StateChange(namespace: Self.consentNamespace, key: subject,
                                    value: list.isEmpty ? nil : SubjectDigest.ConsentStanding.json(list).bytes))
        }
        for subject in digests.takeErasureChanges().sorted() {
            let list = digests.erasureRequests(of: subject)
            rows.append(StateChange(namespace: Self.erasureNamespace, key: subject,
                                    value: list.isEmpty ? nil : ErasureRequest.json(list).bytes))
        }
        defer { pendingDeletes = [] }
        return rows + pendingDeletes
    }
}

/// What tells the digests an erasure request and its answer: the pipeline's erasure deadline (an enabled `deadline` rule
/// tagged `erasure`, the shortest if several), whose start is a request and whose `satisfied_by` is an answer.
public struct ErasureWatch: Sendable {
    public let start: CompiledExpression
    public let satisfiedBy: CompiledExpression
    public let within: Events.Duration

    public init?(pipeline: Pipeline) {
        var found: (CompiledExpression, CompiledExpression, Events.Duration)?
        for rule in pipeline.rules where rule.enabled && rule.tags.contains("erasure") {
            if case .deadline(let start, let satisfiedBy, let within, _) = rule.spec, found.map({ within < $0.2 }) ?? true {
                found = (start, satisfiedBy, within)
            }
        }
        guard let found else { return nil }
        (start, satisfiedBy, within) = found
    }
}

extension ViolationFacts {
    /// The facts of a violation: role, system and categories from its evidence (the triggering event's, or a retention
    /// clock's category).
    public init(_ v: Violation) {
        var categories: [String] = []
        if case .array(let items)? = v.evidence["categories"] {
            for case .string(let c) in items where !categories.contains(c) { categories.append(c) }
        } else if case .string(let c)? = v.evidence["clock"]?["category"] {
            categories = [c]
        }
        func text(_ key: String) -> String? {
            if case .string(let s)? = v.evidence[key] { return s }
            return nil
        }
        self.init(rule: v.rule, kind: v.kind.rawValue, reason: v.reason, severity: v.severity.name, time: v.time,
                  subject: v.subject, actor: v.actor, role: text("role"), system: text("system"), categories: categories)
    }
}
