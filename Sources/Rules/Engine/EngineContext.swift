import Events

/// What rule evaluators share: the time being processed, timers, consent decisions and the violations found.
final class EngineContext {
    /// What a timer is for, in 28 bytes, read by its evaluator, which knows which fields it set (no tag: the
    /// month's end is the timer without an evaluator).
    struct TimerPayload {
        /// The subject (retention), the key (deadline, window end); empty for the month's end.
        var key: String
        var generation: UInt64
        /// A retention clock's category, by its pre-order index in the categories tree.
        var category: Int32

        static let monthEnd = TimerPayload(key: "", generation: 0, category: 0)

        static func retention(subject: String, generation: UInt64, category: Int32) -> TimerPayload {
            TimerPayload(key: subject, generation: generation, category: category)
        }

        static func deadline(key: String, generation: UInt64) -> TimerPayload {
            TimerPayload(key: key, generation: generation, category: 0)
        }

        static func windowEnd(key: String) -> TimerPayload { TimerPayload(key: key, generation: 0, category: 0) }
    }

    /// 48 bytes: a million customers' retention clocks each have one.
    struct Timer: HeapOrdered {
        var time: Timestamp
        var seq: UInt64
        var payload: TimerPayload
        /// The evaluator's position; -1 for the month's end.
        var evaluator: Int32

        static func precedes(_ a: Timer, _ b: Timer) -> Bool { a.time < b.time || (a.time == b.time && a.seq < b.seq) }
    }

    let taxonomy: Taxonomy
    /// The language of the messages of rules that give their own.
    let language: MessageLanguage
    /// Event time of what is being processed: the event's time, or the timer's.
    var now: Timestamp = .distantPast
    var timers = Heap<Timer>()
    var ledger = ConsentLedger()
    var violations: [Violation] = []
    private var timerSeq: UInt64 = 0
    var generation: UInt64 = 0

    init(taxonomy: Taxonomy, language: MessageLanguage = .en) {
        self.taxonomy = taxonomy
        self.language = language
    }

    func schedule(at time: Timestamp, evaluator: Int, payload: TimerPayload) {
        timerSeq += 1
        timers.insert(Timer(time: time, seq: timerSeq, payload: payload, evaluator: Int32(evaluator)))
    }

    /// A fresh number to tell a live timer from one whose clock was restarted or cleared.
    func nextGeneration() -> UInt64 {
        generation += 1
        return generation
    }

    /// A violation, whose message is the rule's template rendered from it, or else (and should the template give
    /// nothing) `message`.
    func emit(
        _ rule: Rule, reason: String, time: Timestamp, subject: String, actor: String?, event: String,
        idParts: [String], message: @autoclosure () -> String, evidence: [(String, JSONValue)]
    ) {
        var violation = Violation(
            id: ViolationID.make(rule.id, reason, idParts), rule: rule.id, kind: rule.kind, reason: reason,
            severity: rule.severity, time: time, subject: subject, actor: actor, event: event, detectedAt: now,
            message: "", evidence: .object(evidence), tags: rule.tags, alert: rule.alert)
        violation.message = rule.message?.template(reason: reason, language: language)?.render(violation) ?? ""
        if violation.message.isEmpty { violation.message = message() }
        violations.append(violation)
    }
}

/// Every consent decision of every subject, in event-time order (arrival order among equal times).
struct ConsentLedger {
    /// One decision, in 36 bytes: the purpose as its pre-order interval, the source as its symbol id and the status
    /// in its top bit, without their texts (a million customers' decisions are kept for as long as the engine runs).
    struct Decision {
        var time: Timestamp
        var event: String
        private var purposeIndex: Int32
        private var purposeEnd: Int32
        /// The source's symbol id (`noSource`: none), with the top bit set for a withdrawal.
        private var sourceAndStatus: UInt32

        private static var withdrawn: UInt32 { 1 << 31 }
        private static var noSource: UInt32 { withdrawn - 1 }

        init(time: Timestamp, purpose: TaxonomyNode, status: ConsentStatus, source: Symbol?, event: String) {
            self.time = time
            self.event = event
            purposeIndex = purpose.index
            purposeEnd = purpose.end
            sourceAndStatus = (source.map { Swift.min($0.id, Self.noSource) } ?? Self.noSource)
                | (status == .withdrawn ? Self.withdrawn : 0)
        }

        var status: ConsentStatus { sourceAndStatus & Self.withdrawn != 0 ? .withdrawn : .granted }

        /// Whether the decision is for `purpose` or one of its ancestors.
        func covers(_ purpose: TaxonomyNode) -> Bool { purposeIndex <= purpose.index && purpose.index < purposeEnd }

        func purpose(in uses: Taxonomy.Tree) -> TaxonomyNode { uses.node(at: purposeIndex) }

        var source: Symbol? {
            let id = sourceAndStatus & Self.noSource
            return id == Self.noSource ? nil : SymbolTable.shared.symbol(id: id)
        }
    }

    /// Each subject's decisions, latest first.
    private var bySubject = KeyedLists<String, Decision>()
    /// Subjects whose decisions changed since `takeChanges()`, when tracking.
    private var changed: Set<String> = []
    var tracksChanges = false

    mutating func record(_ event: Event) {
        guard event.type == .consent, let purpose = event.purpose, let status = event.status else { return }
        let d = Decision(time: event.time, purpose: purpose, status: status, source: event.source, event: event.id)
        // A late decision goes after every decision at or before its time: before them, latest first.
        bySubject.insert(d, for: event.subject, beforeFirst: { $0.time <= d.time })
        if tracksChanges { changed.insert(event.subject) }
    }

    /// The latest decision for `purpose` or one of its ancestors taken at or before `time`.
    func decision(subject: String, purpose: TaxonomyNode, at time: Timestamp) -> Decision? {
        for d in bySubject[subject] where d.time <= time && d.covers(purpose) {
            return d
        }
        return nil
    }

    /// A subject's decisions in event-time order.
    func decisions(of subject: String) -> [Decision] { Array(bySubject[subject]).reversed() }

    /// The subjects whose decisions changed since the last call, with their decisions in event-time order.
    mutating func takeChanges() -> [(String, [Decision])] {
        defer { changed.removeAll(keepingCapacity: true) }
        return changed.map { ($0, decisions(of: $0)) }
    }

    /// Puts a subject's decisions (in event-time order) loaded from a store, without marking them changed.
    mutating func restore(_ subject: String, _ decisions: [Decision]) { bySubject.set(subject, decisions.reversed()) }
}

/// One compiled rule with its state.
protocol RuleEvaluator: AnyObject {
    var rule: Rule { get }
    /// The event types whose events `process` can act on (bits `1 << rawValue`): it is not offered the others.
    var eventTypes: UInt32 { get }
    var persistence: RulePersistence { get }
    func process(_ event: Event, _ context: EngineContext)
    func fire(_ payload: EngineContext.TimerPayload, at time: Timestamp, _ context: EngineContext)
    /// False for a timer whose firing would do nothing (its clock was restarted or cleared): it may be dropped.
    func isLive(_ payload: EngineContext.TimerPayload, at time: Timestamp) -> Bool
}

extension RuleEvaluator {
    var persistence: RulePersistence { NoPersistence() }

    func isLive(_ payload: EngineContext.TimerPayload, at time: Timestamp) -> Bool { true }

    func fire(_ payload: EngineContext.TimerPayload, at time: Timestamp, _ context: EngineContext) {}
}

func keyList(_ nodes: [TaxonomyNode]) -> JSONValue { .array(nodes.map { .string($0.key) }) }
