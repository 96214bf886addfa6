import Events

/// Sees what the engine does, in event-time order (digests, metrics).
public protocol EngineObserver: AnyObject {
    /// An event was processed by the rules (never invalid, never a duplicate).
    func processed(_ event: Event, late: Bool)
    func violated(_ violation: Violation)
    /// The watermark reached `end`, the first instant of the next UTC month: the month before it is complete.
    func monthEnded(_ end: Timestamp)
}

/// What became of an offered event.
public enum Admission: Sendable, Equatable {
    case accepted
    case late
    case duplicate
}

public struct EngineCounters: Sendable {
    public var accepted = 0
    public var late = 0
    public var duplicates = 0
    public var processed = 0
    public var violations = 0
    public var timersFired = 0
}

/// The streaming rule engine: de-duplication, the event-time buffer and watermark, timers and the rule kinds.
/// Reads no clock: time is the event time of its input.
public final class Engine {
    public let pipeline: Pipeline
    public internal(set) var watermark: Timestamp = .distantPast
    public internal(set) var maxEventTime: Timestamp?
    public private(set) var counters = EngineCounters()
    /// Timers waiting for the watermark (stale ones included until the next compaction).
    public var pendingTimers: Int { context.timers.count }
    /// Held strongly (no observer holds its engine): a weak reference cost a load and a release per event.
    public var observer: EngineObserver?
    /// When false, only `advanceWatermark(to:)` moves the watermark: the daemon sets it to the minimum over its
    /// partitions. Replays leave it true: the largest event time seen minus `lateness`.
    public var advancesOwnWatermark = true

    let context: EngineContext
    var evaluators: [RuleEvaluator] = []
    /// The evaluators, in rule order, that can act on events of each type (by `rawValue`).
    var evaluatorsByType: [[RuleEvaluator]] = []
    var buffer = Heap<Pending>()
    /// The buffer's changes since the last `takeStateChanges()`, kept only while state changes are tracked.
    var bufferChanges = BufferChanges()
    /// The largest arrival number of the buffered events `restore(_:)` loaded.
    var storedBufferThrough: UInt64 = 0
    var dedup: DedupWindow
    var arrivals: UInt64 = 0
    var nextMonthEnd: Timestamp?
    /// True while a durable store follows the state: changed keys are kept for `takeStateChanges()`.
    public internal(set) var tracksChanges = false
    /// The clock row as the store last got it: `takeStateChanges()` writes it again only when it changed.
    var storedClock: ClockRecord?

    /// A buffered event. The event lives in a box so that heap moves copy one reference, not a dozen fields.
    struct Pending: HeapOrdered {
        final class Box {
            let event: Event
            init(_ event: Event) { self.event = event }
        }

        let box: Box
        let time: Timestamp
        let seq: UInt64

        init(event: Event, seq: UInt64) {
            box = Box(event)
            time = event.time
            self.seq = seq
        }

        var event: Event { box.event }

        static func precedes(_ a: Pending, _ b: Pending) -> Bool { a.time < b.time || (a.time == b.time && a.seq < b.seq) }
    }

    public init(pipeline: Pipeline) {
        self.pipeline = pipeline
        context = EngineContext(taxonomy: pipeline.taxonomy, language: pipeline.language)
        dedup = DedupWindow(window: pipeline.dedupWindow)
        for (index, rule) in pipeline.rules.enumerated() where rule.enabled {
            evaluators.append(makeEvaluator(rule, index: index))
        }
        evaluatorsByType = EventType.allCases.map { type in
            evaluators.filter { $0.eventTypes & type.bit != 0 }
        }
    }

    /// Events held back waiting for the watermark.
    public var buffered: Int { buffer.count }

    /// Offers a valid event in arrival order. Returns whether it was buffered, processed at once as late, or ignored
    /// as a duplicate.
    @discardableResult
    public func offer(_ event: Event) -> Admission {
        guard dedup.insert(event.id, time: event.time) else {
            counters.duplicates += 1
            return .duplicate
        }
        counters.accepted += 1
        if nextMonthEnd == nil {
            let end = event.time.startOfNextMonth
            nextMonthEnd = end
            context.schedule(at: end, evaluator: -1, payload: .monthEnd)
        }
        if event.time < watermark {
            counters.late += 1
            process(event, late: true)
            release(inclusive: false)
            return .late
        }
        arrivals += 1
        buffer.insert(Pending(event: event, seq: arrivals))
        if tracksChanges { bufferChanges.buffered(arrivals, event) }
        if maxEventTime.map({ event.time > $0 }) ?? true {
            maxEventTime = event.time
            let candidate = event.time - pipeline.lateness
            if advancesOwnWatermark, candidate > watermark { watermark = candidate }
        }
        release(inclusive: false)
        return .accepted
    }

    /// Moves the watermark forward (never back) and processes what it passes: for the daemon's
    /// partition-aware watermark, or a replay's `--until`.
    public func advanceWatermark(to time: Timestamp) {
        if time > watermark { watermark = time }
        release(inclusive: false)
    }

    /// Processes events that are already de-duplicated and in event-time order (equal times in arrival order), then
    /// moves the watermark to `target`: the daemon's keyed stage, whose input the partitions have released in order.
    /// Timers due at or before an event's time fire before it; an event before the watermark is late.
    public func process(ordered events: [Event], through target: Timestamp) {
        for event in events {
            counters.accepted += 1
            if event.time < watermark {
                counters.late += 1
                process(event, late: true)
                continue
            }
            while let timer = context.timers.min, timer.time <= event.time {
                context.timers.popMin()
                fire(timer)
            }
            process(event, late: false)
        }
        advanceWatermark(to: target)
    }

    /// The watermark this engine's own events would allow: the largest event time seen minus `lateness`.
    public var localWatermark: Timestamp? { maxEventTime.map { $0 - pipeline.lateness } }

    /// Ends a finite input: the watermark advances to `until`, or to the largest event time seen, and every
    /// buffered event and due timer is processed.
    public func finish(until: Timestamp? = nil) {
        if let target = until ?? maxEventTime, target > watermark { watermark = target }
        release(inclusive: true)
    }

    /// Violations found since the last call, in the order they were found.
    public func drainViolations() -> [Violation] {
        reported = 0
        guard !context.violations.isEmpty else { return [] }
        var found: [Violation] = []
        swap(&found, &context.violations)
        return found
    }

    private func release(inclusive: Bool) {
        while true {
            let timer = context.timers.min.flatMap { $0.time <= watermark ? $0 : nil }
            let pending = buffer.min.flatMap { p in
                (p.time < watermark || (inclusive && p.time <= watermark)) ? p : nil
            }
            if let timer, pending.map({ timer.time <= $0.time }) ?? true {
                context.timers.popMin()
                fire(timer)
            } else if pending != nil {
                let p = buffer.popMin()!
                if tracksChanges { bufferChanges.processed(p.seq) }
                process(p.event, late: false)
            } else {
                break
            }
        }
        dedup.evict(before: watermark)
    }

    private func fire(_ timer: EngineContext.Timer) {
        if timer.evaluator < 0 {
            observer?.monthEnded(timer.time)
            let next = timer.time.startOfNextMonth
            nextMonthEnd = next
            context.schedule(at: next, evaluator: -1, payload: .monthEnd)
            return
        }
        counters.timersFired += 1
        context.now = timer.time
        evaluators[Int(timer.evaluator)].fire(timer.payload, at: timer.time, context)
        flushViolations()
    }

    private func process(_ event: Event, late: Bool) {
        counters.processed += 1
        context.now = event.time
        context.ledger.record(event)
        for evaluator in evaluatorsByType[Int(event.type.rawValue)] {
            evaluator.process(event, context)
        }
        observer?.processed(event, late: late)
        flushViolations()
        if context.timers.count >= compactTimersAt { compactTimers() }
    }

    /// The timer count at which timers that would fire for nothing are dropped: a retention clock restarted by every
    /// collect leaves its old timer behind, which would otherwise stay for the whole retention period. Twice the count
    /// left after each compaction, so the cost per timer stays constant; or sooner, when the heap's array is full and
    /// has a quarter of it free after the compaction: the heap then grows only when its live timers need it (a
    /// million customers' timers are tens of MB, and while the array doubles it is there twice).
    private var compactTimersAt = 65_536
    private func compactTimers() {
        context.timers.removeAll { $0.evaluator >= 0 && !evaluators[Int($0.evaluator)].isLive($0.payload, at: $0.time) }
        let live = context.timers.count
        if context.timers.capacity > 4 * Swift.max(live, 65_536) { context.timers.shrinkToFit() }
        let capacity = context.timers.capacity
        // An event can schedule a few timers at once: the check comes a little before the array is full.
        compactTimersAt = Swift.max(65_536, capacity >= live + live / 3 ? Swift.min(2 * live, capacity - 256) : 2 * live)
    }

    private var reported = 0
    private func flushViolations() {
        guard context.violations.count > reported else {
            reported = context.violations.count
            return
        }
        for v in context.violations[reported...] {
            counters.violations += 1
            observer?.violated(v)
        }
        reported = context.violations.count
    }

    private func makeEvaluator(_ rule: Rule, index: Int) -> RuleEvaluator {
        let position = evaluators.count
        switch rule.spec {
        case let .match(when, reason): return MatchEvaluator(rule: rule, index: position, when: when, reason: reason)
        case let .consent(when, grace): return ConsentEvaluator(rule: rule, index: position, when: when, grace: grace)
        case let .retention(categories, keep, from):
            return RetentionEvaluator(rule: rule, index: position, categories: categories, keep: keep, from: from,
                                      tree: pipeline.taxonomy.categories)
        case let .deadline(start, satisfiedBy, within, key):
            return DeadlineEvaluator(rule: rule, index: position, start: start, satisfiedBy: satisfiedBy, within: within, key: key)
        case let .threshold(when, groupBy, distinct, window, limit):
            return ThresholdEvaluator(rule: rule, index: position, when: when, groupBy: groupBy, distinct: distinct,
                                      window: window, limit: limit)
        case let .access(when, roles): return AccessEvaluator(rule: rule, index: position, when: when, roles: roles)
        }
    }
}

/// Remembers event ids whose time is within `window` of the watermark.
///
/// An id whose time fell behind the horizon (`watermark - window`) is forgotten: a later event with that id is new
/// again. Forgetting is checked when an id comes back, so the ids need no order; the map is swept now and then
/// (whenever the horizon moved by an eighth of the window, at least 10 minutes) so that memory follows the window.
struct DedupWindow {
    let window: Duration
    let seen = SeenIDs()
    private var horizon = Timestamp.distantPast
    private var nextSweep = Timestamp.distantPast
    private let sweepEvery: Duration
    /// The hashes of the ids inserted, by period of `sweepEvery` of their time: a sweep visits the periods wholly
    /// behind the horizon instead of rebuilding `seen` (which rehashed every id kept, on every sweep). An id in a period
    /// that the horizon cuts waits for the next sweep; `insert` checks the horizon itself, so when ids go makes no
    /// difference.
    private var periods: [Int64: [UInt64]] = [:]
    private var openPeriod = Int64.min
    private var openIDs: [UInt64] = []

    init(window: Duration) {
        self.window = window
        sweepEvery = Duration(microseconds: Swift.max(window.microseconds / 8, Duration.minutes(10).microseconds))
    }

    /// False when the id was already seen within the window.
    mutating func insert(_ id: String, time: Timestamp) -> Bool {
        let hash = SeenIDs.hash(id)
        guard seen.insert(id, hash: hash, time: time, horizon: horizon) else { return false }
        note(hash, time: time)
        if tracksChanges { log.ids.append((id, time)) }
        return true
    }

    // MARK: Persistence: the ids a batch inserted are one stored row, not a row each.

    /// Set while a durable store follows the window: inserted ids are kept for `takeChanges()`.
    var tracksChanges = false
    private var log = DedupLog()
    /// The stored logs, by number, with the latest time each holds: one wholly behind the horizon can go.
    private var storedLogs: [(number: UInt64, newest: Timestamp)] = []
    private var nextLogNumber: UInt64 = 1
    /// Ids restored from rows of one id each (written by versions before the logs): removed at the next take, their
    /// ids then going into that take's log.
    private var legacyIDs: [String] = []

    /// The namespace of logs: each row is the ids a batch inserted, keyed by its number.
    static let logNamespace = "dedup-log"
    /// The namespace of the rows of one id each that earlier versions wrote.
    static let legacyNamespace = "dedup"

    /// The rows changed since the last call: a new log of the ids inserted since, the deletion of logs wholly behind
    /// the horizon and of rows in the earlier format.
    mutating func takeChanges() -> [StateChange] {
        var out: [StateChange] = []
        if !legacyIDs.isEmpty {
            for id in legacyIDs {
                out.append(StateChange(namespace: Self.legacyNamespace, key: id, value: nil))
                if let time = seen.time(of: id), time >= horizon { log.ids.append((id, time)) }
            }
            legacyIDs = []
        }
        let horizon = self.horizon
        storedLogs.removeAll { stored in
            guard stored.newest < horizon else { return false }
            out.append(StateChange(namespace: Self.logNamespace, key: String(stored.number), value: nil))
            return true
        }
        if let newest = log.ids.lazy.map(\.1).max() {
            out.append(StateChange(namespace: Self.logNamespace, key: String(nextLogNumber), value: log.encoded))
            storedLogs.append((nextLogNumber, newest))
            nextLogNumber += 1
            log.ids.removeAll(keepingCapacity: true)
        }
        return out
    }

    /// Puts back the logs (`dedup-log` rows, in any order) and the rows of one id each loaded from a store; then
    /// `watermark` sets the horizon, as it was when they were written.
    mutating func restore(logs: [(key: String, value: [UInt8])], legacy: [(id: String, time: Timestamp)],
                          watermark: Timestamp) throws(DedupLogError) {
        var numbered: [(UInt64, [(String, Timestamp)])] = []
        for (key, value) in logs {
            guard let number = UInt64(key) else { throw DedupLogError(description: "bad log number \(key)") }
            numbered.append((number, try DedupLog.decode(value)))
        }
        // Later logs win: an id inserted again once behind the horizon has its later time in the later log.
        for (number, ids) in numbered.sorted(by: { $0.0 < $1.0 }) {
            for (id, time) in ids { restore(id, time: time) }
            storedLogs.append((number, ids.lazy.map(\.1).max() ?? .distantPast))
            nextLogNumber = Swift.max(nextLogNumber, number + 1)
        }
        for (id, time) in legacy {
            restore(id, time: time)
            legacyIDs.append(id)
        }
        evict(before: watermark)
    }

    /// Most ids fall in the period of the one before: those gather in `openIDs`, without a hash look-up each.
    private mutating func note(_ hash: UInt64, time: Timestamp) {
        let period = period(of: time)
        if period != openPeriod {
            closeOpenPeriod()
            openPeriod = period
        }
        openIDs.append(hash)
    }

    private mutating func closeOpenPeriod() {
        guard !openIDs.isEmpty else { return }
        periods[openPeriod, default: []].append(contentsOf: openIDs)
        openIDs.removeAll(keepingCapacity: true)
    }

    mutating func evict(before watermark: Timestamp) {
        horizon = watermark - window
        guard horizon >= nextSweep else { return }
        let horizon = self.horizon
        // Periods that end at or before the horizon hold only ids older than it.
        let limit = period(of: horizon)
        closeOpenPeriod()
        for key in periods.keys.filter({ $0 < limit }) {
            for hash in periods.removeValue(forKey: key)! {
                seen.removeStale(hash: hash, before: horizon)
            }
        }
        nextSweep = horizon + sweepEvery
    }

    /// Puts back an id loaded from a store.
    mutating func restore(_ id: String, time: Timestamp) {
        seen.set(id, time: time)
        note(SeenIDs.hash(id), time: time)
    }

    private func period(of time: Timestamp) -> Int64 {
        let (q, r) = time.microseconds.quotientAndRemainder(dividingBy: sweepEvery.microseconds)
        return r < 0 ? q - 1 : q
    }

    var count: Int { seen.count }
}

/// A stored log could not be read.
struct DedupLogError: Error, CustomStringConvertible {
    var description: String
}

/// Ids with their event times, as one row: a version byte (1), then for each id its time (8 bytes, little-endian
/// microseconds), its length (4 bytes, little-endian) and its UTF-8 bytes (`StateBytes`).
struct DedupLog {
    var ids: [(String, Timestamp)] = []

    var encoded: [UInt8] {
        var out = StateBytes.Writer(version: 1, capacity: 1 + ids.count * 32)
        for (id, time) in ids {
            out.int64(time.microseconds)
            out.string(id)
        }
        return out.bytes
    }

    static func decode(_ bytes: [UInt8]) throws(DedupLogError) -> [(String, Timestamp)] {
        guard var reader = StateBytes.Reader(bytes, version: 1) else { throw DedupLogError(description: "unknown log version") }
        var ids: [(String, Timestamp)] = []
        while !reader.atEnd {
            guard let time = reader.int64(), let id = reader.string() else { throw DedupLogError(description: "log cut short") }
            ids.append((id, Timestamp(microseconds: time)))
        }
        return ids
    }
}
