import Digests
import Events
import Rules
import Storage

/// One partition's monthly digests in the daemon: the engine's observer, kept as state rows of the partition so that
/// they move with it and survive restarts. Only the subjects a batch touched are written back.
///
/// Rows: namespace `digest:YYYY-MM`, key the subject, value its digest (SPEC §5 JSON); namespace `digest-org`, key
/// the month, value the partition's part of the organisation digest. A closed month's rows are deleted.
final class PartitionDigests: EngineObserver {
    static let subjectNamespacePrefix = "digest:"
    static let orgNamespace = "digest-org"

    /// A month this partition closed: its subjects (sorted by subject, byte order) and its part of the org digest.
    typealias ClosedMonth = (month: String, subjects: [SubjectDigest], org: OrgDigest)

    private var digests = MonthlyDigests()
    private var pendingDeletes: [StateRow] = []

    /// Months before this one are closed (`YYYY-MM`), as far as this partition knows.
    var closedBefore: String? { digests.closedBefore }

    static func isDigestRow(_ row: StateRow) -> Bool {
        row.namespace == orgNamespace || row.namespace.hasPrefix(subjectNamespacePrefix)
    }

    init(restoring rows: [StateRow], closedBefore: String?) throws(DaemonError) {
        digests.closedBefore = closedBefore
        for row in rows {
            guard let value = row.value else { continue }
            let text = String(decoding: value, as: UTF8.self)
            do {
                if row.namespace == Self.orgNamespace {
                    digests.restore(try OrgDigest(jsonText: text, origin: "state \(row.namespace)/\(row.key)"))
                } else if row.namespace.hasPrefix(Self.subjectNamespacePrefix) {
                    digests.restore(try SubjectDigest(jsonText: text, origin: "state \(row.namespace)/\(row.key)"))
                }
            } catch {
                throw DaemonError(.input, "stored digest cannot be read: \(error)")
            }
        }
        digests.tracksChanges = true
    }

    func processed(_ event: Event, late: Bool) { digests.record(event, late: late) }

    func violated(_ v: Violation) {
        digests.recordViolation(subject: v.subject, rule: v.rule, severity: v.severity.name, time: v.time)
    }

    /// Months are closed by `close(through:)` with the daemon's watermark, also on partitions without events.
    func monthEnded(_ end: Timestamp) {}

    /// The end of the earliest open month (the first instant of the month after it).
    var earliestOpenMonthEnd: Timestamp? {
        digests.open.keys.min().flatMap { Timestamp(rfc3339: $0 + "-01T00:00:00Z") }?.startOfNextMonth
    }

    /// The open months that end at or before `watermark`, oldest first.
    func months(endingBy watermark: Timestamp) -> [String] {
        digests.open.keys.filter { month in
            Timestamp(rfc3339: month + "-01T00:00:00Z").map { $0.startOfNextMonth <= watermark } ?? false
        }.sorted()
    }

    /// Counts the keyed tasks' violations of an open month whose subjects this partition holds; returns their ids.
    func amend(month: String, with amendments: [DigestAmendment]) -> [String] {
        guard let subjects = digests.open[month]?.subjects else { return [] }
        var applied: [String] = []
        for a in amendments where subjects[a.subject] != nil {
            digests.recordViolation(subject: a.subject, rule: a.rule, severity: a.severity, time: a.time)
            applied.append(a.violationID)
        }
        return applied
    }

    /// Closes the months that end at or before `watermark`; their rows are deleted with the next `stateChanges()`.
    func close(through watermark: Timestamp) -> [ClosedMonth] {
        let closed = digests.close(endingBy: watermark)
        let boundary = watermark.monthKey
        if digests.closedBefore.map({ $0 < boundary }) ?? true { digests.closedBefore = boundary }
        for month in closed {
            let namespace = Self.subjectNamespacePrefix + month.month
            pendingDeletes += month.subjects.map { StateRow(namespace: namespace, key: $0.subject, value: nil) }
            pendingDeletes.append(StateRow(namespace: Self.orgNamespace, key: month.month, value: nil))
        }
        return closed
    }

    /// The rows changed since the last call: touched subjects of open months, their months' organisation parts,
    /// and the deletion of closed months.
    func stateChanges() -> [StateRow] {
        var rows: [StateRow] = []
        for (month, subjects) in digests.takeChanges().sorted(by: { $0.key < $1.key }) {
            guard let open = digests.open[month] else { continue }
            let namespace = Self.subjectNamespacePrefix + month
            for subject in subjects.sorted() {
                guard let digest = open.subjects[subject] else { continue }
                rows.append(StateRow(namespace: namespace, key: subject, value: Array(digest.json.serialized.utf8)))
            }
            rows.append(StateRow(namespace: Self.orgNamespace, key: month, value: Array(open.org.json.serialized.utf8)))
        }
        defer { pendingDeletes = [] }
        return rows + pendingDeletes
    }
}
