import Events
import Foundation

/// One keyed piece of engine state, as a durable store keeps it: `value` nil means deleted.
public struct StateChange: Sendable, Hashable {
    public var namespace: String
    public var key: String
    public var value: [UInt8]?

    public init(namespace: String, key: String, value: [UInt8]?) {
        self.namespace = namespace
        self.key = key
        self.value = value
    }
}

/// Turns the engine's state into keyed rows and back, so a store can persist what a batch changed and a new owner
/// of a partition can resume exactly where the old one stopped.
///
/// Namespaces: `engine` (watermark and counters), `buffer` (events waiting for the watermark), `dedup-log` (the event
/// ids each batch inserted; `dedup`, one row per id, is still read),
/// `consent` (decisions by subject), and `rule:<id>` for each rule's own state. Timers are not stored: they follow
/// from the clocks and windows and are scheduled again on restore.
extension Engine {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    struct ClockRecord: Codable, Equatable {
        var watermark: Timestamp
        var maxEventTime: Timestamp?
        var arrivals: UInt64
        var nextMonthEnd: Timestamp?
        var generation: UInt64
    }

    /// Starts keeping the keys that change, for `takeStateChanges()`; buffered events are recorded from now on.
    public func trackChanges() {
        tracksChanges = true
        dedup.tracksChanges = true
        context.ledger.tracksChanges = true
        for e in evaluators { e.persistence.tracksChanges = true }
        // Events restored from the store are there already; any buffered before are not.
        for p in buffer.items where p.seq > storedBufferThrough { bufferChanges.buffered(p.seq, p.event) }
        storedClock = clockRecord
    }

    var clockRecord: ClockRecord {
        ClockRecord(watermark: watermark, maxEventTime: maxEventTime, arrivals: arrivals, nextMonthEnd: nextMonthEnd,
                    generation: context.generation)
    }

    /// Every row changed since the last call (the clock row only when the clock moved: a restored engine, or one
    /// with nothing new since, writes nothing).
    public func takeStateChanges() -> [StateChange] {
        var out: [StateChange] = []
        let clock = clockRecord
        if clock != storedClock {
            out.append(StateChange(namespace: "engine", key: "clock", value: Self.bytes(clock)))
            storedClock = clock
        }
        out += bufferChanges.take()
        out += dedup.takeChanges()
        for (k, list) in context.ledger.takeChanges() {
            out.append(StateChange(namespace: "consent", key: k,
                                   value: DecisionList(list.map { DecisionRecord($0, uses: pipeline.taxonomy.uses) }).bytes))
        }
        for e in evaluators {
            let ns = "rule:" + e.rule.id
            for (k, v) in e.persistence.takeChanges() { out.append(StateChange(namespace: ns, key: k, value: v)) }
        }
        return out
    }

    /// Loads rows written by `takeStateChanges()` into a fresh engine, and schedules the timers they imply.
    /// Rows of rules that no longer exist are ignored; a row that cannot be read is an error.
    public func restore(_ rows: [StateChange]) throws(RuleError) {
        let decoder = JSONDecoder()
        let eventDecoder = EventDecoder(taxonomy: pipeline.taxonomy)
        let byRule = Dictionary(evaluators.map { ("rule:" + $0.rule.id, $0) }, uniquingKeysWith: { a, _ in a })
        var buffered: [(UInt64, Event)] = []
        var dedupLogs: [(key: String, value: [UInt8])] = []
        var legacyIDs: [(id: String, time: Timestamp)] = []
        for row in rows {
            guard let value = row.value else { continue }
            func fail(_ why: String) -> RuleError {
                RuleError(.schema, "stored state \(row.namespace)/\(row.key) cannot be read: \(why)")
            }
            switch row.namespace {
            case "engine":
                guard let c = try? decoder.decode(ClockRecord.self, from: Data(value)) else { throw fail("not a clock record") }
                watermark = c.watermark
                maxEventTime = c.maxEventTime
                arrivals = c.arrivals
                context.generation = Swift.max(context.generation, c.generation)
                if let end = c.nextMonthEnd {
                    nextMonthEnd = end
                    context.schedule(at: end, evaluator: -1, payload: .monthEnd)
                }
            case "buffer":
                guard let seq = UInt64(row.key) else { throw fail("bad arrival number") }
                let decoded = value.withUnsafeBytes { eventDecoder.decode($0) }
                switch decoded {
                case .success(let e): buffered.append((seq, e))
                case .failure(let e): throw fail(e.message)
                }
            case DedupWindow.logNamespace:
                dedupLogs.append((row.key, value))
            case DedupWindow.legacyNamespace:
                guard let us = Int64(String(decoding: value, as: UTF8.self)) else { throw fail("bad time") }
                legacyIDs.append((row.key, Timestamp(microseconds: us)))
            case "consent":
                guard let records = try? DecisionList.read(value, decoder: decoder).records else { throw fail("not consent decisions") }
                var list: [ConsentLedger.Decision] = []
                for r in records {
                    guard let d = r.decision(pipeline.taxonomy) else { throw fail("unknown purpose \(r.purpose)") }
                    list.append(d)
                }
                context.ledger.restore(row.key, list)
            default:
                guard let evaluator = byRule[row.namespace] else { continue }
                do {
                    try evaluator.persistence.restore(key: row.key, value: value, taxonomy: pipeline.taxonomy, decoder: decoder)
                } catch {
                    throw fail("\(error)")
                }
            }
        }
        do {
            try dedup.restore(logs: dedupLogs, legacy: legacyIDs, watermark: watermark)
        } catch {
            throw RuleError(.schema, "stored state \(DedupWindow.logNamespace) cannot be read: \(error)")
        }
        for (seq, event) in buffered.sorted(by: { $0.0 < $1.0 }) {
            buffer.insert(Pending(event: event, seq: seq))
            storedBufferThrough = max(storedBufferThrough, seq)
        }
        // New events must never reuse a stored event's number (its row would be overwritten, not deleted).
        arrivals = max(arrivals, storedBufferThrough)
        for e in evaluators { e.persistence.scheduleTimers(context, evaluator: e) }
    }

    static func bytes<T: Encodable>(_ value: T) -> [UInt8] {
        // Encoding plain records of strings and integers cannot fail.
        Array((try? encoder.encode(value)) ?? Data())
    }
}

struct DecisionRecord: Codable {
    var time: Timestamp
    var purpose: String
    var status: String
    var source: String?
    var event: String

    init(_ d: ConsentLedger.Decision, uses: Taxonomy.Tree) {
        time = d.time
        purpose = d.purpose(in: uses).key
        status = d.status.description
        source = d.source?.string
        event = d.event
    }

    init(time: Timestamp, purpose: String, status: String, source: String?, event: String) {
        self.time = time
        self.purpose = purpose
        self.status = status
        self.source = source
        self.event = event
    }

    func decision(_ taxonomy: Taxonomy) -> ConsentLedger.Decision? {
        guard let node = taxonomy.uses.node(purpose) else { return nil }
        return ConsentLedger.Decision(time: time, purpose: node, status: status == "granted" ? .granted : .withdrawn,
                                      source: source.map(Symbol.init), event: event)
    }
}

/// How one rule's state is stored and restored.
protocol RulePersistence: AnyObject {
    var tracksChanges: Bool { get set }
    func takeChanges() -> [(String, [UInt8]?)]
    func restore(key: String, value: [UInt8], taxonomy: Taxonomy, decoder: JSONDecoder) throws
    func scheduleTimers(_ context: EngineContext, evaluator: RuleEvaluator)
}

/// Keyed state a `KeyedPersistence` can store and restore.
protocol StoredKeyedState: AnyObject {
    associatedtype Value
    var tracksChanges: Bool { get set }
    /// The keys changed since the last call, with their values (nil = removed).
    func takeChanges() -> [(String, Value?)]
    /// Puts a value loaded from a store, without marking it changed.
    func restore(_ key: String, _ value: Value)
    func forEachStored(_ body: (String, Value) -> Void)
}

extension KeyedState: StoredKeyedState where Key == String {
    func forEachStored(_ body: (String, Value) -> Void) {
        for key in keys { body(key, self[key]!) }
    }
}

/// Persistence of a `KeyedState` whose values convert to and from a stored record.
final class KeyedPersistence<State: StoredKeyedState, Record: StoredRecord>: RulePersistence {
    typealias Value = State.Value
    let state: State
    let toRecord: (Value) -> Record
    let fromRecord: (Record, Taxonomy) throws -> Value
    let timers: (String, Value, EngineContext) -> Void

    init(
        _ state: State, toRecord: @escaping (Value) -> Record,
        fromRecord: @escaping (Record, Taxonomy) throws -> Value, timers: @escaping (String, Value, EngineContext) -> Void
    ) {
        self.state = state
        self.toRecord = toRecord
        self.fromRecord = fromRecord
        self.timers = timers
    }

    var tracksChanges: Bool {
        get { state.tracksChanges }
        set { state.tracksChanges = newValue }
    }

    func takeChanges() -> [(String, [UInt8]?)] {
        state.takeChanges().map { ($0.0, $0.1.map { toRecord($0).bytes }) }
    }

    func restore(key: String, value: [UInt8], taxonomy: Taxonomy, decoder: JSONDecoder) throws {
        state.restore(key, try fromRecord(try Record.read(value, decoder: decoder), taxonomy))
    }

    func scheduleTimers(_ context: EngineContext, evaluator: RuleEvaluator) {
        state.forEachStored { key, value in timers(key, value, context) }
    }
}

/// Persistence for rules without state (match, consent, access).
final class NoPersistence: RulePersistence {
    var tracksChanges = false
    func takeChanges() -> [(String, [UInt8]?)] { [] }
    func restore(key: String, value: [UInt8], taxonomy: Taxonomy, decoder: JSONDecoder) throws {}
    func scheduleTimers(_ context: EngineContext, evaluator: RuleEvaluator) {}
}

struct PersistenceError: Error, CustomStringConvertible {
    var description: String
}

/// The event-time buffer's rows to write (namespace `buffer`, keyed by arrival number): events buffered since the
/// last checkpoint and still waiting, and the arrival numbers of stored ones processed since. Only these are kept,
/// not a second copy of every buffered event.
struct BufferChanges {
    private var added: [UInt64: Event] = [:]
    private var removed: [UInt64] = []

    mutating func buffered(_ seq: UInt64, _ event: Event) { added[seq] = event }

    /// An event buffered and processed between two checkpoints is no change at all.
    mutating func processed(_ seq: UInt64) {
        if added.removeValue(forKey: seq) == nil { removed.append(seq) }
    }

    mutating func take() -> [StateChange] {
        defer {
            added = [:]
            removed = []
        }
        var out: [StateChange] = []
        out.reserveCapacity(added.count + removed.count)
        for (seq, event) in added.sorted(by: { $0.key < $1.key }) {
            out.append(StateChange(namespace: "buffer", key: String(seq), value: event.json.bytes))
        }
        for seq in removed { out.append(StateChange(namespace: "buffer", key: String(seq), value: nil)) }
        return out
    }
}
