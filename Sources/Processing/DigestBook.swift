import Digests
import Events
import Rules

/// The monthly digests of one lane of events (a replay's whole input, or one partition of the daemon): the engine's
/// observer. Months close when the watermark passes their end (`close(through:)`), in a replay and in the daemon
/// alike. With `tracksChanges`, the subjects each batch touched become state rows, so that a partition's digests
/// move with it and survive restarts.
///
/// Rows: namespace `digest-log:YYYY-MM`, key a number above every such row the lane has stored, value the counters
/// of the subjects one checkpoint touched in that month (`DigestLog`, at most `subjectsPerLogRow` a row), a later
/// row's standing over an earlier one's; once a month's rows hold three times as many subjects' counters as the month
/// has subjects, the next rows hold all of them and the others are deleted. (Versions before 2026-12-02 wrote
/// namespace `digest:YYYY-MM`, key the subject, value its counters or its digest's JSON: read, and deleted with the
/// month's next full rows or its close. Rows of months already closed are deleted, not read.)
/// Namespace `digest-org`, key the month, value the lane's part of the organisation digest. A closed month's rows
/// are deleted. Namespace
/// `consent-decisions`, key the subject, value the consent decisions that can still stand at the end of an open month
/// (a JSON list of `{purpose, status, since, source}`, as `consent_state`), kept across months. Namespace
/// `erasure-requests`, key the subject, value its erasure requests still open or answered in an open month (a JSON
/// list of `{time, event, answered}`).
public final class DigestBook: EngineObserver {
    public static let subjectNamespacePrefix = "digest:"
    public static let logNamespacePrefix = "digest-log:"
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
    /// Each open month's rows (with `tracksChanges`).
    private var logs: [String: MonthRows] = [:]
    /// The key of the next `digest-log` row.
    private var nextLogRow: UInt64 = 0

    /// The rows an open month's subjects' counters stand in.
    private struct MonthRows {
        /// `digest-log` keys, oldest first.
        var logKeys: [String] = []
        /// How many subjects' counters those rows hold in all.
        var entries = 0
        /// Keys of `digest:YYYY-MM` rows (one subject each) that an earlier version wrote.
        var subjectKeys: [String] = []
    }
    /// The end of the earliest open month, kept for the check after every event.
    public var earliestOpenMonthEnd: Timestamp? { digests.earliestOpenMonthEnd }

    /// How many months are open (their digests held in memory).
    public var openMonthCount: Int { digests.openMonthCount }

    /// Months before this one are closed (`YYYY-MM`), as far as this lane knows.
    public var closedBefore: String? { digests.closedBefore }

    /// The month of a `digest-log` or `digest` row's namespace.
    private static func month(ofSubjectRow namespace: String) -> String? {
        if namespace.hasPrefix(logNamespacePrefix) { return String(namespace.dropFirst(logNamespacePrefix.count)) }
        if namespace.hasPrefix(subjectNamespacePrefix) { return String(namespace.dropFirst(subjectNamespacePrefix.count)) }
        return nil
    }

    public static func isDigestRow(namespace: String) -> Bool {
        namespace == orgNamespace || namespace == consentNamespace || namespace == erasureNamespace
            || namespace.hasPrefix(subjectNamespacePrefix) || namespace.hasPrefix(logNamespacePrefix)
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
        var logRows: [(month: String, key: String, number: UInt64, value: [UInt8])] = []
        for row in rows {
            guard let value = row.value else { continue }
            if let month = Self.month(ofSubjectRow: row.namespace), let closedBefore, month < closedBefore {
                // Left by a version that did not know the other layout: the month is closed, so the row is deleted.
                pendingDeletes.append(StateChange(namespace: row.namespace, key: row.key, value: nil))
                continue
            }
            var origin: String { "state \(row.namespace)/\(row.key)" }
            var text: String { String(decoding: value, as: UTF8.self) }
            do {
                if row.namespace.hasPrefix(Self.logNamespacePrefix) {
                    guard let number = UInt64(row.key) else { throw DigestError(.malformed, "\(origin) has no row number") }
                    logRows.append((String(row.namespace.dropFirst(Self.logNamespacePrefix.count)), row.key, number, value))
                } else if row.namespace.hasPrefix(Self.subjectNamespacePrefix) {
                    let month = String(row.namespace.dropFirst(Self.subjectNamespacePrefix.count))
                    logs[month, default: MonthRows()].subjectKeys.append(row.key)
                    if value.first == UInt8(ascii: "{") {
                        // Written before subject rows were binary.
                        digests.restore(try SubjectDigest(jsonText: text, origin: origin))
                    } else {
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
        // After the rows of one subject each, which only an earlier version wrote, and oldest first.
        for row in logRows.sorted(by: { $0.number < $1.number }) {
            guard let entries = DigestLog.entries(row.value) else {
                throw ProcessingError(.input, "stored digest cannot be read: state \(Self.logNamespacePrefix)\(row.month)/\(row.key) is not a digest log row")
            }
            for (subject, state) in entries where !digests.restoreSubject(subject, in: row.month, state: state) {
                throw ProcessingError(.input, "stored digest cannot be read: state \(Self.logNamespacePrefix)\(row.month)/\(row.key) holds counters of \(subject) that cannot be read")
            }
            logs[row.month, default: MonthRows()].logKeys.append(row.key)
            logs[row.month, default: MonthRows()].entries += entries.count
            nextLogRow = Swift.max(nextLogRow, row.number + 1)
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
            pendingDeletes += deletions(of: logs.removeValue(forKey: month.month) ?? MonthRows(), month: month.month)
            pendingDeletes.append(StateChange(namespace: Self.orgNamespace, key: month.month, value: nil))
        }
        return closed
    }

    private func deletions(of rows: MonthRows, month: String) -> [StateChange] {
        rows.logKeys.map { StateChange(namespace: Self.logNamespacePrefix + month, key: $0, value: nil) }
            + rows.subjectKeys.map { StateChange(namespace: Self.subjectNamespacePrefix + month, key: $0, value: nil) }
    }

    /// Subjects' counters a `digest-log` row holds at most (about 6 MB), so that no value nears the stores' limits.
    public var subjectsPerLogRow = 50_000

    /// The rows of a month's `subjects` counters that the next checkpoint writes, with the deletion of the rows
    /// they replace.
    private func logRows(month: String, touched subjects: Set<String>, names: [Symbol]) -> [StateChange] {
        var rows = logs[month] ?? MonthRows()
        let count = digests.subjectCount(in: month)
        let whole = !rows.subjectKeys.isEmpty || rows.entries + subjects.count > 3 * count
        let written = whole ? digests.subjectNames(in: month) : subjects.sorted()
        var out: [StateChange] = []
        if whole {
            out = deletions(of: rows, month: month)
            rows = MonthRows()
        }
        for start in stride(from: 0, to: written.count, by: subjectsPerLogRow) {
            let part = written[start..<Swift.min(start + subjectsPerLogRow, written.count)]
            var log = DigestLog(capacity: part.count * 128)
            for subject in part {
                guard let state = digests.subjectState(subject, in: month, names: names) else { continue }
                log.append(subject, state)
            }
            guard log.count > 0 else { continue }
            let number = String(nextLogRow)
            let key = String(repeating: "0", count: Swift.max(0, 20 - number.count)) + number
            nextLogRow += 1
            rows.logKeys.append(key)
            rows.entries += log.count
            out.append(StateChange(namespace: Self.logNamespacePrefix + month, key: key, value: log.bytes))
        }
        logs[month] = rows
        return out
    }

    /// The rows changed since the last call: touched subjects of open months, their months' organisation parts,
    /// and the deletion of closed months.
    public func stateChanges() -> [StateChange] {
        var rows: [StateChange] = []
        let changes = digests.takeChanges()
        let names = changes.isEmpty ? [] : SymbolTable.shared.all
        for (month, subjects) in changes.sorted(by: { $0.key < $1.key }) {
            guard let org = digests.orgDigest(month) else { continue }
            rows += logRows(month: month, touched: subjects, names: names)
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

/// A `digest-log` row: subjects' counters (`SubjectTally+State.swift`), each after its subject.
struct DigestLog {
    static let version: UInt8 = 1
    private var writer: StateBytes.Writer
    private(set) var count = 0

    init(capacity: Int) {
        writer = StateBytes.Writer(version: Self.version, capacity: capacity)
    }

    mutating func append(_ subject: String, _ state: [UInt8]) {
        writer.string(subject)
        writer.blob(state)
        count += 1
    }

    var bytes: [UInt8] { writer.bytes }

    /// The subjects and counters of a row, in the order written; nil when the bytes are not such a row.
    static func entries(_ bytes: [UInt8]) -> [(subject: String, state: [UInt8])]? {
        guard var reader = StateBytes.Reader(bytes, version: version) else { return nil }
        var entries: [(subject: String, state: [UInt8])] = []
        while !reader.atEnd {
            guard let subject = reader.string(), let state = reader.blob() else { return nil }
            entries.append((subject, state))
        }
        return entries
    }
}
