import Events

/// The organisation's month in aggregate, with what a privacy office publishes (docs/schemas/org-digest.schema.json).
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
    /// Violations by kind, reason, role, actor, system and category; retention overdue by category.
    public var breakdown = ViolationBreakdown()
    public var erasure = ErasureSummary()
    public var lateEvents = 0

    public init(month: String) { self.month = month }

    /// Counts one violation (its subject's digest counts it too: `subjectsWithViolations` is the caller's).
    public mutating func count(_ v: ViolationFacts) {
        violationTotal += 1
        violationsByRule[v.rule, default: 0] += 1
        violationsBySeverity[v.severity, default: 0] += 1
        breakdown.count(v)
    }

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
        breakdown.add(part.breakdown)
        erasure.add(part.erasure)
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
            ] + breakdown.jsonMembers)),
            ("accesses", .object([
                ("by_purpose", .counts(accessesByPurpose)), ("by_role", .counts(accessesByRole)),
                ("by_category", .counts(accessesByCategory)),
            ])),
            ("shares", .object([("by_recipient", .counts(sharesByRecipient))])),
            ("consent", .object([("granted", .counts(consentGranted)), ("withdrawn", .counts(consentWithdrawn))])),
            ("erasure", erasure.json),
            ("retention_overdue", .object([("by_category", .counts(breakdown.retentionOverdueByCategory))])),
            ("late_events", .int(Int64(lateEvents))),
        ])
    }
}

/// Monthly digests kept incrementally: events and violations are added as the engine meets them, and a month
/// is closed when the watermark passes its end.
///
/// While a month is open its counts are kept compactly (`SubjectTally`, `OrgTally`: counters keyed by `Symbol`
/// ids, no `String` hashed per event); they become `SubjectDigest` and `OrgDigest` when asked for or closed.
public struct MonthlyDigests: Sendable {
    struct OpenMonth: Sendable {
        let key: String
        let start: Timestamp
        let end: Timestamp
        /// Closed already as far as `closed`/`closedBefore` say (possible for a month restored from a store).
        var isClosed = false
        var subjects: [String: SubjectTally] = [:]
        var org = OrgTally()
    }

    /// Open months by start.
    private var months: [OpenMonth] = []
    private var recent = 0
    /// Months already closed; activity that arrives for them later is counted here instead of being lost silently.
    public private(set) var closed: Set<String> = []
    public private(set) var lateForClosedMonths = 0
    /// Months before this one (`YYYY-MM`) count as closed too: a durable owner restored from a store knows only
    /// how far it has closed, not each month.
    public var closedBefore: String? {
        didSet { for i in months.indices { months[i].isClosed = isClosed(months[i].key) } }
    }
    /// When true, the months and subjects changed since `takeChanges()` are remembered (for a durable store).
    public var tracksChanges = false
    public private(set) var changed: [String: Set<String>] = [:]
    private var symbols = DigestSymbols()
    /// Each subject's consent decisions (`since`: the decision's time) that can still be in force at the end of an open month, sorted by purpose, then
    /// time (arrival order among equal times); carried across months, and across closed ones.
    private var decisions = KeyedLists<String, KeptDecision>()
    /// Subjects whose decisions changed since `takeConsentChanges()` (with `tracksChanges`).
    private var decisionsChanged: Set<String> = []
    /// Each subject's erasure requests, in time order, until answered and closed (`ErasureRequest`).
    private var erasures = KeyedLists<String, ErasureRequest>()
    private var erasuresChanged: Set<String> = []
    /// The pipeline's erasure deadline, which tells answers on time from late ones.
    public let erasureDeadline: Duration?

    public init(erasureDeadline: Duration? = nil) { self.erasureDeadline = erasureDeadline }

    private func isClosed(_ month: String) -> Bool {
        closed.contains(month) || closedBefore.map { month < $0 } ?? false
    }

    /// The open months (`YYYY-MM`), oldest first.
    public var openMonths: [String] { months.map(\.key) }

    public var openMonthCount: Int { months.count }

    /// The end of the earliest open month.
    public var earliestOpenMonthEnd: Timestamp? { months.first?.end }

    /// Whether the subject has a digest in the open month.
    public func holds(_ subject: String, in month: String) -> Bool {
        months.first { $0.key == month }?.subjects[subject] != nil
    }

    /// A subject's digest of an open month as it stands.
    public func subjectDigest(_ subject: String, in month: String) -> SubjectDigest? {
        guard let m = months.first(where: { $0.key == month }), let tally = m.subjects[subject] else { return nil }
        let names = SymbolTable.shared.all
        return tally.digest(subject: subject, month: month, consentState: consentState(of: subject, at: m.end, names), names)
    }

    /// The decision in force at `end` for each purpose the subject decided on before it, sorted by purpose.
    public func consentState(of subject: String, at end: Timestamp) -> [SubjectDigest.ConsentStanding] {
        consentState(of: subject, at: end, SymbolTable.shared.all)
    }

    private func consentState(of subject: String, at end: Timestamp, _ names: [Symbol]) -> [SubjectDigest.ConsentStanding] {
        var out: [KeptDecision] = []
        appendConsentState(of: subject, at: end, to: &out)
        return out.map { $0.standing(names) }
    }

    /// The decisions of `consentState(of:at:)`, appended to `out`.
    private func appendConsentState(of subject: String, at end: Timestamp, to out: inout [KeptDecision]) {
        var last: KeptDecision?
        for d in decisions[subject] where d.since < end {
            if let l = last, l.purpose != d.purpose { out.append(l) }
            last = d
        }
        if let last { out.append(last) }
    }

    /// Whether this lane has seen a consent decision of the subject (its subjects are those it carries decisions for,
    /// as well as those with a digest in an open month).
    public func carriesDecisions(of subject: String) -> Bool { decisions.contains(subject) }

    /// A subject's decisions as kept (for a durable store), and put back from one.
    public func consentDecisions(of subject: String) -> [SubjectDigest.ConsentStanding] {
        let names = SymbolTable.shared.all
        return decisions[subject].map { $0.standing(names) }
    }

    /// Takes them as written (sorted by purpose, then time).
    public mutating func restoreConsentDecisions(of subject: String, _ restored: [SubjectDigest.ConsentStanding]) {
        decisions.set(subject, restored.lazy.map(KeptDecision.init))
    }

    /// The subjects whose decisions changed since the last call.
    public mutating func takeConsentChanges() -> Set<String> {
        defer { decisionsChanged = [] }
        return decisionsChanged
    }

    private mutating func decide(_ subject: String, _ decision: KeptDecision) {
        decisions.insert(decision, for: subject, beforeFirst: { decision.precedes($0) })
        if tracksChanges { decisionsChanged.insert(subject) }
    }

    /// Forgets decisions that can no longer be in force at the end of an open month: for each purpose, all but the
    /// last one made before `horizon` (the start of the earliest month that can still close).
    private mutating func forgetDecisions(before horizon: Timestamp) {
        let tracks = tracksChanges
        var changedSubjects: [String] = []
        decisions.removeSuperseded(by: { next, d in next.purpose == d.purpose && next.since < horizon }) { subject in
            if tracks { changedSubjects.append(subject) }
        }
        decisionsChanged.formUnion(changedSubjects)
    }

    /// A subject's erasure requests as kept (for a durable store), and put back from one.
    public func erasureRequests(of subject: String) -> [ErasureRequest] { Array(erasures[subject]) }

    public mutating func restoreErasureRequests(of subject: String, _ restored: [ErasureRequest]) {
        erasures.set(subject, restored)
    }

    /// The subjects whose erasure requests changed since the last call.
    public mutating func takeErasureChanges() -> Set<String> {
        defer { erasuresChanged = [] }
        return erasuresChanged
    }

    /// An erasure request (the start of the pipeline's erasure deadline), counted in its month.
    public mutating func recordErasureRequest(subject: String, time: Timestamp, event: String) {
        erasures.insert(ErasureRequest(time: time, event: event), for: subject, beforeFirst: { $0.time > time })
        if tracksChanges { erasuresChanged.insert(subject) }
        guard let m = index(of: time) else { return }
        months[m].org.erasure.requested += 1
        if tracksChanges { changed[months[m].key, default: []].insert(subject) }
    }

    /// A deletion that satisfies the erasure deadline: it answers the subject's open requests made before it, each
    /// counted in the deletion's month.
    public mutating func recordErasureAnswer(subject: String, time: Timestamp) {
        guard erasures.contains(subject) else { return }
        let m = index(of: time)
        var completed: [Timestamp] = []
        let answered = erasures.update(for: subject) { r in
            guard r.answered == nil, r.time <= time else { return false }
            r.answered = time
            completed.append(r.time)
            return true
        }
        guard answered else { return }
        if let m { for requested in completed { months[m].org.erasure.complete(requestedAt: requested, at: time) } }
        if tracksChanges {
            erasuresChanged.insert(subject)
            if let m { changed[months[m].key, default: []].insert(subject) }
        }
    }

    /// Forgets requests answered before `horizon` (every month they were open in has closed).
    private mutating func forgetErasures(before horizon: Timestamp) {
        // The subjects are found first: a list may go as a whole, and the lists' keys cannot change while being read.
        var answered: [String] = []
        for subject in erasures.keys where erasures[subject].contains(where: { r in r.answered.map { $0 < horizon } ?? false }) {
            answered.append(subject)
        }
        for subject in answered {
            erasures.removeAll(for: subject) { r in r.answered.map { $0 < horizon } ?? false }
            if tracksChanges { erasuresChanged.insert(subject) }
        }
    }

    /// An open month's organisation digest as it stands (`subjects` and `subjectsWithViolations` are filled in
    /// when the month closes).
    public func orgDigest(_ month: String) -> OrgDigest? {
        months.first { $0.key == month }.map {
            $0.org.digest(month: month, SymbolTable.shared.all)
        }
    }

    /// The subjects changed since the last call, by month (a month's organisation part changes with any of them).
    public mutating func takeChanges() -> [String: Set<String>] {
        defer { changed = [:] }
        return changed
    }

    /// Puts back a subject's digest of an open month, loaded from a store.
    public mutating func restore(_ digest: SubjectDigest) {
        guard let i = index(ofKey: digest.month) else { return }
        months[i].subjects[digest.subject] = SubjectTally(digest)
    }

    /// A subject's counters of an open month as a state row (binary, not a digest: see `SubjectTally+State.swift`);
    /// `names` is a snapshot of the symbol table (`SymbolTable.shared.all`).
    public func subjectState(_ subject: String, in month: String, names: [Symbol]) -> [UInt8]? {
        months.first { $0.key == month }?.subjects[subject]?.state(names)
    }

    /// The subjects with a digest in an open month, sorted.
    public func subjectNames(in month: String) -> [String] {
        months.first { $0.key == month }.map { $0.subjects.keys.sorted() } ?? []
    }

    /// How many subjects have a digest in an open month.
    public func subjectCount(in month: String) -> Int {
        months.first { $0.key == month }?.subjects.count ?? 0
    }

    /// Puts back a subject's counters of an open month from a state row; false when the bytes are not one.
    public mutating func restoreSubject(_ subject: String, in month: String, state: [UInt8]) -> Bool {
        guard let tally = SubjectTally(state: state) else { return false }
        if let i = index(ofKey: month) { months[i].subjects[subject] = tally }
        return true
    }

    /// Puts back an open month's organisation part, loaded from a store.
    public mutating func restore(_ org: OrgDigest) {
        guard let i = index(ofKey: org.month) else { return }
        months[i].org = OrgTally(org)
        months[i].org.erasure.deadline = erasureDeadline
    }

    public mutating func record(_ event: Event, late: Bool) {
        if event.type == .consent, let purpose = event.purpose, let status = event.status {
            // A decision stands in later months whether or not its own month is still open.
            decide(event.subject, KeptDecision(since: event.time, purpose: symbols.use(purpose), status: symbols.status(status),
                                               source: event.source?.id ?? .max))
        }
        guard let i = index(of: event.time) else {
            lateForClosedMonths += 1
            return
        }
        months[i].subjects[event.subject, default: SubjectTally()].record(event, &symbols)
        months[i].org.record(event, late: late, &symbols)
        if tracksChanges { changed[months[i].key, default: []].insert(event.subject) }
    }

    public mutating func recordViolation(_ v: ViolationFacts) {
        guard let i = index(of: v.time) else {
            lateForClosedMonths += 1
            return
        }
        if tracksChanges { changed[months[i].key, default: []].insert(v.subject) }
        let ruleID = Symbol(v.rule).id
        months[i].subjects[v.subject, default: SubjectTally()].recordViolation(rule: ruleID)
        months[i].org.recordViolation(v, rule: ruleID, severity: Symbol(v.severity).id)
    }

    /// Closes every open month that ends at or before `end`, oldest first: subject digests sorted by subject
    /// (byte order), built as they are read, and the organisation digest.
    public mutating func close(endingBy end: Timestamp) -> [ClosedMonth] {
        var out: [ClosedMonth] = []
        guard months.contains(where: { $0.end <= end }) else { return out }
        let names = SymbolTable.shared.all
        while let first = months.first, first.end <= end {
            var month = months.removeFirst()
            recent = 0
            closed.insert(month.key)
            changed.removeValue(forKey: month.key)
            // The tallies stay in their dictionary, read in the order of the sorted names: a copy of them all as an
            // array would be the largest allocation of a month close.
            let tallies = month.subjects
            month.subjects = [:]
            let order = tallies.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            // Decisions are forgotten below: each subject's standing at the month's end is taken now, into one array
            // of kept decisions (an array per subject would be an allocation per customer, and standings with their
            // texts three times the size).
            var standings: [KeptDecision] = []
            var standingEnds: [Int32] = []
            standingEnds.reserveCapacity(order.count)
            for subject in order {
                appendConsentState(of: subject, at: month.end, to: &standings)
                standingEnds.append(Int32(standings.count))
            }
            let subjects = ClosedSubjects(month: month.key, tallies: tallies, order: order, standings: standings,
                                          standingEnds: standingEnds, symbols: names)
            var org = month.org.digest(month: month.key, names)
            org.subjects = tallies.count
            org.subjectsWithViolations = tallies.values.reduce(0) { $0 + ($1.violationTotal > 0 ? 1 : 0) }
            var carried = false
            erasures.forEach { r in
                guard r.isOpen(at: month.end) else { return }
                org.erasure.stillOpen(requestedAt: r.time, monthEnd: month.end)
                carried = true
            }
            out.append(ClosedMonth(month: month.key, subjects: subjects, org: org))
            // A request still open is counted at the end of every month until it is answered, with or without
            // activity in this lane: the next month is opened for it (and stored, so that a restart keeps it open).
            if carried, !isClosed(month.end.monthKey), let next = index(ofKey: month.end.monthKey), tracksChanges {
                changed[months[next].key, default: []].formUnion([])
            }
        }
        if let closedEnd = out.last.flatMap({ c in Timestamp(rfc3339: c.month + "-01T00:00:00Z")?.startOfNextMonth }) {
            forgetDecisions(before: closedEnd)
            forgetErasures(before: closedEnd)
        }
        return out
    }

    /// The open month containing `time`, opened if need be; nil when that month is closed.
    private mutating func index(of time: Timestamp) -> Int? {
        if recent < months.count, months[recent].start <= time, time < months[recent].end {
            return months[recent].isClosed ? nil : recent
        }
        if let i = months.firstIndex(where: { $0.start <= time && time < $0.end }) {
            recent = i
            return months[i].isClosed ? nil : i
        }
        let key = time.monthKey
        guard !isClosed(key) else { return nil }
        return open(key: key, start: time.startOfMonth, end: time.startOfNextMonth)
    }

    /// The open month `YYYY-MM`, opened if need be (for restored rows; nil when the key is not a month).
    private mutating func index(ofKey key: String) -> Int? {
        if let i = months.firstIndex(where: { $0.key == key }) { return i }
        guard let start = Timestamp(rfc3339: key + "-01T00:00:00Z") else { return nil }
        let i = open(key: key, start: start, end: start.startOfNextMonth)
        months[i].isClosed = isClosed(key)
        return i
    }

    private mutating func open(key: String, start: Timestamp, end: Timestamp) -> Int {
        let i = months.firstIndex { $0.start > start } ?? months.count
        var month = OpenMonth(key: key, start: start, end: end)
        month.org.erasure.deadline = erasureDeadline
        months.insert(month, at: i)
        recent = i
        return i
    }
}

/// Symbol ids of taxonomy keys and event types, looked up by node index (checked against the key, so nodes of
/// another taxonomy never share an entry).
struct DigestSymbols: Sendable {
    private var uses: [(key: String, id: UInt32)] = []
    private var categories: [(key: String, id: UInt32)] = []
    let types: [UInt32] = EventType.allCases.map { Symbol($0.name).id }
    let empty = Symbol("").id

    /// By `ConsentStatus.rawValue`.
    let statuses: [UInt32] = [ConsentStatus.granted, .withdrawn].map { Symbol($0.description).id }

    mutating func use(_ node: TaxonomyNode) -> UInt32 { Self.lookup(&uses, node) }

    func status(_ status: ConsentStatus) -> UInt32 { statuses[Int(status.rawValue)] }
    mutating func category(_ node: TaxonomyNode) -> UInt32 { Self.lookup(&categories, node) }

    private static func lookup(_ table: inout [(key: String, id: UInt32)], _ node: TaxonomyNode) -> UInt32 {
        let i = Int(node.index)
        if i < table.count, table[i].key == node.key { return table[i].id }
        if i >= table.count { table.append(contentsOf: repeatElement((key: "", id: UInt32.max), count: i + 1 - table.count)) }
        let id = Symbol(node.key).id
        table[i] = (node.key, id)
        return id
    }
}

/// One subject's open month: counters keyed by kind and symbol ids, scanned linearly (a customer's month holds a
/// handful), so that counting an event hashes no `String`.
struct SubjectTally: Sendable {
    enum Kind: UInt8, Sendable {
        case accessPurpose, accessCategory, accessRole, accessSystem, usePurpose, share, shareCategory, violationRule
    }

    /// 20 bytes: a million customers' months hold several each.
    struct Counter: Sendable {
        var kind: Kind
        var a: UInt32
        var b: UInt32
        var c: UInt32
        private var n: UInt32

        init(kind: Kind, a: UInt32, b: UInt32, c: UInt32, count: Int) {
            self.kind = kind
            self.a = a
            self.b = b
            self.c = c
            n = UInt32(clamping: count)
        }

        var count: Int {
            get { Int(n) }
            set { n = UInt32(clamping: newValue) }
        }
    }

    /// The consent changes and deletions of the month, which most customers' months have none of: boxed (copied on
    /// write), so that a tally in a dictionary's bucket takes 32 bytes rather than 48.
    private final class Changes: @unchecked Sendable {
        var consent: [SubjectDigest.ConsentChange] = []
        var deletions: [SubjectDigest.Deletion] = []
    }

    var counters: [Counter] = []
    private var totals: (access: UInt32, use: UInt32, violations: UInt32) = (0, 0, 0)
    private var changes: Changes?

    init() {}

    var accessTotal: Int {
        get { Int(totals.access) }
        set { totals.access = UInt32(clamping: newValue) }
    }

    var useTotal: Int {
        get { Int(totals.use) }
        set { totals.use = UInt32(clamping: newValue) }
    }

    var violationTotal: Int {
        get { Int(totals.violations) }
        set { totals.violations = UInt32(clamping: newValue) }
    }

    var consent: [SubjectDigest.ConsentChange] {
        get { changes?.consent ?? [] }
        set { editChanges { $0.consent = newValue } }
    }

    var deletions: [SubjectDigest.Deletion] {
        get { changes?.deletions ?? [] }
        set { editChanges { $0.deletions = newValue } }
    }

    private mutating func editChanges(_ edit: (Changes) -> Void) {
        if changes == nil || !isKnownUniquelyReferenced(&changes!) {
            let copy = Changes()
            if let changes {
                copy.consent = changes.consent
                copy.deletions = changes.deletions
            }
            changes = copy
        }
        edit(changes!)
    }

    mutating func bump(_ kind: Kind, _ a: UInt32, _ b: UInt32 = 0, _ c: UInt32 = 0, by n: Int = 1) {
        for i in counters.indices where counters[i].kind == kind && counters[i].a == a && counters[i].b == b && counters[i].c == c {
            counters[i].count += n
            return
        }
        addCounter(Counter(kind: kind, a: a, b: b, c: c, count: n))
    }

    /// Appends a counter, growing the array by one rather than doubling it: a million customers' months hold a few
    /// counters each, and spare capacity in each would be a third of their size.
    mutating func addCounter(_ counter: Counter) {
        if counters.count == counters.capacity { counters.reserveCapacity(counters.count + 1) }
        counters.append(counter)
    }

    mutating func record(_ event: Event, _ symbols: inout DigestSymbols) {
        switch event.type {
        case .access:
            accessTotal += 1
            // The counters the access adds (its kinds differ, its categories are distinct) are appended together:
            // one reallocation of `counters` for a subject's first access of the month, not one per counter.
            withUnsafeTemporaryAllocation(of: Counter.self, capacity: 3 + event.categories.count) { fresh in
                var n = 0
                func count(_ kind: Kind, _ a: UInt32) {
                    for i in counters.indices where counters[i].kind == kind && counters[i].a == a && counters[i].b == 0 && counters[i].c == 0 {
                        counters[i].count += 1
                        return
                    }
                    fresh.initializeElement(at: n, to: Counter(kind: kind, a: a, b: 0, c: 0, count: 1))
                    n += 1
                }
                if let p = event.purpose { count(.accessPurpose, symbols.use(p)) }
                for c in event.categories { count(.accessCategory, symbols.category(c)) }
                if let r = event.role { count(.accessRole, r.id) }
                if let s = event.system { count(.accessSystem, s.id) }
                guard n > 0 else { return }
                counters.reserveCapacity(counters.count + n)
                counters.append(contentsOf: UnsafeBufferPointer(rebasing: fresh[0..<n]))
            }
        case .use:
            useTotal += 1
            if let p = event.purpose { bump(.usePurpose, symbols.use(p)) }
        case .share:
            let recipient = event.recipient?.id ?? symbols.empty
            let purpose = event.purpose.map { symbols.use($0) } ?? symbols.empty
            bump(.share, recipient, purpose)
            for c in event.categories {
                let id = symbols.category(c)
                if !counters.contains(where: { $0.kind == .shareCategory && $0.a == recipient && $0.b == purpose && $0.c == id }) {
                    addCounter(Counter(kind: .shareCategory, a: recipient, b: purpose, c: id, count: 1))
                }
            }
        case .consent:
            if let p = event.purpose, let s = event.status {
                // Stable insertion keeps time order when a late decision arrives.
                let change = SubjectDigest.ConsentChange(time: event.time, purpose: p.key, status: s.description,
                                                         source: event.source?.string)
                let i = consent.lastIndex { $0.time <= event.time }.map { $0 + 1 } ?? 0
                consent.insert(change, at: i)
            }
        case .delete:
            let deletion = SubjectDigest.Deletion(time: event.time, categories: event.deletesAll ? ["*"] : event.categories.map(\.key))
            let i = deletions.lastIndex { $0.time <= event.time }.map { $0 + 1 } ?? 0
            deletions.insert(deletion, at: i)
        case .collect, .erasureRequest, .relationshipEnd:
            break
        }
    }

    mutating func recordViolation(rule: UInt32) {
        violationTotal += 1
        bump(.violationRule, rule)
    }

    /// A stored digest, as counters.
    init(_ d: SubjectDigest) {
        accessTotal = d.accessTotal
        useTotal = d.useTotal
        violationTotal = d.violationTotal
        consent = d.consent
        deletions = d.deletions
        func add(_ kind: Kind, _ counts: [String: Int]) {
            for (key, n) in counts.sorted(by: { $0.key < $1.key }) { bump(kind, Symbol(key).id, by: n) }
        }
        add(.accessPurpose, d.accessByPurpose)
        add(.accessCategory, d.accessByCategory)
        add(.accessRole, d.accessByRole)
        add(.accessSystem, d.accessBySystem)
        add(.usePurpose, d.useByPurpose)
        add(.violationRule, d.violationsByRule)
        for (recipient, byPurpose) in d.shares.sorted(by: { $0.key < $1.key }) {
            let r = Symbol(recipient).id
            for (purpose, share) in byPurpose.sorted(by: { $0.key < $1.key }) {
                let p = Symbol(purpose).id
                bump(.share, r, p, by: share.count)
                for c in share.categories.sorted() { addCounter(Counter(kind: .shareCategory, a: r, b: p, c: Symbol(c).id, count: 1)) }
            }
        }
    }

    /// The digest these counters make, with the subject's consent standing at the month's end; `names` is a snapshot
    /// of the symbol table.
    func digest(subject: String, month: String, consentState: [SubjectDigest.ConsentStanding], _ names: [Symbol]) -> SubjectDigest {
        var d = SubjectDigest(subject: subject, month: month)
        d.consentState = consentState
        d.accessTotal = accessTotal
        d.useTotal = useTotal
        d.violationTotal = violationTotal
        d.consent = consent
        d.deletions = deletions
        for counter in counters {
            let a = names[Int(counter.a)].string
            switch counter.kind {
            case .accessPurpose: d.accessByPurpose[a, default: 0] += counter.count
            case .accessCategory: d.accessByCategory[a, default: 0] += counter.count
            case .accessRole: d.accessByRole[a, default: 0] += counter.count
            case .accessSystem: d.accessBySystem[a, default: 0] += counter.count
            case .usePurpose: d.useByPurpose[a, default: 0] += counter.count
            case .violationRule: d.violationsByRule[a, default: 0] += counter.count
            case .share:
                d.shares[a, default: [:]][names[Int(counter.b)].string, default: SubjectDigest.Share()].count += counter.count
            case .shareCategory:
                d.shares[a, default: [:]][names[Int(counter.b)].string, default: SubjectDigest.Share()].categories
                    .insert(names[Int(counter.c)].string)
            }
        }
        return d
    }
}

/// The organisation's part of an open month: per kind, counts indexed by symbol id (symbols come from small
/// vocabularies, so the arrays stay small and counting is an array access).
struct OrgTally: Sendable {
    enum Kind: Int, CaseIterable {
        case type, accessPurpose, accessRole, accessCategory, shareRecipient, consentGranted, consentWithdrawn,
             violationRule, violationSeverity
    }

    var counts: [[Int]] = Array(repeating: [], count: Kind.allCases.count)
    var violationTotal = 0
    var lateEvents = 0
    var breakdown = ViolationBreakdown()
    var erasure = ErasureSummary()

    init() {}

    mutating func bump(_ kind: Kind, _ id: UInt32, by n: Int = 1) {
        let i = Int(id)
        if i >= counts[kind.rawValue].count {
            counts[kind.rawValue].append(contentsOf: repeatElement(0, count: i + 1 - counts[kind.rawValue].count))
        }
        counts[kind.rawValue][i] += n
    }

    mutating func record(_ event: Event, late: Bool, _ symbols: inout DigestSymbols) {
        bump(.type, symbols.types[Int(event.type.rawValue)])
        if late { lateEvents += 1 }
        switch event.type {
        case .access:
            if let p = event.purpose { bump(.accessPurpose, symbols.use(p)) }
            if let r = event.role { bump(.accessRole, r.id) }
            for c in event.categories { bump(.accessCategory, symbols.category(c)) }
        case .share:
            if let r = event.recipient { bump(.shareRecipient, r.id) }
        case .consent:
            if let p = event.purpose { bump(event.status == .granted ? .consentGranted : .consentWithdrawn, symbols.use(p)) }
        default: break
        }
    }

    mutating func recordViolation(_ v: ViolationFacts, rule: UInt32, severity: UInt32) {
        breakdown.count(v)
        violationTotal += 1
        bump(.violationRule, rule)
        bump(.violationSeverity, severity)
    }

    /// A stored organisation part, as counters.
    init(_ org: OrgDigest) {
        violationTotal = org.violationTotal
        lateEvents = org.lateEvents
        breakdown = org.breakdown
        erasure = org.erasure
        let parts: [(Kind, [String: Int])] = [
            (.type, org.eventsByType), (.accessPurpose, org.accessesByPurpose), (.accessRole, org.accessesByRole),
            (.accessCategory, org.accessesByCategory), (.shareRecipient, org.sharesByRecipient),
            (.consentGranted, org.consentGranted), (.consentWithdrawn, org.consentWithdrawn),
            (.violationRule, org.violationsByRule), (.violationSeverity, org.violationsBySeverity),
        ]
        for (kind, counts) in parts {
            for (key, n) in counts { bump(kind, Symbol(key).id, by: n) }
        }
    }

    func digest(month: String, _ names: [Symbol]) -> OrgDigest {
        var org = OrgDigest(month: month)
        org.violationTotal = violationTotal
        org.lateEvents = lateEvents
        org.breakdown = breakdown
        org.erasure = erasure
        for kind in Kind.allCases {
            for (id, n) in counts[kind.rawValue].enumerated() where n != 0 {
                let name = names[id].string
                switch kind {
                case .type: org.eventsByType[name, default: 0] += n
                case .accessPurpose: org.accessesByPurpose[name, default: 0] += n
                case .accessRole: org.accessesByRole[name, default: 0] += n
                case .accessCategory: org.accessesByCategory[name, default: 0] += n
                case .shareRecipient: org.sharesByRecipient[name, default: 0] += n
                case .consentGranted: org.consentGranted[name, default: 0] += n
                case .consentWithdrawn: org.consentWithdrawn[name, default: 0] += n
                case .violationRule: org.violationsByRule[name, default: 0] += n
                case .violationSeverity: org.violationsBySeverity[name, default: 0] += n
                }
            }
        }
        return org
    }
}

/// A month that has closed: its organisation digest, and its subjects' digests in byte order of subject.
public struct ClosedMonth: Sendable {
    public let month: String
    public let subjects: ClosedSubjects
    public let org: OrgDigest
}

/// The subject digests of a closed month, each built from its counters when it is read: a month of a million
/// customers never holds all their digests (with their dictionaries) at once, only the counters it already had.
public struct ClosedSubjects: RandomAccessCollection, Sendable {
    let month: String
    let tallies: [String: SubjectTally]
    /// The subjects, in byte order.
    let order: [String]
    /// Each subject's consent standing at the month's end: `standings[standingEnds[i - 1]..<standingEnds[i]]`.
    let standings: [KeptDecision]
    let standingEnds: [Int32]
    let symbols: [Symbol]

    public var startIndex: Int { 0 }
    public var endIndex: Int { order.count }

    public subscript(position: Int) -> SubjectDigest {
        let subject = order[position]
        let tally = tallies[subject, default: SubjectTally()]
        let start = position == 0 ? 0 : Int(standingEnds[position - 1])
        return tally.digest(subject: subject, month: month, consentState: standings[start..<Int(standingEnds[position])].map { $0.standing(symbols) }, symbols)
    }
}

/// A consent decision as the digests keep it, in 24 bytes: purpose, status and source as symbol ids (a million
/// customers' decisions are kept).
struct KeptDecision: Sendable {
    var since: Timestamp
    var purpose: UInt32
    var status: UInt32
    /// `UInt32.max`: no source.
    var source: UInt32

    init(since: Timestamp, purpose: UInt32, status: UInt32, source: UInt32) {
        self.since = since
        self.purpose = purpose
        self.status = status
        self.source = source
    }

    init(_ s: SubjectDigest.ConsentStanding) {
        self.init(since: s.since, purpose: Symbol(s.purpose).id, status: Symbol(s.status).id,
                  source: s.source.map { Symbol($0).id } ?? .max)
    }

    func standing(_ names: [Symbol]) -> SubjectDigest.ConsentStanding {
        SubjectDigest.ConsentStanding(purpose: names[Int(purpose)].string, status: names[Int(status)].string, since: since,
                                      source: source == .max ? nil : names[Int(source)].string)
    }

    /// Whether it sorts before `other`: by purpose (its text), then time.
    func precedes(_ other: KeptDecision) -> Bool {
        if purpose == other.purpose { return since < other.since }
        let table = SymbolTable.shared
        return table.symbol(id: purpose).string < table.symbol(id: other.purpose).string
    }
}
